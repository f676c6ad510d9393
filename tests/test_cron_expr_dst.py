"""next_fire across DST transitions (cronie rules) in New York, Berlin and Lord Howe (30-minute shift)."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from agent.cron.expr import CronExpr, next_fire, next_fires, parse_cron

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
UTC = timezone.utc
MINUTE = timedelta(minutes=1)

# (zone, local date, wall time where the clock jumps, length of the skipped/repeated stretch)
SPRING = [
    (NEW_YORK, (2026, 3, 8), (2, 0), timedelta(hours=1)),
    (BERLIN, (2026, 3, 29), (2, 0), timedelta(hours=1)),
    (LORD_HOWE, (2026, 10, 4), (2, 0), timedelta(minutes=30)),
]
AUTUMN = [
    (NEW_YORK, (2026, 11, 1), (1, 0), timedelta(hours=1)),
    (BERLIN, (2026, 10, 25), (2, 0), timedelta(hours=1)),
    (LORD_HOWE, (2026, 4, 5), (1, 30), timedelta(minutes=30)),
]


def wall(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)


def exists(moment: datetime) -> bool:
    return moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None) == moment.replace(
        tzinfo=None
    )


def is_ambiguous(moment: datetime) -> bool:
    return moment.replace(fold=0).utcoffset() != moment.replace(fold=1).utcoffset() and exists(moment)


@pytest.mark.parametrize(("zone", "day", "start", "length"), SPRING)
def test_spring_transition_dates_are_real_gaps(zone, day, start, length) -> None:
    first_missing = wall(zone, *day, *start)
    assert not exists(first_missing)
    assert not exists(first_missing + length - MINUTE)
    assert exists(first_missing + length) and exists(first_missing - MINUTE)


@pytest.mark.parametrize(("zone", "day", "start", "length"), AUTUMN)
def test_autumn_transition_dates_are_real_folds(zone, day, start, length) -> None:
    first_repeated = wall(zone, *day, *start)
    assert is_ambiguous(first_repeated) and is_ambiguous(first_repeated + length - MINUTE)
    assert not is_ambiguous(first_repeated + length) and not is_ambiguous(first_repeated - MINUTE)


def test_daily_job_in_new_york_gap_runs_at_three_that_day_only() -> None:
    fires = next_fires("30 2 * * *", wall(NEW_YORK, 2026, 3, 7, 12), 3)
    assert fires == [
        wall(NEW_YORK, 2026, 3, 8, 3, 0),
        wall(NEW_YORK, 2026, 3, 9, 2, 30),
        wall(NEW_YORK, 2026, 3, 10, 2, 30),
    ]


def test_lord_howe_gap_job_runs_at_half_past_two() -> None:
    assert next_fire("15 2 * * *", wall(LORD_HOWE, 2026, 10, 3, 12)) == wall(LORD_HOWE, 2026, 10, 4, 2, 30)


def test_berlin_gap_job_runs_at_three() -> None:
    assert next_fire("30 2 * * *", wall(BERLIN, 2026, 3, 29, 1)) == wall(BERLIN, 2026, 3, 29, 3, 0)


@pytest.mark.parametrize(("zone", "day", "start", "length"), SPRING)
def test_matches_inside_a_gap_collapse_into_one_fire_at_its_end(zone, day, start, length) -> None:
    before_gap = wall(zone, *day, *start) - 5 * MINUTE
    fires = next_fires("*/5 * * * *", before_gap, 3)
    gap_end = wall(zone, *day, *start) + length
    assert fires == [gap_end, gap_end + 5 * MINUTE, gap_end + 10 * MINUTE]


def test_gap_matches_and_the_gap_end_itself_fire_once() -> None:
    fires = next_fires("0 2,3 * * *", wall(NEW_YORK, 2026, 3, 8, 0), 2)
    assert fires == [wall(NEW_YORK, 2026, 3, 8, 3, 0), wall(NEW_YORK, 2026, 3, 9, 2, 0)]


def test_hour_specific_job_wholly_inside_the_gap_fires_once() -> None:
    fires = next_fires("*/15 2 * * *", wall(NEW_YORK, 2026, 3, 8, 0), 3)
    assert fires == [
        wall(NEW_YORK, 2026, 3, 8, 3, 0),
        wall(NEW_YORK, 2026, 3, 9, 2, 0),
        wall(NEW_YORK, 2026, 3, 9, 2, 15),
    ]


@pytest.mark.parametrize(("zone", "day", "start", "length"), AUTUMN)
def test_every_fifteen_minutes_keeps_real_time_rhythm_through_the_fold(zone, day, start, length) -> None:
    first_repeated = wall(zone, *day, *start)
    fires = next_fires("*/15 * * * *", first_repeated - MINUTE, 2 * (length // (15 * MINUTE)) + 1)
    instants = [f.astimezone(UTC) for f in fires]
    assert all(b - a == 15 * MINUTE for a, b in itertools.pairwise(instants))
    walls = [(f.hour, f.minute, f.fold) for f in fires]
    repeated = [(f.hour, f.minute) for f in fires if f.fold == 0][: len(fires) // 2]
    assert [(h, m) for h, m, fold in walls if fold == 1] == repeated  # second pass, same wall times
    assert len(set(walls)) == len(walls)  # no wall time twice within one occurrence
    assert fires[-1] == first_repeated + length and not is_ambiguous(fires[-1])


def test_new_york_every_fifteen_minutes_in_the_fold_in_detail() -> None:
    fires = next_fires("*/15 * * * *", wall(NEW_YORK, 2026, 11, 1, 0, 50), 9)
    assert [(f.hour, f.minute, f.fold) for f in fires] == [
        (1, 0, 0), (1, 15, 0), (1, 30, 0), (1, 45, 0),
        (1, 0, 1), (1, 15, 1), (1, 30, 1), (1, 45, 1),
        (2, 0, 0),
    ]  # fmt: skip


@pytest.mark.parametrize("hours", ["*", "*/1", "0-23", "0-11,12-23"])
def test_unrestricted_hour_fields_fire_in_both_occurrences(hours: str) -> None:
    fires = next_fires(f"0 {hours} * * *", wall(NEW_YORK, 2026, 11, 1, 0, 30), 3)
    utc_hours = [f.astimezone(UTC).hour for f in fires]
    assert utc_hours == [5, 6, 7]  # 1:00 EDT, 1:00 EST, 2:00 EST: hourly in real time


@pytest.mark.parametrize(("zone", "day", "start", "length"), AUTUMN)
def test_specific_hour_fires_only_at_the_first_occurrence(zone, day, start, length) -> None:
    text = f"{(start[1] + 15) % 60} {start[0]} * * *"  # a wall time inside the repeated stretch
    fires = next_fires(text, wall(zone, *day, 0, 0), 2)
    assert fires[0].fold == 0 and is_ambiguous(fires[0]) and fires[0].day == day[2]
    assert fires[1].date() == fires[0].date() + timedelta(days=1)


def test_restricted_hour_list_skips_the_second_occurrence() -> None:
    fires = next_fires("0 0-22 * * *", wall(NEW_YORK, 2026, 11, 1, 0, 30), 2)
    assert [(f.hour, f.fold) for f in fires] == [(1, 0), (2, 0)]
    assert fires[1] - fires[0] == timedelta(hours=1)  # wall difference
    assert fires[1].astimezone(UTC) - fires[0].astimezone(UTC) == timedelta(hours=2)


def test_after_in_the_second_occurrence_is_compared_in_absolute_time() -> None:
    second_pass = wall(NEW_YORK, 2026, 11, 1, 1, 20, fold=1)
    assert next_fire("*/15 * * * *", second_pass) == wall(NEW_YORK, 2026, 11, 1, 1, 30, fold=1)
    assert next_fire("*/15 * * * *", second_pass).fold == 1
    assert next_fire("30 1 * * *", second_pass) == wall(NEW_YORK, 2026, 11, 2, 1, 30)


def test_after_late_in_the_first_occurrence_still_sees_the_second() -> None:
    late_first_pass = wall(NEW_YORK, 2026, 11, 1, 1, 50)
    fire = next_fire("0 * * * *", late_first_pass)
    assert fire is not None and (fire.hour, fire.minute, fire.fold) == (1, 0, 1)


def test_after_given_as_a_nonexistent_wall_time_is_read_as_its_instant() -> None:
    # 2:30 on the spring day does not exist; fold=0 reads it with the old offset, i.e. 3:30 EDT.
    assert next_fire("*/10 * * * *", wall(NEW_YORK, 2026, 3, 8, 2, 30)) == wall(NEW_YORK, 2026, 3, 8, 3, 40)


def test_weekly_job_across_a_transition_keeps_its_wall_time() -> None:
    fires = next_fires("0 9 * * 1", wall(BERLIN, 2026, 3, 20), 3)
    assert [(f.day, f.hour, f.utcoffset()) for f in fires] == [
        (23, 9, timedelta(hours=1)),
        (30, 9, timedelta(hours=2)),
        (6, 9, timedelta(hours=2)),
    ]


def reference_next_fire(expr: CronExpr, after: datetime, horizon: timedelta) -> datetime | None:
    """Brute force over every real minute: the contract's DST rules stated directly."""
    zone = after.tzinfo
    minutes, hours, doms = set(expr.minutes), set(expr.hours), set(expr.days_of_month)
    months, dows = set(expr.months), set(expr.days_of_week)

    def matches(moment: datetime) -> bool:
        dom_ok, dow_ok = moment.day in doms, (moment.isoweekday() % 7) in dows
        either = expr.dom_restricted and expr.dow_restricted
        day_ok = (dom_ok or dow_ok) if either else (dom_ok and dow_ok)
        return moment.minute in minutes and moment.hour in hours and moment.month in months and day_ok

    instant = after.astimezone(UTC).replace(second=0, microsecond=0) + MINUTE
    while instant - after <= horizon:
        local = instant.astimezone(zone)
        previous = (instant - MINUTE).astimezone(zone)
        if matches(local) and (local.fold == 0 or not expr.hour_restricted):
            return local
        jump = local.utcoffset() - previous.utcoffset()
        if jump > timedelta(0):  # first instant after a gap: did any skipped wall time match?
            skipped = local.replace(tzinfo=None) - jump
            while skipped < local.replace(tzinfo=None):
                if matches(skipped):
                    return local
                skipped += MINUTE
        instant += MINUTE
    return None


