"""Silent gaps: expected fires of a durable task that left no record, and their likely reason (pure).

A recurring task's slots are the cron matches since it was created (or a look-back window). A slot
counts as served when a run of the task was due in its interval, from the slot up to the next slot (a
fire is jittered late, and a busy session fires once afterwards with the slot's due time). Each run
serves one slot only, so three missed slots in a row are three gaps, whatever ran just before them; a
catch-up run after a pause is recorded with the latest missed slot, and the earlier ones are gaps.
Only intervals that have fully passed are judged. The reason is inferred from the other evidence: the
task's `lastFiredAt` and the runs of other tasks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from itertools import pairwise

from agent.cron.expr import CronError, next_fire, parse_cron
from agent.cron.jitter import datetime_to_ms, ms_to_datetime

__all__ = ["EARLY_MS", "MAX_SLOTS", "NO_HISTORY", "Gap", "expected_slots", "find_gaps", "shortest_interval_ms"]

EARLY_MS = 1_000  # a recurring fire is jittered late, never early: only clock rounding comes before its slot
MAX_SLOTS = 20_000  # a week of every-minute fires is 10,080

NO_PROCESS = "no process held the project lock then (no run of any task was recorded around it)"
DIED = ("the scheduler was running (other tasks ran) but this fire has no record: the lock holder died, "
        "or crashed between committing the fire and recording its run")
NO_HISTORY = "no agent process has recorded runs in this project"
UNRECORDED = ("the task fired (lastFiredAt) but no run was recorded: the crash window between the fire and "
              "its record, or another tool (e.g. Claude Code) ran it")


@dataclass(frozen=True)
class Gap:
    task_id: str
    slot_ms: int
    reason: str


def expected_slots(cron: str, start_ms: int, end_ms: int, tz: tzinfo, limit: int = MAX_SLOTS) -> list[int]:
    """Cron matches after `start_ms` up to `end_ms` (epoch ms), at most `limit` of them."""
    try:
        expr = parse_cron(cron)
    except CronError:
        return []
    slots: list[int] = []
    when = ms_to_datetime(start_ms, tz)
    while len(slots) < limit:
        fire = next_fire(expr, when)
        if fire is None:
            break
        ms = datetime_to_ms(fire)
        if ms > end_ms:
            break
        slots.append(ms)
        when = fire
    return slots


def shortest_interval_ms(cron: str, start_ms: int, tz: tzinfo, sample: int = 4) -> int | None:
    """The shortest time between the next few matches of `cron` after `start_ms`; None if it has fewer
    than two."""
    slots = expected_slots(cron, start_ms, start_ms + 400 * 86_400_000, tz, limit=sample)
    return min((b - a for a, b in pairwise(slots)), default=None)


def _any_between(times: Sequence[int], low: int, high: int) -> bool:
    i = bisect_left(times, low)
    return i < len(times) and times[i] < high


def find_gaps(task_id: str, slots: Sequence[int], now_ms: int, run_times: Sequence[int],
              other_run_times: Sequence[int], last_fired_at: int | None = None) -> list[Gap]:
    """Slots whose interval has passed with no run of this task recorded, oldest first.

    `run_times` and `other_run_times` must be sorted (when each run was due, else started)."""
    gaps: list[Gap] = []
    for i, slot in enumerate(slots):
        end = slots[i + 1] if i + 1 < len(slots) else None
        if end is None or end > now_ms:
            break  # this slot may still fire (late by jitter, or after a running turn)
        if _any_between(run_times, slot - EARLY_MS, end - EARLY_MS):
            continue
        if last_fired_at is not None and slot - EARLY_MS <= last_fired_at < end:
            reason = UNRECORDED
        elif _any_between(other_run_times, slot - (end - slot), end + (end - slot)):
            reason = DIED
        else:
            reason = NO_PROCESS
        gaps.append(Gap(task_id, slot, reason))
    return gaps
