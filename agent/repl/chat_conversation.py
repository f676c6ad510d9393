"""The chat's one conversation: made once the model client loads, continued from a saved session
(`agent -c`, `agent -r`, `/resume`), its prompt cache kept for an hour while this chat owns the schedule.

Separate from the application because it owns the saved-session state (the session id, the transcript
being resumed, the "Resumed session …" line) and the order resuming needs: the transcript is read in a
worker thread, its messages are drawn on the loop, and the conversation takes the history when made.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from agent.engine.conversation import Conversation
    from agent.engine.session import AgentSession
    from agent.engine.transcript import LoadedTranscript
    from agent.repl.render import Renderer


class ChatConversation:
    """`current` is the conversation (None until made); `resumed` the saved one it takes when made;
    `session` gives the chat's session, once built; `durable` says whether this chat runs the durable
    tasks too, which keeps its prompt cache for an hour (/loop 10m)."""

    def __init__(self, args: argparse.Namespace, renderer: Renderer, *, session: Callable[[], AgentSession | None],
                 emit: Callable[[Any], None], ask: Callable[..., Any], durable: Callable[[], bool],
                 session_id: str | None = None, resume_from: Path | None = None) -> None:
        self.args, self.renderer = args, renderer
        self.session, self.emit, self.ask, self.durable = session, emit, ask, durable
        self.session_id, self.resume_from = session_id, resume_from  # saved sessions (agent -c / -r)
        self.current: Conversation | None = None
        self.resumed: LoadedTranscript | None = None
        self.resumed_line = ""  # "Resumed session … (N messages)", shown under the history

    def get(self) -> Conversation | None:
        """The conversation, made now if the session is there; None (said on screen) without a client."""
        if self.current is None and self.session() is not None:
            from agent.engine.llm import LLMError

            try:
                self.current = self.make()
            except LLMError as exc:
                self.renderer.error(f"{exc.message}, then restart agent.")
        return self.current

    def load_client(self) -> str | None:
        """In a worker thread: import the SDK and make the conversation. The error text, if any."""
        from agent.engine.llm import LLMError

        try:
            self.current = self.make()
        except LLMError as exc:
            return f"{exc.message}, then restart agent. Slash commands work meanwhile."
        return None

    def make(self) -> Conversation:
        """A conversation under this chat's session id; a resumed transcript's history goes into it."""
        from agent.engine.transcript import new_session_id, resume_into

        session = self.session()
        assert session is not None
        self.session_id = self.session_id or new_session_id()
        conversation = session.new_conversation(emit=self.emit, asker=self.ask, session_id=self.session_id)
        conversation.cache_ttl = lambda: session.prompt_cache_ttl(durable=self.durable())
        if self.resumed is not None:
            resume_into(conversation, self.resumed, fork=bool(getattr(self.args, "fork_session", False)))
            conversation.session_source = "resume"
            self.resumed = None
        return conversation

    def load_resumed(self) -> str | None:
        """In a worker thread: read the transcript to resume; its session tasks come back."""
        from agent.repl.resume import load_resumed

        session = self.session()
        assert session is not None and self.resume_from is not None
        self.resumed, problem, self.resumed_line = load_resumed(session, self.resume_from)
        return problem

    def show_resumed(self, loaded: LoadedTranscript | None) -> None:
        """On the loop (the renderer is not thread-safe): the resumed conversation's last messages."""
        from agent.repl.resume_view import show_history

        if loaded is not None:
            show_history(self.renderer, loaded)
        if self.resumed_line:
            self.renderer.info(self.resumed_line)

    async def resume(self, session_id: str, path: Path, *, clear_screen: Callable[[], None]) -> None:
        """/resume: continue the saved session at `path`; the screen shows where it was."""
        old = self.current
        self.session_id, self.resume_from = session_id, path
        problem = await asyncio.to_thread(self.load_resumed)
        loaded = self.resumed
        if loaded is None:
            self.renderer.error(problem or f"Cannot resume {path}.")
            return
        if old is not None and old.transcript is not None:
            old.transcript.sync(old.history)
        self.current = None
        self.get()  # the same model client; without one the history still shows
        clear_screen()
        self.show_resumed(loaded)
        if problem:
            self.renderer.warn(problem)


__all__ = ["ChatConversation"]
