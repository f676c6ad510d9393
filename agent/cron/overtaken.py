"""Pure: start-up backlog slots overtaken while they waited for a paced start (time passed in).

A backlog task still waiting for its paced start (`BacklogPacer`) when its next slot falls due, or when
a pause of the process passed it, would otherwise lose the slot it waited with and leave no record (the
fire, when it came, would be stamped with a later slot). Here that slot becomes a `skipped` (late) fire
for the runs layer to record, and the task leaves the backlog, due at its latest slot and on time from
then on. Separate from the pacing rule itself (`pacing.py`, which knows nothing of due times) and from
the scheduler's shell, which only records what this returns.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.cron.due_times import DueTimes
from agent.cron.expr import CronError
from agent.cron.fires import DueEntry, FiredTask
from agent.cron.pacing import BacklogPacer

__all__ = ["take_overtaken"]


def take_overtaken(entries: Iterable[DueEntry], pacer: BacklogPacer, due_times: DueTimes, now: int,
                   owner: bool) -> list[FiredTask]:
    """The overtaken slots as skipped fires; each such task is released from the backlog and its entry
    moved on to its latest slot (a caller with a cache of the earliest entry marks it stale)."""
    skipped: list[FiredTask] = []
    if not pacer.backlog:
        return skipped
    for entry in entries:
        task = entry.task
        if not pacer.waiting(task.id) or not task.recurring or entry.due_ms is None or entry.due_ms > now:
            continue
        try:
            next_due = due_times.next_slot(task, entry.due_ms)
        except (CronError, ValueError, OverflowError):
            continue
        if next_due is None or next_due > now:
            continue
        reason = (f"late: the start-up backlog starts {pacer.per_minute} runs a minute "
                  "(cron.maxStartsPerMinute) and this task's next slot came first")
        skipped.append(FiredTask(task, entry.durable, entry.due_ms, now, owner, False, reason))
        pacer.release(task.id)
        entry.due_ms = due_times.latest_due(task, entry.due_ms, now)
    return skipped
