"""Calendar words in `/loop` (pure): `daily at 9am`, `every tuesday at 9`, `weekdays at 18:30`.

`parse_loop` asks this module twice. First, `calendar_schedule` reads a schedule phrase at the start
or the end of the arguments (`daily at 9am check the build`, `check the build every tuesday at 9`) and
turns it into a cron expression (`0 9 * * *`, `0 9 * * 2`). Then, when no schedule was found at all,
`schedule_words` looks for words that mean one (`each morning`, `every tuesday` without a time,
`nightly`, `at 9pm`): those are refused with the forms that work, never run every 10 minutes.

A day without a time is refused too (`every tuesday`: at what time?), except `daily` and `every day`,
which mean midnight as `1d` does. Times: `9`, `9am`, `9:30`, `9.30pm`, `21:00`, `noon`, `midnight`;
after `at` a bare hour is on the 24-hour clock (`at 9` is 09:00).
"""

from __future__ import annotations

import re

__all__ = ["CALENDAR_HELP", "CalendarError", "calendar_schedule", "schedule_words"]

CALENDAR_HELP = ("an interval (5m, 2h, every 30 minutes), daily at 9am, every tuesday at 9:30, "
                 "weekdays at 18:00, or a cron expression (0 9 * * 2)")

_DAYS = {"sunday": 0, "sun": 0, "monday": 1, "mon": 1, "tuesday": 2, "tue": 2, "tues": 2, "wednesday": 3,
         "wed": 3, "thursday": 4, "thu": 4, "thur": 4, "thurs": 4, "friday": 5, "fri": 5, "saturday": 6, "sat": 6}
_DAY = "(?:" + "|".join(sorted(_DAYS, key=len, reverse=True)) + ")"
_FULL_DAY = "(?:sunday|monday|tuesday|wednesday|thursday|friday|saturday)"
_DAY_LIST = rf"{_DAY}s?(?:\s*(?:,|and|&|,\s*and)\s*{_DAY}s?)*"
_CLOCK = r"\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)"
_TIME = rf"(?:(?:at\s+)(?:noon|midnight|\d{{1,2}}(?:[:.]\d{{2}})?(?:\s*(?:am|pm|a\.m\.|p\.m\.))?)|{_CLOCK})"
_EVERY = r"(?:every|each)"
_DAY_WORDS = (rf"(?:daily|everyday|{_EVERY}\s+day|(?:{_EVERY}\s+|on\s+)?weekdays|{_EVERY}\s+weekday"
              rf"|(?:{_EVERY}\s+|on\s+)?weekends|{_EVERY}\s+weekend"
              rf"|{_EVERY}\s+{_DAY_LIST}|(?:on\s+)?{_FULL_DAY}s(?:\s*(?:,|and|&|,\s*and)\s*{_FULL_DAY}s)*)")
_PHRASE = rf"(?:(?P<days>{_DAY_WORDS})(?:\s+(?P<time>{_TIME}))?|(?P<time2>{_TIME})\s+(?P<days2>{_DAY_WORDS}))"
_LEADING = re.compile(rf"\s*{_PHRASE}(?:\s*[,:]\s*|\s+)(?P<rest>\S.*)", re.IGNORECASE | re.DOTALL)
_TRAILING = re.compile(rf"(?P<rest>.*?\S)\s+{_PHRASE}\s*[.!]?\s*", re.IGNORECASE | re.DOTALL)

_SCHEDULE_WORDS = re.compile(
    rf"\b(?:{_EVERY}\s+(?:other\s+\w+|few\s+\w+|couple\s+\w+|morning|afternoon|evening|night|noon|midnight"
    rf"|weekdays?|weekends?|week|month|year|fortnight|quarter|day|hour|minute|second|{_DAY})s?"
    rf"|{_EVERY}\s+\d+\s*\w*"
    r"|daily|nightly|weekly|monthly|yearly|annually|hourly|fortnightly|biweekly|everyday"
    rf"|{_FULL_DAY}s|(?:at|around)\s+(?:noon|midnight)|(?:at|around)\s+\d{{1,2}}[:.]\d{{2}}|{_CLOCK}"
    r"|tomorrow|tonight|mornings|evenings|nights|weekdays|weekends)\b",
    re.IGNORECASE,
)


class CalendarError(ValueError):
    """A schedule phrase was found but says something cron cannot (or says too little)."""


def calendar_schedule(text: str) -> tuple[str, str, str | None] | None:
    """(cron, prompt, note) for a schedule phrase at the start or the end of `text`; None when there is
    none. Raises CalendarError when the phrase is incomplete (`every tuesday`: no time) or wrong (`25:00`)."""
    for pattern in (_LEADING, _TRAILING):
        found = pattern.fullmatch(text)
        if found:
            days = found["days"] or found["days2"]
            time = found["time"] or found["time2"]
            if time is None and re.fullmatch(r"every\s+day", days, re.IGNORECASE):
                return None  # an interval (`1d`): loop_spec reads it
            cron, note = _to_cron(days, time)
            return cron, found["rest"].strip(), note
    return None


def schedule_words(text: str) -> str | None:
    """The first words in `text` that look like a schedule (`each morning`), or None."""
    found = _SCHEDULE_WORDS.search(text)
    return found.group(0) if found else None


def _to_cron(days: str, time: str | None) -> tuple[str, str | None]:
    dow = _day_of_week(days)
    if time is None:
        if dow != "*":
            raise CalendarError(f"{days!r} needs a time of day, e.g. {days} at 9am")
        return "0 0 * * *", "no time given, so it runs at midnight (say daily at 9am for another time)"
    hour, minute = _clock(time)
    return f"{minute} {hour} * * {dow}", None


def _day_of_week(days: str) -> str:
    words = days.lower()
    if re.search(r"daily|everyday|\bday\b", words):
        return "*"
    if "weekday" in words:
        return "1-5"
    if "weekend" in words:
        return "0,6"
    numbers = sorted({_DAYS[name] for name in re.findall(_DAY, words, re.IGNORECASE)
                      if name.lower() in _DAYS})
    return ",".join(str(n) for n in numbers)


def _clock(time: str) -> tuple[int, int]:
    """`9am` -> (9, 0), `at 21:30` -> (21, 30), `noon` -> (12, 0)."""
    text = time.lower().removeprefix("at").strip().replace(".m.", "m").replace("a.m", "am").replace("p.m", "pm")
    if text in ("noon", "midnight"):
        return (12, 0) if text == "noon" else (0, 0)
    found = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?", text)
    if found is None:
        raise CalendarError(f"cannot read the time {time!r}")
    hour, minute, half = int(found[1]), int(found[2] or 0), found[3]
    if half and not 1 <= hour <= 12:
        raise CalendarError(f"{time.strip()!r} is not a time: with am/pm the hour is 1-12")
    if half:
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise CalendarError(f"{time.strip()!r} is not a time of day")
    return hour, minute
