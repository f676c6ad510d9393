"""`agent --continue` / `agent --resume [ID]`: which saved session the chat starts from.

Chosen before the chat starts (`agent -r`: the arrow-key picker of session_picker, erased when done;
`agent -c`: the newest chat session, never a `-p` run). The chat then loads the transcript in its
background start-up (`loading.load_chat`) and shows the last messages (resume_view) above the prompt.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from agent.engine.transcript import (
    LoadedTranscript,
    SessionChoiceError,
    choose_session,
    list_sessions,
    read_transcript,
    restore_session_tasks,
)

if TYPE_CHECKING:
    from agent.engine.session import AgentSession

def resolve_chat_session(args: argparse.Namespace, project: Path, env: Mapping[str, str],
                         out: TextIO) -> tuple[str, Path | None]:
    """The session id for the chat and the transcript to resume (None: a new session).
    Raises SessionChoiceError with a one-line reason."""
    resume = getattr(args, "resume", None)
    if resume == "":
        from agent.repl.session_picker import pick_session

        sessions = list_sessions(project, env)
        if not sessions:
            raise SessionChoiceError("no saved session in this project yet; start one with agent")
        chosen = pick_session(sessions)
        if chosen is None:
            return choose_session(project, env)
        return chosen.session_id, chosen.path
    if getattr(args, "continue_session", False) and not resume and not getattr(args, "session_id", None):
        chats = [s for s in list_sessions(project, env) if s.kind == "chat"]  # not the last -p run
        if not chats:
            raise SessionChoiceError("no saved chat session in this project to continue; start one with agent")
        return chats[0].session_id, chats[0].path
    return choose_session(project, env, continue_latest=bool(getattr(args, "continue_session", False)),
                          resume=resume, session_id=getattr(args, "session_id", None))


def load_resumed(session: AgentSession, path: Path) -> tuple[LoadedTranscript | None, str | None, str]:
    """Read the transcript to resume and put its unexpired session-only scheduled tasks back (in a worker
    thread: nothing is printed here). Returns it, the one warning to show (a damaged file) or why it
    cannot be read, and the line that says what was resumed."""
    try:
        loaded = read_transcript(path)
    except OSError as exc:
        return None, f"Cannot resume {path}: {exc.strerror or exc}; starting a new conversation.", ""
    restored, dropped = restore_session_tasks(session.cron, loaded.tasks, int(time.time() * 1000))
    tasks = f"; {len(restored)} session scheduled task(s) back" if restored else ""
    expired = f", {len(dropped)} expired and not restored" if dropped else ""
    line = f"Resumed session {loaded.session_id} ({len(loaded.messages)} messages{tasks}{expired})."
    return loaded, loaded.warning, line


def first_text(messages: list[dict], role: str, *, last: bool = False) -> str:
    """The text of the first (or last) message of `role` that has text."""
    ordered = reversed(messages) if last else iter(messages)
    for message in ordered:
        if message["role"] != role:
            continue
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        text = " ".join(b.get("text", "") for b in blocks if b.get("type") == "text").strip()
        if text:
            return " ".join(text.split())
    return ""


__all__ = ["load_resumed", "resolve_chat_session"]
