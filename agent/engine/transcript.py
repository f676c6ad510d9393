"""Saved sessions: one JSON-lines transcript per session, written as the conversation goes.

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

`read_transcript` replays them; a truncated or corrupt file resumes up to its last whole message with
one warning. Other code learns where a conversation is saved with `transcript_path_of(conversation)`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.jsonfile import replace_lone_surrogates
from agent.settings import project_state_dir
from agent.settings.private import open_private

log = logging.getLogger(__name__)

Message = dict[str, Any]
SESSION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
NOT_RUN = "Not run: the session ended before this tool call finished."


def new_session_id() -> str:
    return str(uuid.uuid4())


def is_session_id(text: str) -> bool:
    return bool(SESSION_ID.fullmatch(text))


def sessions_dir(project_dir: Path, env: Mapping[str, str]) -> Path:
    return project_state_dir(project_dir, env)


def transcript_path(project_dir: Path, env: Mapping[str, str], session_id: str) -> Path:
    """Where the transcript of `session_id` in `project_dir` is (or will be) kept."""
    return sessions_dir(project_dir, env) / f"{session_id}.jsonl"


def transcript_path_of(conversation: Any) -> Path | None:
    """The transcript a conversation is being saved to; None when it is not saved."""
    writer = getattr(conversation, "transcript", None)
    return writer.path if writer is not None else None


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TranscriptWriter:
    """Appends a conversation's history to its transcript. `sync(history)` after every change."""

    def __init__(self, path: Path, session_id: str, *, cwd: Path, session_store: Any = None,
                 kind: str = "chat") -> None:
        self.path, self.session_id, self.cwd, self.kind = path, session_id, str(cwd), kind
        self.session_store = session_store
        self._written: list[Message] = []  # the message objects already on disk, in order
        self._uuids: list[str] = []
        self._broken = False
        self._tasks_revision: int | None = None

    def adopt(self, history: list[Message], uuids: list[str] | None = None) -> None:
        """The file already holds `history` (a resumed session): write only what comes after it."""
        self._written = list(history)
        self._uuids = list(uuids or [str(uuid.uuid4()) for _ in history])
        store = self.session_store
        self._tasks_revision = getattr(store, "revision", None)

    def note_prompt(self, display: str) -> None:
        """What the user typed (`/check foo`, `!ls`), shown when the session is listed or resumed in place
        of the message it becomes (the command's expansion, the shell's output)."""
        if self._broken:
            return
        try:
            self._append({"type": "prompt", "display": display, "timestamp": _now_iso()})
        except OSError as exc:
            self._broken = True
            log.warning("cannot save the session to %s (%s)", self.path, exc.strerror or exc)

    def sync(self, history: list[Message]) -> None:
        """Write what changed since the last sync. Never raises: a full disk must not end the turn."""
        if self._broken:
            return
        try:
            self._sync(history)
            self._sync_tasks()
        except OSError as exc:
            self._broken = True
            log.warning("cannot save the session to %s (%s); this session will not be resumable", self.path,
                        exc.strerror or exc)

    def record_cost(self, total_cost_usd: float, model_usage: dict[str, Any]) -> None:
        """The session's spend so far; never raises (like `sync`)."""
        if self._broken:
            return
        try:
            self._append({"type": "cost", "totalCostUsd": total_cost_usd, "modelUsage": model_usage,
                          "timestamp": _now_iso()})
        except OSError as exc:
            self._broken = True
            log.warning("cannot save the session to %s (%s)", self.path, exc.strerror or exc)

    def _sync(self, history: list[Message]) -> None:
        keep = 0
        while keep < min(len(history), len(self._written)) and history[keep] is self._written[keep]:
            keep += 1
        if keep < len(self._written):
            self._append({"type": "rewind", "keep": keep, "timestamp": _now_iso()})
            del self._written[keep:], self._uuids[keep:]
        for message in history[keep:]:
            line_id = str(uuid.uuid4())
            self._append({"type": message.get("role", "user"),
                          "message": {"role": message.get("role"), "content": message.get("content")},
                          "uuid": line_id, "parentUuid": self._uuids[-1] if self._uuids else None,
                          "sessionId": self.session_id, "timestamp": _now_iso(), "cwd": self.cwd})
            self._written.append(message)
            self._uuids.append(line_id)

    def _sync_tasks(self) -> None:
        store = self.session_store
        revision = getattr(store, "revision", None)
        if store is None or revision == self._tasks_revision:
            return
        tasks = [task.to_json_dict() for task in store.load().tasks]
        if tasks or self._tasks_revision is not None:
            self._append({"type": "scheduled_tasks", "tasks": tasks, "timestamp": _now_iso()})
        self._tasks_revision = revision

    def _append(self, record: dict[str, Any]) -> None:
        """One whole line per write. The file is opened for each write, so a daemon that makes a
        conversation per fire never piles up open descriptors."""
        lines = [record]
        if not self.path.exists():
            lines.insert(0, {"type": "session", "sessionId": self.session_id, "cwd": self.cwd,
                             "timestamp": _now_iso(), "kind": self.kind})
        fd = open_private(self.path)  # 0600 in a 0700 folder, an old file tightened
        try:
            for line in lines:
                text = replace_lone_surrogates(json.dumps(line, ensure_ascii=False))  # a non-UTF-8 cwd, say
                os.write(fd, (text + "\n").encode("utf-8"))
        finally:
            os.close(fd)


