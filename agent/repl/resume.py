"""`agent --continue` / `agent --resume [ID]`: which saved session the chat starts from.

Chosen before the chat starts (the list to pick from is plain numbered lines read with `input()`), so
the prompt_toolkit screen never has to host the picker. The chat then loads the transcript in its
background start-up (`Repl._load`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from agent.engine.transcript import (
    LoadedTranscript,
    SessionChoiceError,
    SessionInfo,
    choose_session,
    describe_age,
    describe_size,
    list_sessions,
    read_transcript,
    restore_session_tasks,
)

if TYPE_CHECKING:
    from agent.engine.session import AgentSession
    from agent.repl.render import Renderer

PICK_LIMIT = 20


def session_rows(sessions: list[SessionInfo], now: float | None = None) -> list[str]:
    """One numbered line per session: first prompt, age, size."""
    rows = []
    for number, info in enumerate(sessions, 1):
        prompt = info.first_prompt or "(no prompt yet)"
        prompt = prompt if len(prompt) <= 60 else prompt[:59] + "…"
        rows.append(f"{number:>3}. {prompt:<60}  {describe_age(info.modified, now):>9}  "
                    f"{describe_size(info.size):>9}  {info.session_id[:8]}")
    return rows


def pick_session(sessions: list[SessionInfo], out: TextIO, ask: Callable[[str], str] = input) -> SessionInfo | None:
    """Show the recent sessions and read a number; None when the user picks none."""
    shown = sessions[:PICK_LIMIT]
    print("Recent sessions in this project (newest first):", file=out)
    for row in session_rows(shown):
        print(row, file=out)
    while True:
        try:
            answer = ask(f"Resume which session? [1-{len(shown)}, Enter for none] ").strip()
        except EOFError:
            return None
        if not answer:
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(shown):
            return shown[int(answer) - 1]
        print(f"Type a number from 1 to {len(shown)}, or press Enter to start a new session.", file=out)


def resolve_chat_session(args: argparse.Namespace, project: Path, env: Mapping[str, str],
                         out: TextIO) -> tuple[str, Path | None]:
    """The session id for the chat and the transcript to resume (None: a new session).
    Raises SessionChoiceError with a one-line reason."""
    resume = getattr(args, "resume", None)
    if resume == "":
        sessions = list_sessions(project, env)
        if not sessions:
            raise SessionChoiceError("no saved session in this project yet; start one with agent")
        chosen = pick_session(sessions, out)
        if chosen is None:
            return choose_session(project, env)
        return chosen.session_id, chosen.path
    return choose_session(project, env, continue_latest=bool(getattr(args, "continue_session", False)),
                          resume=resume, session_id=getattr(args, "session_id", None))


def load_resumed(session: AgentSession, path: Path, renderer: Renderer) -> tuple[LoadedTranscript | None, str | None]:
    """Read the transcript to resume and put its unexpired session-only scheduled tasks back.
    Returns it and the one warning to show (a damaged file), or None and why it cannot be read."""
    try:
        loaded = read_transcript(path)
    except OSError as exc:
        return None, f"Cannot resume {path}: {exc.strerror or exc}; starting a new conversation."
    restored, dropped = restore_session_tasks(session.cron, loaded.tasks, int(time.time() * 1000))
    tasks = f"; {len(restored)} session scheduled task(s) back" if restored else ""
    expired = f", {len(dropped)} expired and not restored" if dropped else ""
    renderer.info(f"Resumed session {loaded.session_id} ({len(loaded.messages)} messages{tasks}{expired}).")
    if loaded.messages:
        last = first_text(loaded.messages, "user", last=True)
        if last:
            renderer.info(f"  Last prompt: {last[:100]}")
    return loaded, loaded.warning


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


__all__ = ["load_resumed", "pick_session", "resolve_chat_session", "session_rows"]
