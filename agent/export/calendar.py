"""Cron expressions in other schedulers' words (pure): normalised cron text and systemd `OnCalendar=`.

The translation works on the parsed value sets, never on the text, so our day rule (a day field that
covers its whole range is unrestricted) reaches every target unchanged: such a field is written `*`.

systemd ANDs the weekday with the day of the month, where cron ORs them when both are restricted; that
case becomes two `OnCalendar=` lines, whose union is exactly the cron rule. Wall-clock times are the
same everywhere except at daylight-saving changes, where systemd and `next_fire` differ:

- a matching time in a spring-forward gap: systemd skips it, `next_fire` runs it when the gap ends;
- a matching time in an autumn fold with an unrestricted hour field: `next_fire` runs both, systemd one.

Values are written as lists and `a..b` ranges, never systemd's `a/step` repetitions: systemd 252 failed
("Resource deadlock avoided") or fired differently on some of those (`*-01/10-*` across a new year).

`systemd_calendar` refuses an expression that meets either case in the zone's coming years (with the
date and time in the reason), except when the schedule is the same in UTC, which it then uses.
Pure: the zone and the current time are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from agent.cron.expr import CronExpr

__all__ = [
    "ExportError",
    "Transition",
    "cron_list",
    "dst_conflict",
    "matches_wall",
    "normalized_cron",
    "on_calendar_lines",
    "systemd_calendar",
    "zone_transitions",
]

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # systemd's order; cron counts Sunday as 0
_HOUR = timedelta(hours=1)
DST_HORIZON_YEARS = 10


class ExportError(ValueError):
    """A task that cannot be exported exactly to the chosen target; the message says why."""


@dataclass(frozen=True)
class Transition:
    """A change of UTC offset: at `at` (aware, UTC) the offset goes from `before` to `after`."""

    at: datetime
    before: timedelta
    after: timedelta


def _runs(values: tuple[int, ...]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted values: (1, 2, 3, 7) -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _step(values: tuple[int, ...]) -> int:
    """N when the values are first, first+N, first+2N, ... (at least three of them, N > 1), else 0."""
    if len(values) < 3:
        return 0
    step = values[1] - values[0]
    return step if step > 1 and values == tuple(range(values[0], values[-1] + 1, step)) else 0


def cron_list(values: tuple[int, ...], low: int, high: int) -> str:
    """One cron field for a set of values: `*`, `*/N`, `A-B/N`, or runs and single values."""
    if len(values) == high - low + 1:
        return "*"
    if len(values) > 1 and values == tuple(range(low, high + 1, values[1] - values[0])):
        return f"*/{values[1] - values[0]}"
    step = _step(values)
    if step:
        return f"{values[0]}-{values[-1]}/{step}"
    return ",".join(str(a) if a == b else f"{a}-{b}" if b > a + 1 else f"{a},{b}" for a, b in _runs(values))


def normalized_cron(expr: CronExpr) -> str:
    """The expression rebuilt from its value sets: the same schedule in every standard cron
    (cronie, robfig/cron in Kubernetes, GitHub Actions), with `*` for each unrestricted field."""
    dom = cron_list(expr.days_of_month, 1, 31) if expr.dom_restricted else "*"
    dow = cron_list(expr.days_of_week, 0, 6) if expr.dow_restricted else "*"
    return " ".join((cron_list(expr.minutes, 0, 59), cron_list(expr.hours, 0, 23), dom,
                     cron_list(expr.months, 1, 12), dow))


def _systemd_list(values: tuple[int, ...], low: int, high: int) -> str:
    if len(values) == high - low + 1:
        return "*"
    return ",".join(f"{a:02d}" if a == b else f"{a:02d}..{b:02d}" if b > a + 1 else f"{a:02d},{b:02d}"
                    for a, b in _runs(values))


def _systemd_weekdays(cron_days: tuple[int, ...]) -> str:
    indexes = tuple(sorted((day + 6) % 7 for day in cron_days))  # Sunday 0 -> 6
    return ",".join(_WEEKDAYS[a] if a == b else f"{_WEEKDAYS[a]}..{_WEEKDAYS[b]}" for a, b in _runs(indexes))


def on_calendar_lines(expr: CronExpr, zone_name: str) -> list[str]:
    """`OnCalendar=` values whose union is the expression's wall-clock schedule in `zone_name`."""
    time = f"{_systemd_list(expr.hours, 0, 23)}:{_systemd_list(expr.minutes, 0, 59)}:00 {zone_name}"
    months = _systemd_list(expr.months, 1, 12)
    by_weekday = f"{_systemd_weekdays(expr.days_of_week)} *-{months}-* {time}"
    by_date = f"*-{months}-{_systemd_list(expr.days_of_month, 1, 31)} {time}"
    if expr.dom_restricted and expr.dow_restricted:
        return [by_weekday, by_date]  # cron ORs the day fields; systemd ORs OnCalendar= lines
    return [by_weekday] if expr.dow_restricted else [by_date]


