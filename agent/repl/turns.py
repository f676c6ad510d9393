"""The queue processor: what the user or the scheduler queued runs here, one item at a time, as a turn.

Separate from the application because it owns the one running turn (what Esc and Ctrl-C cancel, what
makes the chat busy for the scheduler) and how a queued item becomes that turn: a command's job, a typed
prompt with its @file attachments, a scheduled fire recorded in the run history, and in plan mode the
question that offers to carry the plan out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from agent.repl.commands import task_id_of
from agent.repl.prompt import is_command_line

if TYPE_CHECKING:
    from agent.cron.scheduler import CronScheduler
    from agent.engine.conversation import Conversation
    from agent.engine.custom_commands import CommandSet
    from agent.engine.queue import CommandQueue, QueuedPrompt
    from agent.engine.session import AgentSession
    from agent.repl.question import QuestionBox
    from agent.repl.render import Renderer
    from agent.repl.scheduled_runs import ChatScheduledRuns

log = logging.getLogger(__name__)


class TurnHost(Protocol):
    """What running a turn needs from the chat (`agent.repl.app.Repl`)."""

    queue: CommandQueue
    renderer: Renderer
    questions: QuestionBox
    session: AgentSession | None
    scheduler: CronScheduler | None
    runs: ChatScheduledRuns | None

    def conversation(self) -> Conversation | None: ...

    def custom_commands(self, *, warn: bool = True) -> CommandSet: ...

    def permission_mode(self) -> str | None: ...

    def set_permission_mode(self, mode: str) -> bool: ...

    def queue_prompt(self, text: str, job: Callable[[], Awaitable[Any]] | None = None) -> None: ...

    def invalidate(self) -> None: ...

    def spawn(self, job: Coroutine[Any, Any, Any], name: str | None = None) -> None: ...


class TurnRunner:
    """Takes the queue's items in order once `ready` is set; `turn` and `current` are the one running."""

    def __init__(self, host: TurnHost, ready: asyncio.Event) -> None:
        self.host = host
        self.ready = ready
        self.turn: asyncio.Task | None = None
        self.current: QueuedPrompt | None = None

    def scheduled_item(self) -> QueuedPrompt | None:
        """The scheduled fire the running turn serves, if it serves one."""
        return self.current if self.current is not None and self.current.source == "cron" else None

    def stop(self) -> None:
        if self.turn is not None and not self.turn.done():
            self.turn.cancel()

    async def process_queue(self) -> None:
        host = self.host
        await self.ready.wait()
        while True:
            item = await host.queue.get()
            self.current = item
            turn = self.turn = asyncio.create_task(self._run_item(item), name="repl-turn")
            try:
                await asyncio.wait({turn})
            finally:
                if not turn.done():  # we are being cancelled (exit): end the turn with us
                    turn.cancel()
                    await asyncio.wait({turn})
                self.turn = self.current = None
                if host.scheduler is not None and not host.queue:
                    host.scheduler.wake()  # anything that fell due during the turn fires now
                host.invalidate()
            if not turn.cancelled() and turn.exception() is not None:
                exc = turn.exception()
                log.error("turn failed: %s: %s", type(exc).__name__, exc, exc_info=exc)

    async def _run_item(self, item: QueuedPrompt) -> None:
        host = self.host
        if item.source == "command":
            await item.task()
            return
        conversation = host.conversation()
        if conversation is None:
            return
        fired = item.task if item.source == "cron" else None
        if item.source == "queued":
            host.renderer.user_prompt(item.text)
        from agent.engine.custom_commands import CommandNotFound, run_prompt
        from agent.repl.scheduled_runs import run_unrecorded

        session = host.session
        assert session is not None  # a conversation exists only once the session does
        try:
            source = "user" if item.source == "queued" else item.source
            text = item.text
            if source == "user" and not is_command_line(text) and "@" in text:
                from agent.repl.attachments import attach_mentions

                text = await attach_mentions(text, session, host.renderer)

            transcript = getattr(conversation, "transcript", None)
            if source == "user" and transcript is not None:
                transcript.note_prompt(item.text)  # listed and resumed as typed, not expanded

            def turn(run_id: str | None = None) -> Awaitable[Any]:
                return run_prompt(conversation, session, text, commands=host.custom_commands(),
                                  scheduled_task=fired.task if fired is not None else None, source=source,
                                  run_id=run_id)

            if fired is not None:  # a fire gets the MCP servers too: wait for those still connecting (bounded)
                await asyncio.to_thread(session.mcp.wait_ready)
            if fired is not None and host.runs is not None:
                await host.runs.run(conversation, item.text, fired, turn)
            else:
                if fired is not None:
                    host.renderer.scheduled_header(fired.fired_ms, item.text)
                task = fired.task if fired is not None else item.task if item.source == "loop" else None
                await run_unrecorded(conversation, session, task, turn, host.renderer)
            if source == "user" and host.permission_mode() == "plan" and \
                    ends_with_reply(getattr(conversation, "history", [])):
                host.spawn(self._offer_to_proceed(), name="repl-plan")
        except CommandNotFound as exc:
            task_id = task_id_of(item)
            run = f"This run of scheduled task {task_id} failed: " if task_id else ""
            host.renderer.error(f"{run}{exc}. Nothing was sent to the model.")
        except asyncio.CancelledError:
            task_id = task_id_of(item)
            if task_id:
                host.renderer.warn(f"Stopped this run of scheduled task {task_id}; the schedule itself is "
                                   f"still active. Stop it with /cron delete {task_id}")
            raise

    async def _offer_to_proceed(self) -> None:
        """Plan mode, as in Claude Code: after the plan, a question offers to carry it out."""
        from agent.repl.question import Option

        host = self.host
        options = [Option("acceptEdits", "Yes, and auto-accept edits (acceptEdits mode)"),
                   Option("default", "Yes, and ask before each edit"),
                   Option("plan", "No, keep planning")]
        choice = await host.questions.ask("Ready to go ahead with this plan?", options)
        if choice is None or choice.answer not in ("acceptEdits", "default"):
            host.renderer.info("Still in plan mode: say what to change (Shift-Tab leaves it).")
            return
        host.set_permission_mode(choice.answer)
        host.renderer.info(f"Permission mode: {choice.answer}. Going ahead with the plan.")
        host.queue_prompt("Go ahead with the plan.")


def ends_with_reply(history: list[dict[str, Any]]) -> bool:
    """The turn ended with the model's text (a plan), not a refusal or an error."""
    if not history or history[-1].get("role") != "assistant":
        return False
    content = history[-1].get("content")
    return isinstance(content, list) and any(b.get("type") == "text" and str(b.get("text", "")).strip()
                                             for b in content if isinstance(b, dict))


__all__ = ["TurnHost", "TurnRunner", "ends_with_reply"]
