"""The gap check of a project: durable tasks' expected fires against the run history (shell).

Reads the tasks file and the history; the judging is the pure `agent.cron.gaps`. Used by
`agent cron status`, `/cron status` and the daemon's hourly check.
"""

from __future__ import annotations

from datetime import tzinfo

from agent.cron.gaps import Gap, expected_slots, find_gaps
from agent.cron.history import RunHistory
from agent.cron.task import CronTask

__all__ = ["LOOKBACK_MS", "find_project_gaps"]

LOOKBACK_MS = 7 * 86_400_000


def find_project_gaps(tasks: list[CronTask], history: RunHistory, now_ms: int, tz: tzinfo,
                      lookback_ms: int = LOOKBACK_MS) -> list[Gap]:
    """Every expected fire of a recurring durable task with no recorded run, oldest first.

    The window starts at the latest of: the task's creation, `lookback_ms` ago, and when the history
    began recording (before that there is no evidence either way)."""
    floor = max(now_ms - lookback_ms, history.recording_since() or 0)
    times = history.due_times(floor - LOOKBACK_MS // 7)  # a day before, for the interval around a slot
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
