"""The on-disk format of saved sessions: where a transcript lives, its session id, what a line is.

`<state>/projects/<project slug>/<session id>.jsonl` (`transcript_path`), mode 0600, appended one whole
line per write, so a crash loses at most the message in flight. Lines:

    {"type": "session", "sessionId", "cwd", "timestamp", "kind"}    first line; kind: chat | print
    {"type": "prompt", "display": "/check foo"}   what the user typed, before the message it became
    {"type": "user" | "assistant", "message": {"role", "content"}, "uuid", "parentUuid", "sessionId",
     "timestamp", "cwd"}                                                           one per message
    {"type": "rewind", "keep": N}         the history was changed in place (a merge, a rollback,
                                          compaction): keep the first N messages, the next lines follow
    {"type": "scheduled_tasks", "tasks": [...]}   the session-only scheduled tasks, whenever they change
    {"type": "cost", "totalCostUsd", "modelUsage"}  the session's spend so far, after each `-p` result, so
                                          `--resume` reports a cumulative `total_cost_usd` as Claude Code does

Separate from the writer and the readers because both sides must agree on it: `parse_line` is the one
definition of a well-formed record, used by the replay and by the session list alike.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.settings import project_state_dir

Message = dict[str, Any]
SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_session_id() -> str:
    return str(uuid.uuid4())


def is_session_id(text: str) -> bool:
    return bool(SESSION_ID.fullmatch(text))


def sessions_dir(project_dir: Path, env: Mapping[str, str]) -> Path:
    return project_state_dir(project_dir, env)


def transcript_path(project_dir: Path, env: Mapping[str, str], session_id: str) -> Path:
    """Where the transcript of `session_id` in `project_dir` is (or will be) kept."""
    return sessions_dir(project_dir, env) / f"{session_id}.jsonl"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_line(raw: bytes) -> dict[str, Any] | None:
    """One line's record, or None when it is not a whole, well-formed one."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # damaged: the replay stops there
        return None
    if not isinstance(record, dict) or not isinstance(record.get("type"), str):
        return None
    if record["type"] in ("user", "assistant"):
        message = record.get("message")
        if not isinstance(message, dict) or message.get("role") != record["type"] \
                or not isinstance(message.get("content"), (str, list)):
            return None
    if record["type"] == "rewind" and not isinstance(record.get("keep"), int):
        return None
    return record


def content_blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content as blocks (a plain string is one text block)."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
