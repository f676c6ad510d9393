"""The saved sessions of a project: listing them (newest first, with their first prompt) and choosing
the one `--continue`, `--resume` or `--session-id` names.

Separate from reading a whole transcript: a list reads each file only as far as its first prompt.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.engine.transcript.records import (
    content_blocks,
    is_session_id,
    new_session_id,
    parse_line,
    sessions_dir,
    transcript_path,
)


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
                record = parse_line(raw)
                if record is None:
                    continue
                if record["type"] == "session" and record.get("kind") in ("chat", "print"):
                    kind = record["kind"]
                elif record["type"] == "prompt" and isinstance(record.get("display"), str):
                    return kind, " ".join(record["display"].split())
                elif record["type"] == "user":
                    text = "\n".join(b.get("text", "") for b in content_blocks(record["message"]["content"])
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
