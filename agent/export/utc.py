"""A local-time cron expression as UTC cron expressions, for schedulers that only know UTC (pure).

GitHub Actions runs `on.schedule` in UTC. Each (hour, minute) of the expression is moved by the zone's
standard offset; runs that cross midnight move their days with them, so one expression can become a few
(grouped by day shift and by minute set, whose union is exactly the original). Moving days is exact
only where cron can name the new day: weekdays always rotate, but "the day before the 1st" or "the day
after the 28th" cannot be written, nor can a month boundary, so those are refused with the reason.

A zone with daylight saving time has two offsets; the standard one is used, and `UtcSchedule.dst_note`
says how the runs move by the local clock while DST is in effect (None when they do not move, as for
schedules that run every hour). Pure: the zone and the current time are arguments.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from agent.cron.expr import CronExpr
from agent.export.calendar import ExportError, cron_list, zone_transitions

__all__ = ["MIN_INTERVAL_MINUTES", "UtcSchedule", "utc_schedule"]

MIN_INTERVAL_MINUTES = 5  # GitHub Actions runs schedules at most this often
_DAY_MINUTES = 1440


@dataclass(frozen=True)
class UtcSchedule:
    """UTC cron expressions whose union is the task's schedule, and what DST does to it, if anything."""

    crons: tuple[str, ...]
    offset: timedelta
    dst_note: str | None = None


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _shift_days(expr: CronExpr, shift: int) -> tuple[str, str, str]:
    """(day-of-month, month, day-of-week) fields for runs moved by `shift` days, or ExportError."""
    dom = cron_list(expr.days_of_month, 1, 31) if expr.dom_restricted else "*"
    months = cron_list(expr.months, 1, 12)
    dow = cron_list(expr.days_of_week, 0, 6) if expr.dow_restricted else "*"
    if shift == 0:
        return dom, months, dow
    where = "before midnight" if shift < 0 else "after midnight"
    if len(expr.months) < 12 and not (expr.dom_restricted and not expr.dow_restricted):
        raise ExportError(f"some runs move to the day {where} in UTC, and cron cannot move a month with them")
    if expr.dom_restricted:
        edge = {1, 29, 30, 31} if shift < 0 else {28, 29, 30, 31}
        if edge & set(expr.days_of_month):
            days = ", ".join(str(d) for d in sorted(edge & set(expr.days_of_month)))
            raise ExportError(f"some runs move to the day {where} in UTC, and cron cannot name the day "
                              f"next to day {days} of a month")
        dom = cron_list(tuple(d + shift for d in expr.days_of_month), 1, 31)
    if expr.dow_restricted:
        dow = cron_list(tuple(sorted((d + shift) % 7 for d in expr.days_of_week)), 0, 6)
    return dom, months, dow


def _translate(expr: CronExpr, offset: timedelta) -> tuple[str, ...]:
    shift_minutes = int(offset.total_seconds() // 60)
    if offset % timedelta(minutes=1):
        raise ExportError(f"the zone's offset {offset} is not a whole number of minutes")
    # UTC hour -> minutes, per day fields (runs moved across midnight get their own day fields)
    groups: dict[tuple[str, str, str], dict[int, set[int]]] = {}
    for hour in expr.hours:
        for minute in expr.minutes:
            day, rest = divmod(hour * 60 + minute - shift_minutes, _DAY_MINUTES)
            groups.setdefault(_shift_days(expr, day), {}).setdefault(rest // 60, set()).add(rest % 60)
    crons: list[str] = []
    for (dom, months, dow), hours_minutes in groups.items():
        by_minutes: dict[tuple[int, ...], list[int]] = {}
        for hour, minutes in sorted(hours_minutes.items()):
            by_minutes.setdefault(tuple(sorted(minutes)), []).append(hour)
        for minutes, hours in by_minutes.items():
            crons.append(" ".join((cron_list(minutes, 0, 59), cron_list(tuple(hours), 0, 23), dom, months, dow)))
    return tuple(crons)


def _too_frequent(expr: CronExpr) -> bool:
    """True when two runs can come less than MIN_INTERVAL_MINUTES apart (local wall clock)."""
    minutes = expr.minutes
    gaps = [b - a for a, b in itertools.pairwise(minutes)]
    hours = set(expr.hours)
    if any((h + 1) % 24 in hours for h in hours):  # the last minute of one hour, the first of the next
        gaps.append(60 - minutes[-1] + minutes[0])
    return any(gap < MIN_INTERVAL_MINUTES for gap in gaps)


def utc_schedule(expr: CronExpr, zone: tzinfo, zone_name: str, now: datetime) -> UtcSchedule:
    """The expression in UTC for `zone` over the coming year, or ExportError saying why it cannot be."""
    if _too_frequent(expr):
        raise ExportError(f"{expr.text!r} runs less than {MIN_INTERVAL_MINUTES} minutes apart, "
                          f"and GitHub Actions runs schedules at most every {MIN_INTERVAL_MINUTES} minutes")
    local_now = now.astimezone(zone)
    changes = zone_transitions(zone, now, 1)
    offsets = {local_now.utcoffset()} | {c.before for c in changes} | {c.after for c in changes}
    standard = _standard_offset(zone, local_now, changes)
    try:
        crons = _translate(expr, standard)
    except ExportError as exc:
        raise ExportError(f"{expr.text!r} in {zone_name} cannot be written in UTC: {exc}") from None
    others = sorted(o for o in offsets if o is not None and o != standard)
    note = None
    for other in others:
        try:
            moved = _translate(expr, other) != crons
        except ExportError:
            moved = True
        if moved:
            hours = (other - standard) / timedelta(hours=1)
            later = "later" if hours > 0 else "earlier"
            note = (f"{zone_name} uses {_offset_text(other)} during daylight saving time and {_offset_text(standard)} "
                    f"otherwise; these UTC times follow {_offset_text(standard)}, so while daylight saving time "
                    f"is in effect the runs come {abs(hours):g} hour{'s' if abs(hours) != 1 else ''} {later} "
                    "by the local clock")
            break
    return UtcSchedule(crons, standard, note)


def _standard_offset(zone: tzinfo, local_now: datetime, changes: tuple) -> timedelta:
    """The offset in force when the zone is not on daylight saving time (the current one if unknown)."""
    moments = [local_now, *(c.at.astimezone(zone) for c in changes)]
    for moment in moments:
        dst = moment.dst()
        offset = moment.utcoffset()
        if dst is not None and offset is not None and not dst:
            return offset
    offset = local_now.utcoffset()
    assert offset is not None
    return offset