def random_field(rng: random.Random, low: int, high: int, dense: bool) -> str:
    if dense and rng.random() < 0.5:
        return "*"
    shape = rng.randrange(4)
    if shape == 0:
        return f"*/{rng.randint(1, min(high, 20))}"
    if shape == 1:
        return ",".join(str(rng.randint(low, high)) for _ in range(rng.randint(1, 3)))
    start = rng.randint(low, high - 1)
    return f"{start}-{rng.randint(start + 1, high)}" + (f"/{rng.randint(1, 7)}" if shape == 3 else "")


@pytest.mark.parametrize(("zone", "day", "start", "length"), SPRING + AUTUMN)
def test_next_fire_matches_a_brute_force_reference_around_transitions(zone, day, start, length) -> None:
    rng = random.Random(f"{zone.key}{day}")
    transition = wall(zone, *day, *start)
    horizon = timedelta(days=3)
    for _ in range(40):
        text = " ".join(
            [
                random_field(rng, 0, 59, dense=False),
                random_field(rng, 0, 23, dense=True),
                "*",
                "*",
                "*" if rng.random() < 0.7 else random_field(rng, 0, 7, dense=False),
            ]
        )
        expr = parse_cron(text)
        after = transition + timedelta(minutes=rng.randint(-180, 120), seconds=rng.choice((0, 30)))
        after = after.astimezone(UTC).astimezone(zone)  # a real instant, possibly in the fold
        for _ in range(4):
            expected = reference_next_fire(expr, after, horizon)
            got = next_fire(expr, after)
            if expected is None:
                assert got is None or got - after > horizon, (text, after)
                break
            assert got is not None and got.astimezone(UTC) == expected.astimezone(UTC), (
                text,
                after,
                got,
                expected,
            )
            assert got.utcoffset() == expected.utcoffset(), (text, after, got, expected)
            after = got