@lru_cache(maxsize=64)
def zone_transitions(zone: tzinfo, start: datetime, years: int) -> tuple[Transition, ...]:
    """Offset changes of `zone` from `start` (aware) for about `years` years, to the second."""
    found: list[Transition] = []
    day = start.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    offset = day.astimezone(zone).utcoffset()
    for _ in range(years * 366):
        later = day + timedelta(days=1)
        later_offset = later.astimezone(zone).utcoffset()
        if later_offset != offset:
            found.append(_bisect(zone, day, later, offset, later_offset))
        day, offset = later, later_offset
    return tuple(found)


def _bisect(zone: tzinfo, low: datetime, high: datetime, before, after) -> Transition:
    lo, hi = 0, int((high - low).total_seconds())
    while hi - lo > 1:
        middle = (lo + hi) // 2
        if (low + timedelta(seconds=middle)).astimezone(zone).utcoffset() == before:
            lo = middle
        else:
            hi = middle
    return Transition(low + timedelta(seconds=hi), before, after)


def matches_wall(expr: CronExpr, wall: datetime) -> bool:
    """Whether a wall-clock minute matches the expression (the day rule included)."""
    if wall.minute not in expr.minutes or wall.hour not in expr.hours or wall.month not in expr.months:
        return False
    by_date = wall.day in expr.days_of_month
    by_weekday = (wall.weekday() + 1) % 7 in expr.days_of_week
    if expr.dom_restricted and expr.dow_restricted:
        return by_date or by_weekday
    return by_weekday if expr.dow_restricted else by_date


def _first_match(expr: CronExpr, start: datetime, end: datetime) -> datetime | None:
    """The first matching wall minute in [start, end) (naive wall times)."""
    minute = start.replace(second=0, microsecond=0)
    if minute < start:
        minute += timedelta(minutes=1)
    while minute < end:
        if matches_wall(expr, minute):
            return minute
        minute += timedelta(minutes=1)
    return None


def dst_conflict(expr: CronExpr, zone_name: str, transitions: tuple[Transition, ...]) -> str | None:
    """Why systemd would fire differently from `next_fire` at one of these transitions, or None."""
    for change in transitions:
        utc = change.at.replace(tzinfo=None)
        if change.after > change.before:  # spring forward: wall times in the gap do not exist
            hit = _first_match(expr, utc + change.before, utc + change.after)
            if hit is not None:
                return (f"it fires at {hit:%H:%M} on {hit:%Y-%m-%d}, a time {zone_name} skips when the clocks "
                        "go forward: systemd would skip that run, agent runs it when the clocks have moved")
        elif not expr.hour_restricted:  # autumn fold: agent fires in both occurrences
            hit = _first_match(expr, utc + change.after, utc + change.before)
            if hit is not None:
                return (f"it fires at {hit:%H:%M} on {hit:%Y-%m-%d}, a time that happens twice in {zone_name} "
                        "when the clocks go back: agent runs both, systemd only the first")
    return None


def _same_in_utc(expr: CronExpr, now: datetime, transitions: tuple[Transition, ...]) -> bool:
    """True when the schedule is the same instants in UTC: an every-hour schedule with no day or month
    restriction, whole-hour offsets and changes, and minute 0 in the set (a gap's collapsed fire)."""
    if expr.hour_restricted or expr.dom_restricted or expr.dow_restricted or len(expr.months) < 12:
        return False
    offsets = {now.utcoffset()} | {t.before for t in transitions} | {t.after for t in transitions}
    whole = all(o is not None and o % _HOUR == timedelta(0) for o in offsets)
    on_the_hour = all(t.at.minute == 0 and t.at.second == 0 for t in transitions)
    return whole and on_the_hour and 0 in expr.minutes


def systemd_calendar(expr: CronExpr, zone: tzinfo, zone_name: str, now: datetime) -> list[str]:
    """`OnCalendar=` values firing exactly when `next_fire` does in `zone`, or ExportError saying why not.

    `now` (aware) starts the look at the zone's daylight-saving changes over the coming years."""
    transitions = zone_transitions(zone, now, DST_HORIZON_YEARS)
    if not transitions:
        return on_calendar_lines(expr, zone_name)
    if _same_in_utc(expr, now.astimezone(zone), transitions):
        return on_calendar_lines(expr, "UTC")
    problem = dst_conflict(expr, zone_name, transitions)
    if problem:
        raise ExportError(f"systemd cannot express {expr.text!r} exactly: {problem}")
    return on_calendar_lines(expr, zone_name)
