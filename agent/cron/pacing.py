"""Pure: how many tasks may fire at all, and how fast runs may start (time passed in).

A tasks file is data a repository can commit: one holding 300 overdue recurring tasks must not spend
300 model requests in the first seconds. Two rules bound it:
- the task limit: at most `TASK_LIMIT` (50, Claude Code's limit) tasks fire; the rest, after ordering
  by creation time and id (as `agent cron list` shows them), are over the limit and never fire;
- pacing: the burst of tasks already due when the scheduler starts starts at most `maxStartsPerMinute`
  runs in any 60 seconds (setting `cron.maxStartsPerMinute`, default 10), in order over the following
  minutes; later fires are on time and not paced (a project's own 50 every-minute tasks all start in
  their minute), though they count as starts. A backlog task whose next slot falls due before its paced
  start leaves the backlog: the slot it waited with is recorded `skipped` (late), never lost silently,
  and the task is on time from then on (`BacklogPacer.release`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from agent.cron.task import CronTask

TASK_LIMIT = 50
DEFAULT_MAX_STARTS_PER_MINUTE = 10
MAX_STARTS_PER_MINUTE_CAP = 1000
WINDOW_MS = 60_000

T = TypeVar("T")


def split_at_limit(tasks: Sequence[CronTask], limit: int = TASK_LIMIT) -> tuple[list[CronTask], list[CronTask]]:
    """(tasks that may fire, tasks over the limit), oldest first by (createdAt, id)."""
    ordered = sorted(tasks, key=lambda t: (t.createdAt, t.id))
    return ordered[:limit], ordered[limit:]


def over_limit_note(over: Sequence[CronTask], limit: int = TASK_LIMIT) -> str:
    """One line naming the tasks that never fire; "" when there are none."""
    if not over:
        return ""
    ids = ", ".join(t.id for t in over[:10]) + (f" and {len(over) - 10} more" if len(over) > 10 else "")
    return (f"{len(over)} task(s) over the limit of {limit} will not fire: {ids} "
            "(delete some with `agent cron delete ID`)")


def max_starts_per_minute(cron_settings: Any) -> tuple[int, str | None]:
    """`cron.maxStartsPerMinute` from settings, and a warning when the value is unusable (the default
    is used then). A positive integer; values above the cap are cut to it."""
    value = cron_settings.get("maxStartsPerMinute") if isinstance(cron_settings, dict) else None
    if value is None:
        return DEFAULT_MAX_STARTS_PER_MINUTE, None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return DEFAULT_MAX_STARTS_PER_MINUTE, (
            f"cron.maxStartsPerMinute must be a positive whole number, not {value!r}; "
            f"using {DEFAULT_MAX_STARTS_PER_MINUTE}")
    return min(value, MAX_STARTS_PER_MINUTE_CAP), None


def recent_starts(starts: Sequence[int], now_ms: int) -> tuple[int, ...]:
    """The start times still inside the last minute."""
    return tuple(s for s in starts if now_ms - WINDOW_MS < s <= now_ms)


def split_backlog(due: Sequence[T], in_backlog: Callable[[T], bool]) -> tuple[list[T], list[T]]:
    """(fires on time, fires of the start-up backlog). Only the backlog is paced: a committed file of
    tasks due long ago starts `per_minute` at a time, while a project's own every-minute tasks start on
    time however many there are (up to the task limit)."""
    return [item for item in due if not in_backlog(item)], [item for item in due if in_backlog(item)]


def pace(due: Sequence[T], starts: Sequence[int], now_ms: int, per_minute: int) -> tuple[list[T], int | None]:
    """(what may start now, in the order given; when the next start is allowed if some must wait).

    `starts` are the times runs started before (older ones are ignored). The window slides: a start
    at t frees its slot at t + 60 s."""
    window = sorted(recent_starts(starts, now_ms))
    free = max(per_minute - len(window), 0)
    now, later = list(due[:free]), due[free:]
    if not later:
        return now, None
    taken = sorted([*window, *([now_ms] * len(now))])
    return now, taken[len(taken) - per_minute] + WINDOW_MS


def after_starting(starts: Sequence[int], now_ms: int, count: int) -> tuple[int, ...]:
    """The start times to remember after `count` runs started at now_ms."""
    return (*recent_starts(starts, now_ms), *([now_ms] * count))


class BacklogPacer:
    """The pacing state of one scheduler: the start-up backlog (task ids due at its first tick and not
    started yet) and the starts of the last minute. Time is passed in."""

    def __init__(self, per_minute: int = DEFAULT_MAX_STARTS_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self.starts: tuple[int, ...] = ()
        self.until: int | None = None  # when the next backlog start is allowed, while some wait
        self.backlog: set[str] | None = None  # None until the first tick

    def begin(self, due_ids: Sequence[str]) -> None:
        """At the first tick: what is due already is the backlog."""
        if self.backlog is None:
            self.backlog = set(due_ids)

    def waiting(self, task_id: str) -> bool:
        return bool(self.backlog) and task_id in self.backlog

    def release(self, task_id: str) -> None:
        """The task's next slot came before its paced start: it is on time from now on."""
        if self.backlog:
            self.backlog.discard(task_id)

    def select(self, due: Sequence[T], task_id: Callable[[T], str], now_ms: int) -> list[T]:
        """What starts now: every fire on time, and as much of the backlog as the window lets."""
        on_time, backlog = split_backlog(due, lambda item: self.waiting(task_id(item)))
        paced, self.until = pace(backlog, self.starts, now_ms, self.per_minute)
        for item in paced:
            self.release(task_id(item))
        starting = [*on_time, *paced]
        if starting:
            self.starts = after_starting(self.starts, now_ms, len(starting))
        return starting
