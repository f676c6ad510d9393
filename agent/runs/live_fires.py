"""Scheduled fires that run inside a live conversation: the chat and a stream-json session.

The daemon runs each fire in a fresh conversation (`ScheduledRunner`); here the fire is a turn of the
conversation the user (or the SDK client) is having. The policy is the same: a paused task or a spent
daily budget records the fire and runs nothing; the run is held to its `maxTurns` (this turn only) and
`maxTokensPerRun`; a transient failure is retried with backoff within the slot. The wait before a
retry never holds the conversation: the fire goes back on the queue when the wait is over (through
`retry_later`), and the same run record carries on with the next attempt. A retry still pending when
the session ends is recorded `interrupted`. A task with `isolation: "worktree"` gets its own git worktree
for the run (all attempts); each attempt's turn is rooted there, and the conversation's own folder
comes back after it. A run that cannot get its worktree is recorded `error` and never runs in the
user's checkout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from agent.cron.history import RunRecord
from agent.cron.policy import is_transient, retry_delay_s, should_retry
from agent.engine.events import Event
from agent.runs.isolation import IsolationError
from agent.runs.recorder import RunRecorder, RunTracker, slot_end_ms

__all__ = ["LiveFireRuns"]

log = logging.getLogger(__name__)

StartTurn = Callable[[str], Awaitable[Any]]  # starts the fired prompt's turn, given the run id


@dataclass
class _PendingRetry:
    tracker: RunTracker
    attempt: int  # the number of the attempt that is waiting to run
    timer: asyncio.TimerHandle | None = None


class LiveFireRuns:
    def __init__(self, recorder: RunRecorder, cron: Any, *, retry_later: Callable[[Any], None],
                 stop_turn: Callable[[Any, str], None], on_blocked: Callable[[Any, str], None],
                 on_start: Callable[[Any, int], None] = lambda *_: None,
                 on_retry: Callable[[Any, int, str, float], None] = lambda *_: None,
                 on_finished: Callable[[Any, RunRecord], None] = lambda *_: None,
                 rand: Callable[[], float] = random.random) -> None:
        self.recorder = recorder
        self._retry_later = retry_later  # puts the fire back on the queue
        self._stop_turn = stop_turn  # (task, reason): the run went past its token limit, stop its turn
        self._cron = cron  # the CronService: when the next slot comes, which a retry must not reach
        self._on_blocked = on_blocked  # (task, reason): say why a fire did not run
        self._on_start = on_start  # (fired, attempt): an attempt is about to start
        self._on_retry = on_retry  # (task, attempt, error, delay_s)
        self._on_finished = on_finished  # (task, record): the run is recorded
        self._rand = rand
        self._tracker: RunTracker | None = None
        self._pending: dict[str, _PendingRetry] = {}  # task id -> its run waiting for a retry
        self._queued: dict[tuple[str, int], RunRecord] = {}  # (task id, fired_ms) -> its `queued` record

    async def queue(self, fires: list[Any]) -> None:
        """The scheduler's `on_commit`: record the committed fires `queued` before they are delivered, so
        a fire still in the session's queue when it crashes or ends leaves a record, not a hole."""
        self._queued.update(await self.recorder.queue(fires))

    def emit(self, event: Event) -> None:
        """Every event of the conversation passes here; only those of a scheduled run are collected."""
        if self._tracker is not None:
            self._tracker.emit(event)

    async def run(self, fired: Any, conversation: Any, start_turn: StartTurn) -> RunRecord | None:
        """Run one fire (or the next attempt of a run waiting to retry); the finished record, None
        when another attempt was scheduled. Raises what the turn raises (cancellation included)."""
        task = fired.task
        pending = self._pending.pop(task.id, None)
        if pending is None:
            queued = self._queued.pop((task.id, fired.fired_ms), None)
            blocked = await self.recorder.gate(task)
            if blocked is not None:
                status, reason = blocked
                self._on_blocked(task, reason)
                return await self.recorder.record_blocked(task, fired.due_ms, status, reason, queued)
            tracker = await self.recorder.start(task, scheduled_ms=fired.due_ms, record=queued,
                                                on_limit=lambda reason: self._stop_turn(task, reason))
            try:
                await self.recorder.isolate(tracker, task)
            except IsolationError as exc:  # never run it in the user's checkout instead
                return self._finished(task, await self.recorder.finish(tracker, error=str(exc)))
            attempt = 1
        else:
            tracker, attempt = pending.tracker, pending.attempt
        tracker.record.attempts = attempt
        self._on_start(fired, attempt)
        try:
            turn = await self._attempt(tracker, conversation, start_turn)
        except IsolationError as exc:  # the worktree could not be entered: nothing ran
            return self._finished(task, await self.recorder.finish(tracker, error=str(exc)))
        if turn is None:  # stopped at the run's token limit
            return self._finished(task, await self.recorder.finish(tracker, transcript=_transcript_of(conversation)))
        kind = getattr(turn, "error_kind", None)
        delay = retry_delay_s(attempt, tracker.policy.backoff_s, self._rand())
        if is_transient(kind) and should_retry(attempt, kind, tracker.policy, now_ms=self.recorder.now_ms(),
                                               delay_s=delay, slot_end_ms=slot_end_ms(self._cron, fired)):
            tracker.add_usage(turn)
            self._schedule_retry(fired, tracker, attempt + 1, delay, turn.error or "transient failure")
            return None
        return self._finished(task, await self.recorder.finish(tracker, turn, transcript=_transcript_of(conversation)))

    def _finished(self, task: Any, record: RunRecord) -> RunRecord:
        self._on_finished(task, record)
        return record

    async def _attempt(self, tracker: RunTracker, conversation: Any, start_turn: StartTurn) -> Any:
        """The turn of one attempt; None when it was stopped at the token limit."""
        limit_turns = tracker.policy.max_turns is not None and conversation is not None
        saved_max = getattr(conversation, "max_turns", None)
        if limit_turns:
            conversation.max_turns = tracker.policy.max_turns
        self._tracker = tracker
        rooting = contextlib.ExitStack()
        try:
            isolated = getattr(tracker, "isolated", None)
            if isolated is not None and conversation is not None:
                rooting.enter_context(isolated.rooted(conversation))
            return await start_turn(tracker.record.run_id)
        except asyncio.CancelledError:
            if tracker.limit_error is None:
                await self.recorder.finish(tracker, cancelled=True, error="stopped in the session",
                                           transcript=_transcript_of(conversation))
                raise
            return None
        except IsolationError:
            raise
        except Exception as exc:  # e.g. a custom command that no longer exists: the run failed
            await self.recorder.finish(tracker, error=str(exc))
            raise
        finally:
            rooting.close()
            self._tracker = None
            if limit_turns:
                conversation.max_turns = saved_max

    def _schedule_retry(self, fired: Any, tracker: RunTracker, attempt: int, delay_s: float, error: str) -> None:
        pending = self._pending[fired.task.id] = _PendingRetry(tracker, attempt)
        self._on_retry(fired.task, attempt - 1, error, delay_s)
        pending.timer = asyncio.get_running_loop().call_later(delay_s, self._retry_later, fired)

    async def close(self) -> None:
        """The session ends: runs waiting for a retry, and fires still queued, are recorded interrupted."""
        queued, self._queued = self._queued, {}
        for record in queued.values():
            record.status, record.error = "interrupted", "the session ended before this fire could run"
            record.ended_at = self.recorder.now_ms()
            await self.recorder.query("save", record)
        pending, self._pending = self._pending, {}
        for waiting in pending.values():
            if waiting.timer is not None:
                waiting.timer.cancel()
            await self.recorder.finish(waiting.tracker, cancelled=True,
                                       error="interrupted while waiting to retry: the session ended")


def _transcript_of(conversation: Any) -> str | None:
    """The saved session the run is part of, when sessions are saved: the run's evidence."""
    writer = getattr(conversation, "transcript", None)
    path = getattr(writer, "path", None)
    return str(path) if path is not None else None
