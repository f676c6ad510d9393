"""Scheduled fires in the chat: gated, recorded in the run history, held to the task's limits.

A paused task or a spent daily budget records the fire (`paused` / `skipped`) and runs nothing; what
the user types is never gated. A run past its `maxTokensPerRun` is stopped and recorded `error`;
`maxTurns` applies to that turn only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agent.engine.custom_commands import CommandNotFound

if TYPE_CHECKING:
    from agent.cron.scheduler import FiredTask
    from agent.engine.events import Event
    from agent.engine.runs import RunRecorder, RunTracker
    from agent.repl.render import Renderer

__all__ = ["ChatScheduledRuns"]


class ChatScheduledRuns:
    def __init__(self, recorder: RunRecorder, renderer: Renderer, stop_turn: Callable[[], None]) -> None:
        self.recorder = recorder
        self.renderer = renderer
        self._stop_turn = stop_turn
        self._tracker: RunTracker | None = None

    def emit(self, event: Event) -> None:
        """Every event of the chat passes here; only those of a scheduled run are collected."""
        if self._tracker is not None:
            self._tracker.emit(event)

    async def run(self, conversation: Any, text: str, fired: FiredTask,
                  turn_factory: Callable[[str], Awaitable[Any]] | None = None) -> None:
        """Run a fired prompt as a recorded turn; `turn_factory` starts the turn (custom commands
        expanded), else the prompt goes to the model as it is."""
        recorder = self.recorder
        if await self._blocked(fired):
            return
        self.renderer.scheduled_header(fired.fired_ms, text)
        tracker = self._tracker = await recorder.start(fired.task, scheduled_ms=fired.due_ms,
                                                       on_limit=lambda _reason: self._stop_turn())
        saved_max = getattr(conversation, "max_turns", None)
        if tracker.policy.max_turns is not None:
            conversation.max_turns = tracker.policy.max_turns
        turn = None
        try:
            if turn_factory is not None:
                turn = await turn_factory(tracker.record.run_id)
            else:
                turn = await conversation.run_turn(text, scheduled_task=fired.task, source="cron",
                                                   run_id=tracker.record.run_id)
        except CommandNotFound as exc:
            await recorder.finish(tracker, error=f"{exc}; nothing was sent to the model")
            raise
        except asyncio.CancelledError:
            if tracker.limit_error is None:
                await recorder.finish(tracker, cancelled=True, error="stopped in the chat")
                raise
            self.renderer.warn(f"Scheduled task {fired.task.id}: {tracker.limit_error}")
        finally:
            self._tracker = None
            if tracker.policy.max_turns is not None:
                conversation.max_turns = saved_max
        await recorder.finish(tracker, turn)

    async def _blocked(self, fired: FiredTask) -> bool:
        blocked = await self.recorder.gate(fired.task)
        if blocked is None:
            return False
        status, reason = blocked
        self.renderer.warn(f"Scheduled task {fired.task.id} not run: {reason}")
        await self.recorder.record_blocked(fired.task, fired.due_ms, status, reason)
        return True
