"""Scheduled fires in the chat: gated, recorded in the run history, held to the task's limits.

A paused task or a spent daily budget records the fire (`paused` / `skipped`) and runs nothing; what
the user types is never gated. A run past its `maxTokensPerRun` is stopped and recorded `error`;
`maxTurns` applies to that turn only. A task with `isolation: "worktree"` runs its turn in its own git
worktree (tools and permission checks rooted there), and the chat's folder is its own again afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from agent.engine.custom_commands import CommandNotFound
from agent.engine.isolation import IsolationError, isolated_turn
from agent.tools.base import new_run_id

if TYPE_CHECKING:
    from agent.cron.scheduler import FiredTask
    from agent.engine.events import Event
    from agent.engine.runs import RunRecorder, RunTracker
    from agent.repl.render import Renderer

__all__ = ["ChatScheduledRuns", "run_unrecorded"]


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
        try:
            isolated = await recorder.isolate(tracker, fired.task)
        except IsolationError as exc:  # never run it in the user's checkout instead
            self.renderer.error(f"Scheduled task {fired.task.id}: {exc}")
            await recorder.finish(tracker, error=str(exc))
            return
        saved_max = getattr(conversation, "max_turns", None)
        if tracker.policy.max_turns is not None:
            conversation.max_turns = tracker.policy.max_turns
        turn, rooting = None, ExitStack()
        try:
            if isolated is not None:  # the chat's conversation: its own folder again after this turn
                rooting.enter_context(isolated.rooted(conversation))
            if turn_factory is not None:
                turn = await turn_factory(tracker.record.run_id)
            else:
                turn = await conversation.run_turn(text, scheduled_task=fired.task, source="cron",
                                                   run_id=tracker.record.run_id)
        except CommandNotFound as exc:
            await recorder.finish(tracker, error=f"{exc}; nothing was sent to the model")
            raise
        except IsolationError as exc:
            self.renderer.error(f"Scheduled task {fired.task.id}: {exc}")
            await recorder.finish(tracker, error=str(exc))
            return
        except asyncio.CancelledError:
            if tracker.limit_error is None:
                await recorder.finish(tracker, cancelled=True, error="stopped in the chat")
                raise
            self.renderer.warn(f"Scheduled task {fired.task.id}: {tracker.limit_error}")
        finally:
            rooting.close()
            self._tracker = None
            if tracker.policy.max_turns is not None:
                conversation.max_turns = saved_max
        record = await recorder.finish(tracker, turn)
        if getattr(record, "branch", None):
            changes = f"committed as {record.commit_id[:12]}" if record.commit_id else "nothing committed"
            self.renderer.info(f"Scheduled task {fired.task.id}: branch {record.branch} ({changes})")

    async def _blocked(self, fired: FiredTask) -> bool:
        blocked = await self.recorder.gate(fired.task)
        if blocked is None:
            return False
        status, reason = blocked
        self.renderer.warn(f"Scheduled task {fired.task.id} not run: {reason}")
        await self.recorder.record_blocked(fired.task, fired.due_ms, status, reason)
        return True


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