# ------------------------------------------------------------------------------------- reading


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
        record = _parse_line(raw)
        last = number == len(lines)  # no newline after it: cut off mid-write
        if record is None or last:
            loaded.warning = (f"The saved session {path.name} is damaged at line {number}; resumed up to its "
                              f"last whole message ({len(loaded.messages)} messages)")
            break
        _apply(loaded, record)
    return loaded


def _parse_line(raw: bytes) -> dict[str, Any] | None:
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


def repaired_history(messages: list[Message]) -> list[Message]:
    """A history the API accepts: consecutive messages of one role merged, and tool calls left without
    results (the session ended mid-call) answered as not run. The input's message objects are kept
    where nothing changes, so a writer that adopted them only appends the repair."""
    out: list[Message] = []
    for message in messages:
        if out and out[-1]["role"] == message["role"]:
            out[-1] = {**out[-1], "content": [*_blocks(out[-1]["content"]), *_blocks(message["content"])]}
        else:
            out.append(message)
    if out and out[-1]["role"] == "assistant":
        open_ids = [b["id"] for b in _blocks(out[-1]["content"]) if b.get("type") == "tool_use"]
        if open_ids:
            out.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": i, "content": NOT_RUN,
                                                     "is_error": True} for i in open_ids]})
    while out and out[0]["role"] != "user":  # the API wants the user to speak first
        out.pop(0)
    return out


def resume_into(conversation: Any, loaded: LoadedTranscript, *, fork: bool = False) -> None:
    """Give a fresh conversation the history of a saved session; its writer continues that file (with
    `fork`, the writer's own new file gets the whole history and the saved session stays as it was)."""
    history = repaired_history(loaded.messages)
    if conversation.transcript is not None:
        if not fork:
            conversation.transcript.adopt(loaded.messages, loaded.uuids)
        conversation.transcript.sync(history)
    conversation.history = history


def restore_session_tasks(cron: Any, tasks: list[dict[str, Any]], now_ms: int) -> tuple[list[str], list[str]]:
    """Put a resumed session's session-only scheduled tasks back, unless they have expired (a recurring
    task past its maximum age, a one-shot whose time has passed). Returns (restored ids, dropped ids)."""
    from pydantic import ValidationError

    from agent.cron.jitter import is_aged, one_shot_fire
    from agent.cron.store import TaskLimitError
    from agent.cron.task import CronTask

    cfg, restored, dropped = cron.jitter_config(), [], []
    for data in tasks:
        try:
            task = CronTask.from_json_dict(data)
        except ValidationError:
            continue
        fire = None if task.recurring else one_shot_fire(task.cron, task.createdAt, task.id, cfg, cron.tz)
        if is_aged(task, now_ms, cfg) or (not task.recurring and (fire is None or fire <= now_ms)):
            dropped.append(task.id)
            continue
        try:
            cron.session_store.add(task)
        except (TaskLimitError, ValueError):
            dropped.append(task.id)
            continue
        restored.append(task.id)
    return restored, dropped


def _has_text(content: Any) -> bool:
    return any(b.get("type") == "text" and str(b.get("text", "")).strip() for b in _blocks(content))


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


