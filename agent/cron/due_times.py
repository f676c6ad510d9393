"""Pure: when each task is next due for the scheduler, with catch-up after downtime and pauses.

The scheduler's due-time rule in one collaborator: the cron's jittered slot (`jittered_next_fire`,
`one_shot_fire`) or the chain's (`after`), whichever comes first; slots missed before the process
started, or while it was paused (a time jump between ticks), caught up by each task's `catchUp`.
Separate from the scheduler's shell so that the timing rules read (and test) apart from the lock, the
files and the loop: time is passed in, the zone and the chain view are given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import tzinfo
from typing import Protocol

from agent.cron.expr import CronError, next_fire
from agent.cron.jitter import JitterConfig, datetime_to_ms, jittered_next_fire, ms_to_datetime, one_shot_fire
from agent.cron.policy import catch_up_due, resolve_policy
from agent.cron.task import CronTask

__all__ = ["MAX_CATCH_UP_STEPS", "TIME_JUMP_MS", "ChainDue", "DueTimes"]

log = logging.getLogger(__name__)

TIME_JUMP_MS = 30_000  # ticks come every second: a gap this long means the process did not run
MAX_CATCH_UP_STEPS = 20_000


class ChainDue(Protocol):
    """The chain view's part in due times (`agent.cron.chain_watch.ChainWatch`)."""

    def is_after_only(self, task: CronTask) -> bool: ...

    def due_ms(self, task: CronTask) -> int | None: ...


class DueTimes:
    """Due times of one scheduler: the jitter config, the `cron` settings (the catchUp default) and when
    the process last came back (start-up or the end of a pause) are its inputs."""

    def __init__(self, chains: ChainDue, zone: Callable[[], tzinfo], warn: Callable[[str], None],
                 jitter: JitterConfig) -> None:
        self.jitter = jitter
        self.cron_settings: object = None  # `cron` in settings: the catchUp default
        self.resumed_ms: int | None = None  # start-up, or the end of a pause: slots before it are caught up
        self._last_tick_ms: int | None = None
        self._chains = chains
        self._zone = zone
        self._warn = warn

    def due_ms(self, task: CronTask) -> int | None:
        """The cron's due time or the chain's (`after`), whichever comes first."""
        cron_due = None if self._chains.is_after_only(task) else self._cron_due_ms(task)
        chain_due = self._chains.due_ms(task)
        return min((d for d in (cron_due, chain_due) if d is not None), default=None)

    def next_slot(self, task: CronTask, after_ms: int) -> int | None:
        """The task's first jittered cron slot after `after_ms` (raises as `jittered_next_fire` does)."""
        return jittered_next_fire(task.cron, after_ms, task.id, self.jitter, self._zone())

    def note_time_jump(self, now: int) -> bool:
        """A tick far later than the last one: the process was paused (SIGSTOP, a machine asleep) or the
        clock moved. Slots missed meanwhile are caught up as after a restart (`catchUp`): True when the
        caller must compute every due time again."""
        last, self._last_tick_ms = self._last_tick_ms, now
        if last is None or now - last < TIME_JUMP_MS:
            return False
        log.info("the clock jumped %d s since the last tick (the process was paused or the machine slept); "
                 "missed slots are caught up by each task's catchUp", (now - last) // 1000)
        self.resumed_ms = now
        return True

    def _cron_due_ms(self, task: CronTask) -> int | None:
        try:
            if task.recurring:
                anchor = task.lastFiredAt if task.lastFiredAt is not None else task.createdAt
                due = self.next_slot(task, anchor)
                due = self._caught_up(task, due)
            else:
                due = one_shot_fire(task.cron, task.createdAt, task.id, self.jitter, self._zone())
        except (CronError, ValueError, OverflowError) as exc:  # one task's problem must not stop the tick
            self._warn(f"task {task.id}: cron {task.cron!r} is not usable ({exc}); skipped")
            return None
        if due is None:  # parses but never matches (say 30 February): say so rather than sit silent
            self._warn(f"task {task.id}: cron {task.cron!r} never fires (no matching time ahead); skipped")
        return due

    def _caught_up(self, task: CronTask, due: int | None) -> int | None:
        """A slot missed before this process started, or while it was paused (a time jump), is caught up
        by the task's `catchUp` (pure rule in `catch_up_due`): `latest` (the default) runs once, due at
        the most recent missed slot; `skip` runs nothing until the first slot after the process came back."""
        back = self.resumed_ms
        if due is None or back is None or due >= back:
            return due
        mode = resolve_policy(self.cron_settings, task.model_extra or {}).catch_up
        if mode == "skip":
            # a slot exactly at `back` is not missed: it is due now
            after = self.next_slot(task, back - 1)
            log.info("task %s: skipping the slot missed at %d (catchUp: skip); next at %s", task.id, due, after)
            return catch_up_due(due, back, mode, after)
        return catch_up_due(due, back, mode, None, self.latest_due(task, due, back))

    def latest_due(self, task: CronTask, due: int, now: int) -> int:
        """The due time of the most recent slot whose cron match has passed by `now`: the last missed
        slot. Usually that due time has passed too (fire now); when only the slot's jitter is still to
        come, it is a little ahead, and the catch-up run waits for it. Looks back an hour first, then
        further, so a week of every-minute slots is not walked."""
        last = due
        for window_ms in (3_600_000, 86_400_000, 31 * 86_400_000, 400 * 86_400_000):
            anchor = max(due, now - window_ms)
            fire, steps = self.next_slot(task, anchor), 0
            while fire is not None and fire <= now and steps < MAX_CATCH_UP_STEPS:
                last, steps = fire, steps + 1
                fire = self.next_slot(task, fire)
            if steps or anchor == due:
                match = next_fire(task.cron, ms_to_datetime(last, self._zone())) if fire is not None else None
                return fire if match is not None and datetime_to_ms(match) <= now else last
        return last
