"""Reading a saved session back: `read_transcript` replays a transcript into a `LoadedTranscript`.

A truncated or corrupt file resumes up to its last whole message with one warning. Separate from the
writer (the format both follow is in `records`) and from `resume`, which puts what was read into a live
conversation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.engine.transcript.records import Message, content_blocks, parse_line


@dataclass
class LoadedTranscript:
    session_id: str
    path: Path
    messages: list[Message] = field(default_factory=list)
    uuids: list[str] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    warning: str | None = None
    total_cost_usd: float = 0.0  # the session's spend before this resume (the last "cost" record)
    model_usage: dict[str, Any] = field(default_factory=dict)
    displays: dict[int, str] = field(default_factory=dict)  # message index -> what the user typed for it
    pending_display: str | None = None


def read_transcript(path: Path) -> LoadedTranscript:
    """Replay a transcript. Stops at the first line that is not a whole, well-formed record (a crash
    mid-write, a damaged file) and says so once in `warning`."""
    loaded = LoadedTranscript(path.stem, path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        record = parse_line(raw)
        last = number == len(lines)  # no newline after it: cut off mid-write
        if record is None or last:
            loaded.warning = (f"The saved session {path.name} is damaged at line {number}; resumed up to its "
                              f"last whole message ({len(loaded.messages)} messages)")
            break
        _apply(loaded, record)
    return loaded


def _apply(loaded: LoadedTranscript, record: dict[str, Any]) -> None:
    kind = record["type"]
    if kind in ("user", "assistant"):
        if kind == "user" and loaded.pending_display is not None and _has_text(record["message"]["content"]):
            loaded.displays[len(loaded.messages)] = loaded.pending_display
            loaded.pending_display = None
        loaded.messages.append({"role": kind, "content": record["message"]["content"]})
        loaded.uuids.append(str(record.get("uuid") or uuid.uuid4()))
    elif kind == "prompt" and isinstance(record.get("display"), str):
        loaded.pending_display = record["display"]
    elif kind == "rewind":
        keep = record["keep"]
        if keep < len(loaded.messages) and keep in loaded.displays and loaded.pending_display is None:
            loaded.pending_display = loaded.displays[keep]  # a merged message is written again below
        del loaded.messages[keep:], loaded.uuids[keep:]
        loaded.displays = {i: d for i, d in loaded.displays.items() if i < keep}
    elif kind == "scheduled_tasks" and isinstance(record.get("tasks"), list):
        loaded.tasks = [t for t in record["tasks"] if isinstance(t, dict)]
    elif kind == "cost" and isinstance(record.get("totalCostUsd"), (int, float)):
        loaded.total_cost_usd = float(record["totalCostUsd"])
        usage = record.get("modelUsage")
        loaded.model_usage = usage if isinstance(usage, dict) else {}


def _has_text(content: Any) -> bool:
    return any(b.get("type") == "text" and str(b.get("text", "")).strip() for b in content_blocks(content))