# ------------------------------------------------------------------------------------- listing


@dataclass
class SessionInfo:
    session_id: str
    path: Path
    modified: float
    size: int
    first_prompt: str
    kind: str = "chat"  # chat | print (agent -p) | scheduled (a run nobody typed)


def list_sessions(project_dir: Path, env: Mapping[str, str]) -> list[SessionInfo]:
    """This project's saved sessions, newest first."""
    found = []
    folder = sessions_dir(project_dir, env)
    for path in folder.glob("*.jsonl") if folder.is_dir() else []:
        if not is_session_id(path.stem):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        kind, prompt = session_summary(path)
        found.append(SessionInfo(path.stem, path, stat.st_mtime, stat.st_size, prompt, kind))
    return sorted(found, key=lambda s: s.modified, reverse=True)


def first_prompt(path: Path) -> str:
    """What the user first typed (reading only as far as it)."""
    return session_summary(path)[1]


def session_summary(path: Path) -> tuple[str, str]:
    """(kind, first prompt as typed) of a saved session, reading only as far as its first prompt."""
    from agent.engine.transcript_view import display_text, is_scheduled_text

    kind = "chat"
    try:
        with path.open("rb") as lines:
            for raw in lines:
                record = _parse_line(raw)
                if record is None:
                    continue
                if record["type"] == "session" and record.get("kind") in ("chat", "print"):
                    kind = record["kind"]
                elif record["type"] == "prompt" and isinstance(record.get("display"), str):
                    return kind, " ".join(record["display"].split())
                elif record["type"] == "user":
                    text = "\n".join(b.get("text", "") for b in _blocks(record["message"]["content"])
                                     if b.get("type") == "text")
                    if text.strip():
                        return ("scheduled" if is_scheduled_text(text) else kind), " ".join(display_text(text).split())
    except OSError:
        return kind, ""
    return kind, ""


def find_session(project_dir: Path, env: Mapping[str, str], wanted: str) -> SessionInfo | None:
    """The session whose id is `wanted` or starts with it (when that is unambiguous)."""
    sessions = list_sessions(project_dir, env)
    exact = [s for s in sessions if s.session_id == wanted]
    matches = exact or [s for s in sessions if wanted and s.session_id.startswith(wanted)]
    return matches[0] if len(matches) == 1 else None


class SessionChoiceError(Exception):
    """--continue / --resume / --session-id cannot be honoured; the message says why and what to do."""


def choose_session(project_dir: Path, env: Mapping[str, str], *, continue_latest: bool = False,
                   resume: str | None = None, session_id: str | None = None) -> tuple[str, Path | None]:
    """The session id to use and, when resuming, the transcript to resume from."""
    if sum((continue_latest, bool(resume), bool(session_id))) > 1:
        raise SessionChoiceError("use only one of --continue, --resume and --session-id")
    if session_id:
        if not is_session_id(session_id.lower()):
            raise SessionChoiceError(f"--session-id {session_id!r} is not a UUID (e.g. {new_session_id()})")
        if transcript_path(project_dir, env, session_id.lower()).exists():
            raise SessionChoiceError(f"session {session_id} already exists here; resume it with --resume")
        return session_id.lower(), None
    if continue_latest:
        sessions = list_sessions(project_dir, env)
        if not sessions:
            raise SessionChoiceError("no saved session in this project to continue; start one with agent")
        return sessions[0].session_id, sessions[0].path
    if resume:
        found = find_session(project_dir, env, resume)
        if found is None:
            raise SessionChoiceError(f"no saved session {resume!r} in this project (agent --resume lists them)")
        return found.session_id, found.path
    return new_session_id(), None


def describe_age(modified: float, now: float | None = None) -> str:
    seconds = max(0, int((now if now is not None else time.time()) - modified))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def describe_size(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"


__all__ = [
    "LoadedTranscript",
    "SessionChoiceError",
    "SessionInfo",
    "TranscriptWriter",
    "choose_session",
    "describe_age",
    "describe_size",
    "find_session",
    "first_prompt",
    "is_session_id",
    "list_sessions",
    "new_session_id",
    "read_transcript",
    "repaired_history",
    "restore_session_tasks",
    "resume_into",
    "transcript_path",
    "transcript_path_of",
]
