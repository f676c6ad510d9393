"""Scheduled fires in the chat: gated, recorded in the run history, held to the task's limits, retried.

The policy lives in `agent.engine.live_fires.LiveFireRuns`; this module says on screen what it does. A
paused task or a spent daily budget records the fire (`paused` / `skipped`) and runs nothing; what the
user types is never gated. A run past its `maxTokensPerRun` is stopped and recorded `error`; `maxTurns`
applies to that turn only. A transient failure goes back on the queue after its backoff, so the user
can keep typing meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agent.engine.live_fires import LiveFireRuns

if TYPE_CHECKING:
    from agent.cron.scheduler import FiredTask
    from agent.engine.events import Event
    from agent.engine.runs import RunRecorder
    from agent.repl.render import Renderer

__all__ = ["ChatScheduledRuns"]


class ChatScheduledRuns:
    def __init__(self, recorder: RunRecorder, renderer: Renderer, stop_turn: Callable[[], None], cron: Any, *,
                 retry_later: Callable[[FiredTask], None]) -> None:
        self.recorder = recorder
        self.renderer = renderer
        self._stop_turn = stop_turn
        self.live = LiveFireRuns(recorder, cron, retry_later=retry_later, stop_turn=self._stop_for_limit,
                                 on_blocked=self._say_blocked, on_start=self._say_start, on_retry=self._say_retry)

    def emit(self, event: Event) -> None:
        self.live.emit(event)

    async def run(self, conversation: Any, text: str, fired: FiredTask,
                  turn_factory: Callable[[str], Awaitable[Any]] | None = None) -> None:
        """Run a fired prompt as a recorded turn; `turn_factory` starts the turn (custom commands
        expanded), else the prompt goes to the model as it is."""
        if turn_factory is None:
            def turn_factory(run_id: str) -> Awaitable[Any]:
                return conversation.run_turn(text, scheduled_task=fired.task, source="cron", run_id=run_id)

        await self.live.run(fired, conversation, turn_factory)

    async def close(self) -> None:
        await self.live.close()

    def _stop_for_limit(self, task: Any, reason: str) -> None:
        self.renderer.warn(f"Scheduled task {task.id}: {reason}")
        self._stop_turn()

    def _say_blocked(self, task: Any, reason: str) -> None:
        self.renderer.warn(f"Scheduled task {task.id} not run: {reason}")

    def _say_start(self, fired: FiredTask, attempt: int) -> None:
        if attempt == 1:
            self.renderer.scheduled_header(fired.fired_ms, fired.task.prompt)
        else:
            self.renderer.info(f"Scheduled task {fired.task.id}: attempt {attempt}.")

    def _say_retry(self, task: Any, attempt: int, error: str, delay_s: float) -> None:
        self.renderer.warn(f"Scheduled task {task.id}: attempt {attempt} failed ({error}); "
                           f"trying again in {delay_s:.1f}s.")
