"""Scheduled fires in the chat: gated, recorded in the run history, held to the task's limits, retried.

The policy lives in `agent.runs.live_fires.LiveFireRuns`; this module says on screen what it does. A
paused task or a spent daily budget records the fire (`paused` / `skipped`) and runs nothing; what the
user types is never gated. A run past its `maxTokensPerRun` is stopped and recorded `error`; `maxTurns`
applies to that turn only. A transient failure goes back on the queue after its backoff, so the user
can keep typing meanwhile. A task with `isolation: "worktree"` runs its turn in its own git worktree
(tools and permission checks rooted there), and the chat's folder is its own again afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agent.runs.isolation import IsolationError, isolated_turn
from agent.runs.live_fires import LiveFireRuns
from agent.tools.base import new_run_id

if TYPE_CHECKING:
    from agent.cron.fires import FiredTask
    from agent.engine.events import Event
    from agent.repl.render import Renderer
    from agent.runs.recorder import RunRecorder

__all__ = ["ChatScheduledRuns", "run_unrecorded"]


class ChatScheduledRuns:
    def __init__(self, recorder: RunRecorder, renderer: Renderer, stop_turn: Callable[[], None], cron: Any, *,
                 retry_later: Callable[[FiredTask], None]) -> None:
        self.recorder = recorder
        self.renderer = renderer
        self._stop_turn = stop_turn
        self.live = LiveFireRuns(recorder, cron, retry_later=retry_later, stop_turn=self._stop_for_limit,
                                 on_blocked=self._say_blocked, on_start=self._say_start, on_retry=self._say_retry,
                                 on_finished=self._say_finished)

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

    def _say_finished(self, task: Any, record: Any) -> None:
        if record.branch:
            changes = f"committed as {record.commit_id[:12]}" if record.commit_id else "nothing committed"
            self.renderer.info(f"Scheduled task {task.id}: branch {record.branch} ({changes})")
        elif record.status == "error" and record.error and "worktree" in record.error and not record.requests:
            self.renderer.error(f"Scheduled task {task.id}: {record.error}")

    def _say_retry(self, task: Any, attempt: int, error: str, delay_s: float) -> None:
        self.renderer.warn(f"Scheduled task {task.id}: attempt {attempt} failed ({error}); "
                           f"trying again in {delay_s:.1f}s.")


async def run_unrecorded(conversation: Any, session: Any, task: Any,
                         turn_factory: Callable[[str | None], Awaitable[Any]], renderer: Renderer) -> None:
    """A turn the run history does not record (the first run /loop starts at once): for a task with
    `isolation: "worktree"`, in its own worktree like its scheduled runs; else just the turn."""
    if task is None:
        await turn_factory(None)
        return
    try:
        async with isolated_turn(conversation, session.project_dir, session.env, task, new_run_id()) as run:
            turn = await turn_factory(run.run_id if run is not None else None)
            if run is not None and getattr(turn, "is_error", False):
                run.status = "error"
    except IsolationError as exc:
        renderer.error(f"Scheduled task {task.id}: {exc}")
        return
    if run is not None and run.result is not None and run.result.branch:
        commit = run.result.commit
        changes = f"committed as {commit[:12]}" if commit else "nothing committed"
        renderer.info(f"Scheduled task {task.id}: branch {run.result.branch} ({changes})")
