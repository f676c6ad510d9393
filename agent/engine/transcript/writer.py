"""Writing a saved session: `TranscriptWriter` appends a conversation's history as it changes.

Separate from reading because the running conversation only ever appends (a rewind line when its history
changed in place), and must never fail the turn over a full disk; the format is in `records`.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from agent.engine.transcript.records import Message, now_iso
from agent.jsonfile import replace_lone_surrogates
from agent.settings.private import open_private

log = logging.getLogger(__name__)


def transcript_path_of(conversation: Any) -> Path | None:
    """The transcript a conversation is being saved to; None when it is not saved."""
    writer = getattr(conversation, "transcript", None)
    return writer.path if writer is not None else None


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
            self._append({"type": "prompt", "display": display, "timestamp": now_iso()})
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
                          "timestamp": now_iso()})
        except OSError as exc:
            self._broken = True
            log.warning("cannot save the session to %s (%s)", self.path, exc.strerror or exc)

    def _sync(self, history: list[Message]) -> None:
        keep = 0
        while keep < min(len(history), len(self._written)) and history[keep] is self._written[keep]:
            keep += 1
        if keep < len(self._written):
            self._append({"type": "rewind", "keep": keep, "timestamp": now_iso()})
            del self._written[keep:], self._uuids[keep:]
        for message in history[keep:]:
            line_id = str(uuid.uuid4())
            self._append({"type": message.get("role", "user"),
                          "message": {"role": message.get("role"), "content": message.get("content")},
                          "uuid": line_id, "parentUuid": self._uuids[-1] if self._uuids else None,
                          "sessionId": self.session_id, "timestamp": now_iso(), "cwd": self.cwd})
            self._written.append(message)
            self._uuids.append(line_id)

    def _sync_tasks(self) -> None:
        store = self.session_store
        revision = getattr(store, "revision", None)
        if store is None or revision == self._tasks_revision:
            return
        tasks = [task.to_json_dict() for task in store.load().tasks]
        if tasks or self._tasks_revision is not None:
            self._append({"type": "scheduled_tasks", "tasks": tasks, "timestamp": now_iso()})
        self._tasks_revision = revision

    def _append(self, record: dict[str, Any]) -> None:
        """One whole line per write. The file is opened for each write, so a daemon that makes a
        conversation per fire never piles up open descriptors."""
        lines = [record]
        if not self.path.exists():
            lines.insert(0, {"type": "session", "sessionId": self.session_id, "cwd": self.cwd,
                             "timestamp": now_iso(), "kind": self.kind})
        fd = open_private(self.path)  # 0600 in a 0700 folder, an old file tightened
        try:
            for line in lines:
                text = replace_lone_surrogates(json.dumps(line, ensure_ascii=False))  # a non-UTF-8 cwd, say
                os.write(fd, (text + "\n").encode("utf-8"))
        finally:
            os.close(fd)
