"""Parse `/loop [interval] <prompt>` into a cron expression (pure).

Accepted forms, tried in this order:

1. a leading 5-field cron expression, taken as is: `*/5 9-17 * * 1-5 run the tests`;
2. a leading interval: `5m /check-tests`, `2 hours check the deploy`, `every 30s ping`;
3. a trailing interval: `check the deploy every 20m`, `... every 2 hours`, `... every day`;
4. no interval: every 10 minutes (`defaulted` is set, so the caller can say so).

Before 2 and 3, calendar words at the start or the end (`daily at 9am`, `every tuesday at 9`,
`weekdays at 18:30`; see loop_calendar) become their cron (`0 9 * * *`, `0 9 * * 2`, `30 18 * * 1-5`),
and before 4, words that look like a schedule it cannot read (`each morning`, `every tuesday` with no
time) are an error that lists the forms it understands: the 10-minute default is only for a prompt
with no schedule in it.

It never guesses silently: five leading words that look like cron fields but do not parse are an
error naming the field (`0 9 * * 8` -> `day-of-week: 8 is out of range 0-7`), and so is a leading
number with a unit it does not know (`5x`), rather than a prompt run every 10 minutes.

Units: s/sec/secs/second(s), m/min/mins/minute(s), h/hr/hrs/hour(s), d/day(s), w/wk/week(s).
Cron has no seconds, and a `*/N` step only keeps an even rhythm when N divides the next unit, so:

- seconds round UP to whole minutes (`30s` runs every minute);
- minutes must divide 60 and hours must divide 24; anything else goes to the nearest interval that
  does, converting upwards when needed (`90m` is every 2 hours). Ties go to the LONGER interval
  (`8m` -> 10m, `45m` -> hourly): every fire is a model turn, so a loop never runs more often than asked
  because of rounding alone;
- 1 day is `0 0 * * *` (midnight); 2-6 days use `*/N` on the day of month, which restarts on the 1st of
  each month (the note says so); 7 days / 1 week is Mondays at midnight; longer is an error (give a
  cron expression instead). Hourly and daily schedules start at minute 0: jitter spreads the load.

`note` says what was rounded and why; it is None when the interval was used exactly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from agent.cron.expr import CronError, parse_cron
from agent.cron.loop_calendar import CALENDAR_HELP, CalendarError, calendar_schedule, schedule_words

__all__ = ["DEFAULT_LOOP_CRON", "LOOP_FLAGS", "UNITS_HELP", "LoopError", "LoopSpec", "parse_loop",
           "slot_taken_by_first_run", "split_loop_flags"]

DEFAULT_LOOP_CRON = "*/10 * * * *"
LOOP_FLAGS = ("--durable", "--worktree")  # leading options of /loop, in any order
_USAGE = "Usage: /loop [interval] <prompt>, e.g. /loop 5m check the build (the interval defaults to 10m)"

_UNIT_WORDS = {
    "s": ("s", "sec", "secs", "second", "seconds"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
    "w": ("w", "wk", "wks", "week", "weeks"),
}
_UNIT_OF = {word: unit for unit, words in _UNIT_WORDS.items() for word in words}
_UNIT_RE = "|".join(sorted(_UNIT_OF, key=len, reverse=True))
_NUMBER_RE = r"[+-]?\d+"

_LEADING = re.compile(
    rf"(?:(?P<every>every)\s+)?(?:(?P<n>{_NUMBER_RE})\s*)?(?P<unit>{_UNIT_RE})(?=\s|$)(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)
_TRAILING = re.compile(
    rf"(?P<rest>.*?)\s+every\s+(?:(?P<n>{_NUMBER_RE})\s*)?(?P<unit>{_UNIT_RE})\s*[.!]?",
    re.IGNORECASE | re.DOTALL,
)
_LEADING_CRON = re.compile(r"(\S+\s+\S+\s+\S+\s+\S+\s+\S+)(?:\s+(.*))?", re.DOTALL)
# A word that can only be meant as a cron field: digits and * / , - ?, or day and month names
# (which parse_cron rejects with a clear message, better than running "MON-FRI ..." as a prompt).
_NAMES = "sun|mon|tue|wed|thu|fri|sat|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_CRON_FIELD = re.compile(rf"[\d*/,?-]+|(?:{_NAMES})(?:[-,/](?:{_NAMES}|\d+))*", re.IGNORECASE)
# `5x check`: a number with a unit glued on that is not one of ours (ordinals like 1st are prompts).
_BAD_UNIT = re.compile(r"(?:every\s+)?[+-]?(?P<n>\d+)(?P<unit>[A-Za-z]+)(?=\s|$)", re.IGNORECASE)
_ORDINALS = {"st", "nd", "rd", "th"}
UNITS_HELP = "s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. 30s, 5m, 2h, 1d"

_HOUR, _DAY, _WEEK = 60, 1440, 10080
_UNIT_MINUTES = {"m": 1, "h": _HOUR, "d": _DAY, "w": _WEEK}
# Every schedule an interval can become: (minutes, cron, how to say it).
_SCHEDULES: list[tuple[int, str, str]] = [
    (1, "* * * * *", "every minute"),
    *((n, f"*/{n} * * * *", f"every {n} minutes") for n in (2, 3, 4, 5, 6, 10, 12, 15, 20, 30)),
    (_HOUR, "0 * * * *", "every hour"),
    *((n * _HOUR, f"0 */{n} * * *", f"every {n} hours") for n in (2, 3, 4, 6, 8, 12)),
    (_DAY, "0 0 * * *", "every day"),
    *((n * _DAY, f"0 0 */{n} * *", f"every {n} days") for n in (2, 3, 4, 5, 6)),
    (_WEEK, "0 0 * * 1", "every week"),
]


class LoopError(ValueError):
    """The /loop arguments cannot be turned into a schedule; the message says why."""


@dataclass(frozen=True)
class LoopSpec:
    cron: str
    prompt: str
    note: str | None = None
    defaulted: bool = False  # no interval was given: DEFAULT_LOOP_CRON


def slot_taken_by_first_run(now_ms: int, first_slot_ms: int | None, second_slot_ms: int | None) -> int | None:
    """/loop runs its prompt at once. When the schedule's first slot is less than half a period away
    (`/loop 61s x` at 12:01:50: every 2m, first slot 12:02:00), that run stands in for it, or two runs
    would come seconds apart: the slot to record as already fired, else None."""
    if first_slot_ms is None or second_slot_ms is None:
        return None
    return first_slot_ms if first_slot_ms - now_ms < (second_slot_ms - first_slot_ms) / 2 else None


def split_loop_flags(text: str) -> tuple[frozenset[str], str]:
    """`--worktree --durable 5m check` -> ({"--durable", "--worktree"}, "5m check"): the leading flags."""
    flags: set[str] = set()
    rest = text.strip()
    while (word := rest.split(maxsplit=1)[0] if rest else "") in LOOP_FLAGS:
        flags.add(word)
        rest = rest[len(word):].strip()
    return frozenset(flags), rest


def parse_loop(text: str) -> LoopSpec:
    """Split `/loop` arguments into a cron expression, the prompt, and a note on any rounding."""
    text = text.strip()
    if not text:
        raise LoopError(_USAGE)
    cron_match = _LEADING_CRON.fullmatch(text)
    if cron_match and _looks_like_cron(cron_match.group(1)):
        expression = " ".join(cron_match.group(1).split())
        _check_cron(expression)
        return LoopSpec(expression, _prompt(cron_match.group(2)))
    _check_short_cron(text)
    try:
        calendar = calendar_schedule(text)
    except CalendarError as exc:
        raise LoopError(f"Cannot schedule that: {exc}. /loop understands {CALENDAR_HELP}. "
                        "Nothing was scheduled") from None
    if calendar is not None:
        return LoopSpec(calendar[0], _prompt(calendar[1]), calendar[2])
    _check_leading_unit(text)
    lead = _LEADING.fullmatch(text)
    if lead and (lead["every"] or lead["n"]):
        cron, note = _interval_to_cron(lead["n"], lead["unit"])
        return LoopSpec(cron, _prompt(lead["rest"]), note)
    trail = _TRAILING.fullmatch(text)
    if trail:
        cron, note = _interval_to_cron(trail["n"], trail["unit"])
        return LoopSpec(cron, _prompt(trail["rest"]), note)
    if words := schedule_words(text):  # a schedule we cannot read is refused, never run every 10 minutes
        raise LoopError(f"Could not read a schedule in {words!r}. /loop understands {CALENDAR_HELP}. Nothing "
                        f"was scheduled (to run this every 10 minutes, say so: /loop 10m {text})")
    return LoopSpec(DEFAULT_LOOP_CRON, text, defaulted=True)


def _looks_like_cron(candidate: str) -> bool:
    return all(_CRON_FIELD.fullmatch(word) for word in candidate.split())


def _check_cron(expression: str) -> None:
    try:
        parse_cron(expression)
    except CronError as exc:
        raise LoopError(f"{exc} (cron expression {expression!r}). Nothing was scheduled") from None


def _check_short_cron(text: str) -> None:
    """`*/5 * check`: the start of a cron expression with fields missing."""
    words = []
    for word in text.split()[:5]:
        if not _CRON_FIELD.fullmatch(word):
            break
        words.append(word)
    if words and len(words) < 5 and any("*" in word for word in words):
        raise LoopError(f"A cron expression needs 5 fields (minute hour day-of-month month day-of-week); "
                        f"{' '.join(words)!r} has {len(words)}. Nothing was scheduled")


def _check_leading_unit(text: str) -> None:
    """`5x check` is an interval with a unit we do not know, not a prompt to run every 10 minutes."""
    bad = _BAD_UNIT.match(text)
    if bad is None or bad["unit"].lower() in _UNIT_OF or bad["unit"].lower() in _ORDINALS:
        return
    raise LoopError(f"Unknown interval unit {bad['unit']!r} in {bad.group(0)!r}: use {UNITS_HELP}. "
                    "Nothing was scheduled (for a prompt that starts with it, give the interval first: "
                    f"/loop 10m {bad.group(0)} ...)")


def _prompt(rest: str | None) -> str:
    prompt = (rest or "").strip()
    if not prompt:
        raise LoopError("Nothing to run: give a prompt after the interval, e.g. /loop 5m check the build")
    return prompt


def _interval_to_cron(number: str | None, unit_word: str) -> tuple[str, str | None]:
    """`("90", "m")` -> `("0 */2 * * *", "90m does not divide an hour; running every 2 hours")`."""
    unit = _UNIT_OF[unit_word.lower()]
    number = number or "1"
    if number.startswith("-"):
        raise LoopError(f"The interval cannot be negative (got {number}{unit})")
    digits = number.lstrip("+")
    count = int(digits) if len(digits) <= 9 else _WEEK * 60 + 1
    label = f"{count}{unit}" if len(digits) <= 9 else f"{digits}{unit}"
    if count == 0:
        raise LoopError(f"The interval must be at least 1 (got {label})")
    minutes = math.ceil(count / 60) if unit == "s" else count * _UNIT_MINUTES[unit]
    if minutes > _WEEK:
        raise LoopError(
            f"{label} is too long: /loop runs at most weekly. For a longer schedule give a cron"
            " expression, e.g. /loop 0 9 1 * * <prompt> for 9:00 on the 1st of each month"
        )
    notes = []
    if unit == "s" and count % 60:
        notes.append(f"cron runs at most once a minute, so {label} was rounded up to {minutes}m")
    exact, cron, human = _nearest_schedule(minutes)
    if not exact:
        asked = f"{minutes}m" if unit == "s" else label
        whole = "an hour" if unit in ("s", "m") else "a day"
        notes.append(f"{asked} does not divide {whole}; running {human}")
    if cron.startswith("0 0 */"):
        notes.append(f"{human} restarts on the 1st of each month, so a month's last gap can be shorter")
    return cron, "; ".join(notes) or None


def _nearest_schedule(minutes: int) -> tuple[bool, str, str]:
    """The schedule closest to `minutes` (ties to the longer one), and whether it is exact."""
    best = min(_SCHEDULES, key=lambda s: (abs(s[0] - minutes), -s[0]))
    return best[0] == minutes, best[1], best[2]
