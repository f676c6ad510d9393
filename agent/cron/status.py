"""The gap check of a project: durable tasks' expected fires against the run history (shell).

Reads the tasks file and the history; the judging is the pure `agent.cron.gaps`. Used by
`agent cron status`, `/cron status` and the daemon's hourly check. With no history at all (no
database, or not one run in it), every slot since a task's creation (within the look-back) is a gap:
nothing has recorded a run, so nothing says the task ever fired.
"""

from __future__ import annotations

from datetime import tzinfo

from agent.cron.gaps import NO_HISTORY, Gap, expected_slots, find_gaps
from agent.cron.history import RunHistory
from agent.cron.task import CronTask

__all__ = ["LOOKBACK_MS", "find_project_gaps", "gaps_by_task"]

LOOKBACK_MS = 7 * 86_400_000


def find_project_gaps(tasks: list[CronTask], history: RunHistory | None, now_ms: int, tz: tzinfo,
                      lookback_ms: int = LOOKBACK_MS) -> list[Gap]:
    """Every expected fire of a recurring durable task with no recorded run, oldest first.

    The window starts at the latest of: the task's creation, `lookback_ms` ago, and when the history
    began recording (before that there is no evidence either way), unless nothing was ever recorded."""
    times = {} if history is None else history.due_times(now_ms - lookback_ms - LOOKBACK_MS // 7)
    if not times and (history is None or not history.runs(limit=1)):
        return _without_history(tasks, now_ms, tz, lookback_ms)
    floor = max(now_ms - lookback_ms, history.recording_since() or 0) if history is not None else 0
    everything = sorted(t for runs in times.values() for t in runs)
    gaps: list[Gap] = []
    for task in tasks:
        if not task.recurring:
            continue
        start = max(task.createdAt, floor)
        slots = expected_slots(task.cron, start, now_ms, tz)
        own = times.get(task.id, [])
        mine = set(own)
        others = [t for t in everything if t not in mine] if own else everything
        gaps += find_gaps(task.id, slots, now_ms, own, others, task.lastFiredAt)
    gaps.sort(key=lambda g: (g.slot_ms, g.task_id))
    return gaps


def _without_history(tasks: list[CronTask], now_ms: int, tz: tzinfo, lookback_ms: int) -> list[Gap]:
    gaps: list[Gap] = []
    for task in tasks:
        if task.recurring:
            slots = expected_slots(task.cron, max(task.createdAt, now_ms - lookback_ms), now_ms, tz)
            gaps += [Gap(g.task_id, g.slot_ms, NO_HISTORY) for g in find_gaps(task.id, slots, now_ms, [], [])]
    gaps.sort(key=lambda g: (g.slot_ms, g.task_id))
    return gaps


def gaps_by_task(gaps: list[Gap]) -> dict[str, list[Gap]]:
    """task id -> its gaps, oldest first (tasks in the order of their first gap)."""
    grouped: dict[str, list[Gap]] = {}
    for gap in gaps:
        grouped.setdefault(gap.task_id, []).append(gap)
    return grouped
