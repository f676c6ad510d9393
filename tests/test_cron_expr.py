"""Cron expression engine: syntax, errors, the day rule, next fires, validation and descriptions."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from agent.cron.expr import (
    CronError,
    describe_cron,
    next_fire,
    next_fires,
    parse_cron,
    validate_cron,
)

UTC = timezone.utc
ALL_DOM = tuple(range(1, 32))
ALL_DOW = tuple(range(7))


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("* * * * *", "minutes", tuple(range(60))),
        ("*/15 * * * *", "minutes", (0, 15, 30, 45)),
        ("5,10-12,50-59/4 * * * *", "minutes", (5, 10, 11, 12, 50, 54, 58)),
        ("0 */7 * * *", "hours", (0, 7, 14, 21)),
        ("0 0 1-31/10 * *", "days_of_month", (1, 11, 21, 31)),
        ("0 0 * 2-11/3 *", "months", (2, 5, 8, 11)),
        ("0 0 * * 7", "days_of_week", (0,)),
        ("0 0 * * 5-7", "days_of_week", (0, 5, 6)),
        ("0 0 * * 1-7/2", "days_of_week", (0, 1, 3, 5)),
        ("0 0 * * 0,7", "days_of_week", (0,)),
        ("*/59 * * * *", "minutes", (0, 59)),
        ("5-5 * * * *", "minutes", (5,)),
        ("0 0 * * 7-7", "days_of_week", (0,)),
        ("1,1,1 * * * *", "minutes", (1,)),
    ],
)
def test_parse_expands_each_item_shape(text: str, field: str, expected: tuple[int, ...]) -> None:
    assert getattr(parse_cron(text), field) == expected


def test_parse_accepts_any_run_of_spaces_and_tabs_and_trims_the_ends() -> None:
    expr = parse_cron(" \t0\t\t9  * *\t 1-5 \n")
    assert expr.text == "0 9 * * 1-5"
    assert expr == parse_cron("0 9 * * 1-5")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected 5 fields"),
        ("   ", "expected 5 fields"),
        ("* * * *", "got 4"),
        ("* * * * * *", "got 6"),
        ("60 * * * *", "minute: 60 is out of range 0-59"),
        ("* 24 * * *", "hour: 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month: 0 is out of range 1-31"),
        ("* * 32 * *", "day-of-month: 32 is out of range 1-31"),
        ("* * * 0 *", "month: 0 is out of range 1-12"),
        ("* * * 13 *", "month: 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week: 8 is out of range 0-7"),
        ("1,,2 * * * *", "minute: empty item"),
        ("1, * * * *", "minute: empty item"),
        ("*/0 * * * *", "minute: step 0 must be at least 1"),
        ("*/000 * * * *", "minute: step 0 must be at least 1"),
        ("0000060 * * * *", "minute: 60 is out of range 0-59"),
        ("1" * 5000 + " * * * *", "minute: value 11111111...(5000 digits) is too large"),
        ("* */ * * *", "hour: missing step"),
        ("* */x * * *", "hour: step 'x' is not a number"),
        ("*/2/3 * * * *", "minute: step '2/3' is not a number"),
        ("5/10 * * * *", "minute: a step needs '*' or a range"),
        ("5-3 * * * *", "minute: range 5-3 is reversed"),
        ("* * * * 7-5", "day-of-week: range 7-5 is reversed"),
        ("* * * JAN *", "month: value 'JAN' is not a number"),
        ("* * * * MON", "day-of-week: value 'MON' is not a number"),
        ("* * ? * *", "day-of-month: value '?' is not a number"),
        ("* * L * *", "day-of-month: value 'L' is not a number"),
        ("* * 15W * *", "day-of-month: value '15W' is not a number"),
        ("* * * * 1#2", "day-of-week: value '1#2' is not a number"),
        ("@daily", "expected 5 fields"),
        ("-5 * * * *", "minute: missing range start"),
        ("5- * * * *", "minute: missing range end"),
        ("1-2-3 * * * *", "minute: range end '2-3' is not a number"),
        ("** * * * *", "minute: value '**' is not a number"),
        ("*-5 * * * *", "minute: range start '*' is not a number"),
        ("+5 * * * *", "minute: value '+5' is not a number"),
        ("\u0665 * * * *", "is not a number"),  # Arabic-Indic digit five: isdigit() but not ASCII
        ("9999999 * * * *", "minute: value 9999999 is too large"),
        ("0 0 *\n* * *", "day-of-month: value '*\\n*' is not a number"),
    ],
)
def test_invalid_expressions_raise_cron_error_naming_field_and_reason(text: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(text)
    assert message in str(caught.value)


def test_cron_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_cron("nonsense")


def test_cron_expr_is_immutable_hashable_and_equal_by_content() -> None:
    first, second = parse_cron("*/5 * * * *"), parse_cron("*/5  *  * * *")
    assert first == second and hash(first) == hash(second)
    assert len({first, second, parse_cron("0 * * * *")}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.minutes = (1,)  # type: ignore[misc]


@pytest.mark.parametrize("dom", ["*", "*/1", "1-31", "1-15,16-31", "1-31/1"])
def test_whole_range_day_of_month_is_unrestricted(dom: str) -> None:
    expr = parse_cron(f"0 0 {dom} * 1")
    assert not expr.dom_restricted and expr.dow_restricted
    # 2026-03-01 is a Sunday: only Mondays fire, because day-of-week decides alone.
    fires = next_fires(expr, at(2026, 3, 1), 3)
    assert [f.day for f in fires] == [2, 9, 16]


@pytest.mark.parametrize("dow", ["*", "*/1", "0-6", "0-7", "1-7", "0,1,2,3,4,5,6", "1-6,7"])
def test_whole_range_day_of_week_is_unrestricted(dow: str) -> None:
    expr = parse_cron(f"0 0 13 * {dow}")
    assert expr.dom_restricted and not expr.dow_restricted
    fires = next_fires(expr, at(2026, 1, 1), 3)
    assert [(f.month, f.day) for f in fires] == [(1, 13), (2, 13), (3, 13)]


def test_both_day_fields_restricted_match_either() -> None:
    # The 13th or any Friday (2026-02-13 is itself a Friday, so it fires once that day).
    fires = next_fires("0 12 13 * 5", at(2026, 2, 1), 5)
    assert [(f.month, f.day) for f in fires] == [(2, 6), (2, 13), (2, 20), (2, 27), (3, 6)]
    assert all(f.hour == 12 and f.minute == 0 for f in fires)


def test_both_restricted_or_includes_dom_days_off_the_weekday() -> None:
    # 1st of the month or Mondays: 2026-04-01 is a Wednesday.
    fires = next_fires("0 0 1 * 1", at(2026, 3, 28), 3)
    assert [(f.month, f.day) for f in fires] == [(3, 30), (4, 1), (4, 6)]


def test_neither_day_field_restricted_fires_every_day() -> None:
    fires = next_fires("0 6 1-31 * 0-7", at(2026, 2, 27, 12), 3)
    assert [(f.month, f.day) for f in fires] == [(2, 28), (3, 1), (3, 2)]


@pytest.mark.parametrize("sunday", ["0", "7", "6-7", "5-7"])
def test_seven_means_sunday_alone_and_as_range_end(sunday: str) -> None:
    fire = next_fire(f"0 9 * * {sunday}", at(2026, 3, 2))  # a Monday
    assert fire is not None
    assert fire.isoweekday() in {5, 6, 7} and fire <= at(2026, 3, 8, 9)
    assert next_fire(f"0 9 * * {sunday}", at(2026, 3, 7, 10)) == at(2026, 3, 8, 9)


def test_next_fire_is_strictly_after_on_a_whole_minute() -> None:
    assert next_fire("* * * * *", at(2026, 5, 1, 10, 0)) == at(2026, 5, 1, 10, 1)
    assert next_fire("* * * * *", datetime(2026, 5, 1, 10, 0, 59, 999, tzinfo=UTC)) == at(2026, 5, 1, 10, 1)
    assert next_fire("0 10 * * *", at(2026, 5, 1, 10, 0)) == at(2026, 5, 2, 10, 0)


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("59 23 31 12 *", at(2026, 12, 31, 23, 59), at(2027, 12, 31, 23, 59)),  # year rollover
        ("0 0 29 2 *", at(2027, 3, 1), at(2028, 2, 29)),  # next leap day within 366 days
        ("0 0 31 * *", at(2026, 4, 1), at(2026, 5, 31)),  # skips a 30-day month
        ("30 * * * *", at(2026, 1, 1, 23, 45), at(2026, 1, 2, 0, 30)),  # day rollover
        ("0 0 * 2 1", at(2026, 1, 15), at(2026, 2, 2)),  # first Monday in February
    ],
)
def test_next_fire_crosses_hour_day_month_and_year(text: str, after: datetime, expected: datetime) -> None:
    assert next_fire(text, after) == expected


def test_next_fire_finds_fires_years_away_and_none_only_for_never() -> None:
    assert next_fire("0 0 29 2 *", at(2026, 3, 1)) == at(2028, 2, 29)  # 730 days away
    assert next_fire("0 0 29 2 *", at(2096, 3, 1)) == at(2104, 2, 29)  # 2100 is no leap year: 8 years
    assert next_fire("0 0 29 2 1", at(2096, 3, 1)) == at(2097, 2, 4)  # OR rule: a Monday in February
    assert next_fire("0 0 1 3 *", at(2027, 3, 1)) == at(2028, 3, 1)
    assert next_fire("0 0 30 2 *", at(2026, 3, 1)) is None
    assert next_fire("0 0 31 4 *", at(2026, 3, 1)) is None


def test_next_fire_keeps_the_zone_of_after() -> None:
    plus_two = timezone(timedelta(hours=2))
    fire = next_fire("0 9 * * *", datetime(2026, 6, 1, 8, 30, tzinfo=plus_two))
    assert fire == datetime(2026, 6, 1, 9, 0, tzinfo=plus_two) and fire.tzinfo is plus_two


def test_next_fire_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire("* * * * *", datetime(2026, 1, 1))


def test_next_fire_accepts_parsed_expressions_and_propagates_parse_errors() -> None:
    assert next_fire(parse_cron("15 * * * *"), at(2026, 1, 1)) == at(2026, 1, 1, 0, 15)
    with pytest.raises(CronError):
        next_fire("61 * * * *", at(2026, 1, 1))


def test_next_fires_returns_consecutive_fires_and_stops_when_dry() -> None:
    assert next_fires("*/20 * * * *", at(2026, 1, 1), 4) == [
        at(2026, 1, 1, 0, 20),
        at(2026, 1, 1, 0, 40),
        at(2026, 1, 1, 1, 0),
        at(2026, 1, 1, 1, 20),
    ]
    assert next_fires("0 0 30 2 *", at(2026, 1, 1), 3) == []


def test_validate_cron_accepts_a_schedule_that_fires() -> None:
    assert validate_cron("*/5 * * * *", now=at(2026, 1, 1)) == parse_cron("*/5 * * * *")
    assert validate_cron("0 0 30 2 1", now=at(2026, 1, 1)).dow_restricted  # Mondays in Feb, by OR
    assert validate_cron("0 9 * * 1-5").text == "0 9 * * 1-5"  # default: the current time


@pytest.mark.parametrize("text", ["0 0 30 2 *", "0 0 31 2 *", "0 0 31 4,6,9,11 *"])
def test_validate_cron_rejects_schedules_that_never_fire(text: str) -> None:
    with pytest.raises(CronError, match="never fires"):
        validate_cron(text, now=at(2026, 1, 1))


def test_validate_cron_accepts_a_leap_day_more_than_a_year_away() -> None:
    assert validate_cron("0 0 29 2 *", now=at(2026, 3, 1)).days_of_month == (29,)
    assert validate_cron("0 0 29 2 *", now=at(2097, 3, 1)).days_of_month == (29,)  # next: 2104


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("*/60 * * * *", "0 * * * *"),  # a step beyond the range keeps the first value
        ("1-5/60 * * * *", "1 * * * *"),
        ("0 0 * * */9", "0 0 * * 0"),
        ("*/99999999999999999999 * * * *", "0 * * * *"),
        ("0000005 * * * *", "5 * * * *"),  # leading zeros of any length
        ("00-0000010/0000005 * * * *", "0,5,10 * * * *"),
        ("0 0 0000000000000000000000000000029 02 *", "0 0 29 2 *"),
        ("0 0 * * 0007", "0 0 * * 0"),
    ],
)
def test_expressions_claude_code_accepts_parse_like_their_plain_form(text: str, same_as: str) -> None:
    parsed, plain = parse_cron(text), parse_cron(same_as)
    assert (parsed.minutes, parsed.hours, parsed.days_of_month, parsed.months, parsed.days_of_week) == (
        plain.minutes, plain.hours, plain.days_of_month, plain.months, plain.days_of_week)
    assert validate_cron(text, now=at(2026, 1, 1))


def test_validate_cron_reports_syntax_errors() -> None:
    with pytest.raises(CronError, match="hour: 25 is out of range"):
        validate_cron("0 25 * * *", now=at(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("* * * * *", "Every minute"),
        ("*/1 * * * *", "Every minute"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("0,30 * * * *", "Every 30 minutes"),
        ("15 * * * *", "Every hour at :15"),
        ("0 * * * *", "Every hour"),
        ("0 */2 * * *", "Every 2 hours"),
        ("15 */6 * * *", "Every 6 hours at :15"),
        ("0 9 * * *", "Every day at 9:00 AM"),
        ("0 0 * * *", "Every day at 12:00 AM"),
        ("0 12 * * *", "Every day at 12:00 PM"),
        ("45 17 * * *", "Every day at 5:45 PM"),
        ("0 9 * * 1", "Every Monday at 9:00 AM"),
        ("0 9 * * 7", "Every Sunday at 9:00 AM"),
        ("30 9 * * 1-5", "Weekdays at 9:30 AM"),
        ("0 10 * * 6,0", "Weekends at 10:00 AM"),
        ("0 9 1-31 * 0-7", "Every day at 9:00 AM"),
        # Shapes that are not described (or not evenly spaced) come back as written.
        ("*/7 * * * *", "*/7 * * * *"),
        ("0 */5 * * *", "0 */5 * * *"),
        ("0 1-23/2 * * *", "0 1-23/2 * * *"),
        ("*/5 9-17 * * *", "*/5 9-17 * * *"),
        ("0 9 1 * *", "0 9 1 * *"),
        ("0 9 * 1 *", "0 9 * 1 *"),
        ("0 9 * * 1,3", "0 9 * * 1,3"),
        ("0 9,17 * * 1-5", "0 9,17 * * 1-5"),
        ("not a cron", "not a cron"),
    ],
)
def test_describe_cron(text: str, description: str) -> None:
    assert describe_cron(text) == description
