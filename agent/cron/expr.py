"""Five-field cron expressions: parsing, next-fire computation and plain-English descriptions.

Pure: no I/O and no clock reads (except `validate_cron` when it is not given `now`).

Syntax: ``minute hour day-of-month month day-of-week`` in local time; minute 0-59, hour 0-23,
day-of-month 1-31, month 1-12, day-of-week 0-7 (0 and 7 are Sunday, also as a range end: ``5-7`` is
Fri,Sat,Sun). Items are ``*``, ``*/N``, ``N``, ``N-M`` and ``N-M/S``, joined by commas. A step is any
whole number from 1 up (a step beyond the range keeps only the first value: ``*/60`` is minute 0), and
numbers may carry any number of leading zeros (``0000005``), as Claude Code accepts. Nothing else is
accepted (no names, ``?``, ``L``, ``W``, ``#`` or @macros).

Horizon: an expression that can fire at all fires within 8 years (29 February skips at most one
century year), so `next_fire` searches 9 years ahead and None means "never fires".

Day rule: a day field is unrestricted when it covers its whole range (``*``, ``*/1``, ``1-31``, ``0-6``,
``0-7`` or any list covering every value); the other day field then decides alone. When both are
restricted, a day matches if either matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import MAXYEAR, date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache

__all__ = [
    "CronError",
    "CronExpr",
    "describe_cron",
    "next_fire",
    "next_fires",
    "parse_cron",
    "validate_cron",
]

# (name, lowest, highest accepted value); day-of-week accepts 7 and folds it onto 0.
_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
)
_FIELD_SPLIT = re.compile(r"[ \t]+")
_MAX_DIGITS = 6  # longer numbers (leading zeros aside) are out of range anyway; avoids int() on huge strings
# Every expression that can fire fires within 8 years (a 29 February after 2096 comes in 2104).
_SEARCH_YEARS = 9
# Backward DST shifts are at most 2 h in the tz database; the slow path looks this far back so that
# the second occurrence of a repeated hour is never missed.
_FOLD_LOOKBACK = timedelta(hours=6)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_ONE_MINUTE = timedelta(minutes=1)


class CronError(ValueError):
    """An invalid cron expression; the message names the field and the reason."""


def _mask(values: tuple[int, ...]) -> int:
    bits = 0
    for v in values:
        bits |= 1 << v
    return bits


def _next_bit(mask: int, start: int) -> int:
    """Lowest set bit position >= start, or -1."""
    rest = mask >> start
    if not rest:
        return -1
    return start + (rest & -rest).bit_length() - 1


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month]


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A parsed expression: sorted value tuples per field (days_of_week 0-6, Sunday=0) and its text."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]
    _minute_mask: int = field(init=False, repr=False, compare=False)
    _hour_mask: int = field(init=False, repr=False, compare=False)
    _dom_mask: int = field(init=False, repr=False, compare=False)
    _month_mask: int = field(init=False, repr=False, compare=False)
    _dow_gap: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not all((self.minutes, self.hours, self.days_of_month, self.months, self.days_of_week)):
            raise CronError("every field needs at least one value")
        object.__setattr__(self, "_minute_mask", _mask(self.minutes))
        object.__setattr__(self, "_hour_mask", _mask(self.hours))
        object.__setattr__(self, "_dom_mask", _mask(self.days_of_month))
        object.__setattr__(self, "_month_mask", _mask(self.months))
        dows = set(self.days_of_week)
        # _dow_gap[w]: days from weekday w (Sunday=0) to the next allowed weekday, 0 if w itself.
        gaps = tuple(next(k for k in range(7) if (w + k) % 7 in dows) for w in range(7))
        object.__setattr__(self, "_dow_gap", gaps)

    @property
    def dom_restricted(self) -> bool:
        return len(self.days_of_month) < 31

    @property
    def dow_restricted(self) -> bool:
        return len(self.days_of_week) < 7

    @property
    def hour_restricted(self) -> bool:
        """False when the hour field covers all 24 hours; such schedules repeat in a DST fold."""
        return len(self.hours) < 24

    def _day_in_month(self, year: int, month: int, day: int) -> int:
        """The first matching day >= `day` in this month (month assumed to match), or 0."""
        last = _days_in_month(year, month)
        if day > last:
            return 0
        if not self.dom_restricted and not self.dow_restricted:
            return day
        best = 0
        if self.dom_restricted:
            found = _next_bit(self._dom_mask, day)
            if 0 < found <= last:
                best = found
        if self.dow_restricted:
            found = day + self._dow_gap[(date(year, month, day).weekday() + 1) % 7]
            if found <= last and (not best or found < best):
                best = found
        return best

    def _next_day(self, year: int, month: int, day: int, last_year: int) -> tuple[int, int, int] | None:
        """The first matching date on or after year-month-day, not later than `last_year`."""
        while year <= last_year:
            if (self._month_mask >> month) & 1:
                found = self._day_in_month(year, month, day)
                if found:
                    return year, month, found
            month = _next_bit(self._month_mask, month + 1)
            if month < 0:
                year += 1
                month = self.months[0]
            day = 1
        return None

    def _next_wall(
        self, year: int, month: int, day: int, hour: int, minute: int, last_year: int
    ) -> tuple[int, int, int, int, int] | None:
        """The first matching wall-clock minute strictly after the given one (no time zone)."""
        if (self._month_mask >> month) & 1 and self._day_in_month(year, month, day) == day:
            if (self._hour_mask >> hour) & 1:
                found = _next_bit(self._minute_mask, minute + 1)
                if found >= 0:
                    return year, month, day, hour, found
            later_hour = _next_bit(self._hour_mask, hour + 1)
            if later_hour >= 0:
                return year, month, day, later_hour, self.minutes[0]
        nxt = self._next_day(year, month, day + 1, last_year)
        if nxt is None:
            return None
        return *nxt, self.hours[0], self.minutes[0]


def _parse_number(token: str, name: str, what: str, *, cap: int | None = None) -> int:
    """A decimal number; leading zeros are fine. Above `cap` (for steps) it counts as `cap`."""
    if not token:
        raise CronError(f"{name}: missing {what}")
    if not (token.isascii() and token.isdigit()):
        raise CronError(f"{name}: {what} {token!r} is not a number")
    digits = token.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        if cap is not None:
            return cap
        raise CronError(f"{name}: {what} {_shorten(token)} is too large")
    value = int(digits)
    return value if cap is None else min(value, cap)


def _shorten(token: str) -> str:
    return token if len(token) <= 20 else f"{token[:8]}...({len(token)} digits)"


def _parse_item(item: str, name: str, low: int, high: int) -> range:
    if not item:
        raise CronError(f"{name}: empty item in list")
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        # Any step past the field's span selects only the start, like a step of span + 1.
        step = _parse_number(step_text, name, "step", cap=high - low + 1)
        if step < 1:
            raise CronError(f"{name}: step {step} must be at least 1")
    if base == "*":
        return range(low, high + 1, step)
    start_text, dash, end_text = base.partition("-")
    if not dash and slash:
        raise CronError(f"{name}: a step needs '*' or a range before '/', got {item!r}")
    start = _parse_number(start_text, name, "value" if not dash else "range start")
    end = _parse_number(end_text, name, "range end") if dash else start
    for value in (start, end):
        if not low <= value <= high:
            raise CronError(f"{name}: {value} is out of range {low}-{high}")
    if start > end:
        raise CronError(f"{name}: range {start}-{end} is reversed (start is after end)")
    return range(start, end + 1, step)


def _parse_field(text: str, index: int) -> tuple[int, ...]:
    name, low, high = _FIELDS[index]
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, name, low, high))
    if index == 4 and 7 in values:  # 7 is another spelling of Sunday
        values.discard(7)
        values.add(0)
    return tuple(sorted(values))


@lru_cache(maxsize=2048)
def parse_cron(text: str) -> CronExpr:
    """Parse a 5-field cron expression; raise CronError naming the field and the reason."""
    if not isinstance(text, str):
        raise CronError(f"expected a string, got {type(text).__name__}")
    stripped = text.strip()
    parts = _FIELD_SPLIT.split(stripped) if stripped else []
    if len(parts) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
    fields = [_parse_field(part, i) for i, part in enumerate(parts)]
    return CronExpr(" ".join(parts), *fields)


def _coerce(expr_or_text: CronExpr | str) -> CronExpr:
    return expr_or_text if isinstance(expr_or_text, CronExpr) else parse_cron(expr_or_text)


def next_fire(expr_or_text: CronExpr | str, after: datetime) -> datetime | None:
    """The first fire strictly after `after` (aware), in after's zone, or None if it never fires.

    Wall times are matched in after's zone, then mapped to instants by cronie's DST rules (except that
    matches inside one gap collapse into a single fire):

    - Spring-forward gap: a matching wall time that does not exist fires once at the first instant
      after the gap (2:30 in New York fires at 3:00); all matches inside one gap collapse into that
      single fire.
    - Autumn fold (a wall time that occurs twice): a schedule with a restricted hour field fires only
      at the first occurrence. When the hour field is unrestricted (``*``, ``*/1``, ``0-23``...) the
      schedule keeps its real-time rhythm and fires in both occurrences.

    Candidates are compared in absolute time, so `after` may itself lie in a fold.
    """
    expr = _coerce(expr_or_text)
    zone = after.tzinfo
    offset = after.utcoffset()
    if zone is None or offset is None:
        raise ValueError("next_fire needs a timezone-aware datetime")
    after_utc = after.replace(tzinfo=None) - offset
    local = after_utc.replace(tzinfo=timezone.utc).astimezone(zone)  # canonical wall time and fold
    offset = local.utcoffset()
    last_year = min(local.year + _SEARCH_YEARS, MAXYEAR - 1)
    wall = expr._next_wall(local.year, local.month, local.day, local.hour, local.minute, last_year)
    if wall is None:
        return None
    candidate = datetime(*wall, tzinfo=zone)
    if (
        candidate.utcoffset() == offset
        and candidate.replace(fold=1).utcoffset() == offset
        and local.replace(fold=1 - local.fold).utcoffset() == offset
    ):
        # Same offset at both ends and neither is ambiguous: no DST rule can change the answer.
        return candidate
    fire_utc = _next_fire_across_transition(expr, zone, after_utc, last_year)
    if fire_utc is None:
        return None
    return fire_utc.replace(tzinfo=timezone.utc).astimezone(zone)


def _next_fire_across_transition(
    expr: CronExpr, zone: tzinfo, after_utc: datetime, last_year: int
) -> datetime | None:
    """Slow path near DST transitions: walk matching wall times, mapping each to its instants."""
    start = (after_utc - _FOLD_LOOKBACK).replace(tzinfo=timezone.utc).astimezone(zone)
    cursor = (start.year, start.month, start.day, start.hour, start.minute)
    both_folds = not expr.hour_restricted
    best: datetime | None = None
    while (wall := expr._next_wall(*cursor, last_year)) is not None:
        first, second = _instants(datetime(*wall), zone, both_folds)
        # First occurrences (and gap ends) never decrease with wall time, so nothing later can win.
        if best is not None and first >= best:
            break
        for instant in (first, second):
            if instant is not None and instant > after_utc and (best is None or instant < best):
                best = instant
        cursor = wall
    return best


def _instants(wall: datetime, zone: tzinfo, both_folds: bool) -> tuple[datetime, datetime | None]:
    """Naive-UTC instants at which a matching naive wall time fires: (first, second occurrence)."""
    early = wall.replace(tzinfo=zone).utcoffset()
    late = wall.replace(tzinfo=zone, fold=1).utcoffset()
    assert early is not None and late is not None
    if early == late:
        return wall - early, None
    if early > late:  # repeated wall time (fold): fold=0 is the first occurrence
        return wall - early, (wall - late if both_folds else None)
    return _gap_end(wall - late, wall - early, zone, early), None


def _gap_end(before: datetime, after: datetime, zone: tzinfo, old_offset: timedelta) -> datetime:
    """The transition instant (naive UTC, rounded up to a minute) between `before` and `after`.

    Bisects whole seconds: `before` still has `old_offset`, `after` already has the new one.
    """
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        moment = (before + timedelta(seconds=middle)).replace(tzinfo=timezone.utc)
        if moment.astimezone(zone).utcoffset() == old_offset:
            low = middle
        else:
            high = middle
    transition = before + timedelta(seconds=high)
    floor = transition.replace(second=0, microsecond=0)
    return floor if floor == transition else floor + _ONE_MINUTE


def next_fires(expr_or_text: CronExpr | str, after: datetime, count: int) -> list[datetime]:
    """Up to `count` consecutive fires after `after` (fewer if the schedule runs dry)."""
    expr = _coerce(expr_or_text)
    fires: list[datetime] = []
    while len(fires) < count:
        fire = next_fire(expr, fires[-1] if fires else after)
        if fire is None:
            break
        fires.append(fire)
    return fires


def validate_cron(text: str, now: datetime | None = None) -> CronExpr:
    """Parse `text` and require that it fires at all after `now` (default: the current local time).

    However far away: `0 0 29 2 *` is valid in 2026 (29 February 2028); `0 0 31 4 *` never fires."""
    expr = parse_cron(text)
    start = now if now is not None else datetime.now().astimezone()
    if next_fire(expr, start) is None:
        raise CronError(f"never fires: no date matches {expr.text!r} (check the day and month)")
    return expr


def _clock(hour: int, minute: int) -> str:
    return f"{hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def _even_step(values: tuple[int, ...], cycle: int) -> int:
    """N when values are exactly 0, N, 2N... and N divides the cycle evenly, else 0."""
    step = values[1] - values[0] if len(values) > 1 else cycle
    if values[0] != 0 or cycle % step or values != tuple(range(0, cycle, step)):
        return 0
    return step


def describe_cron(expr_or_text: CronExpr | str) -> str:
    """A short English description ("Every 5 minutes", "Weekdays at 9:30 AM"), else the expression.

    Only common shapes are described; anything else (or an invalid expression) is returned as written,
    so a description is never wrong.
    """
    try:
        expr = _coerce(expr_or_text)
    except CronError:
        return str(expr_or_text)
    if expr.dom_restricted or len(expr.months) < 12:
        return expr.text
    mins, hours = expr.minutes, expr.hours
    if expr.dow_restricted:
        if len(mins) != 1 or len(hours) != 1:
            return expr.text
        at = _clock(hours[0], mins[0])
        days = expr.days_of_week
        if days == (1, 2, 3, 4, 5):
            return f"Weekdays at {at}"
        if days == (0, 6):
            return f"Weekends at {at}"
        return f"Every {_DAY_NAMES[days[0]]} at {at}" if len(days) == 1 else expr.text
    if not expr.hour_restricted:
        if len(mins) == 60:
            return "Every minute"
        if len(mins) == 1:
            return "Every hour" if mins[0] == 0 else f"Every hour at :{mins[0]:02d}"
        step = _even_step(mins, 60)
        return f"Every {step} minutes" if step else expr.text
    if len(mins) != 1:
        return expr.text
    if len(hours) == 1:
        return f"Every day at {_clock(hours[0], mins[0])}"
    step = _even_step(hours, 24)
    if not step:
        return expr.text
    return f"Every {step} hours" + (f" at :{mins[0]:02d}" if mins[0] else "")
