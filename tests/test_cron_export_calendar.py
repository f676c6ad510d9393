"""Cron expressions as systemd OnCalendar= and as UTC cron for GitHub Actions: exact or refused.

The systemd test asks systemd itself: for random expressions (the generator of the croniter differential
test) the next 20 elapses printed by `systemd-analyze calendar --iterations=20` must equal `next_fire`.
The UTC test compares the union of the translated expressions with `next_fire` in the zone.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from agent.cron.expr import next_fires, parse_cron
from agent.export.calendar import (
    ExportError,
    normalized_cron,
    on_calendar_lines,
    systemd_calendar,
    zone_transitions,
)
from agent.export.utc import utc_schedule
from tests.test_cron_expr_differential import random_expression

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def calendar(text: str, zone: str = "Europe/Berlin") -> list[str]:
    return systemd_calendar(parse_cron(text), ZoneInfo(zone), zone, NOW)


def test_normalized_cron_writes_unrestricted_fields_as_a_star_and_keeps_the_schedule() -> None:
    assert normalized_cron(parse_cron("0 9 1-31 * 1-5")) == "0 9 * * 1-5"  # our day rule: 1-31 is no restriction
    assert normalized_cron(parse_cron("*/15 0-23 * 1-12 0-7")) == "*/15 * * * *"
    assert normalized_cron(parse_cron("5,10,15 8-18/2 1,15 1-3,6 5-7")) == "5-15/5 8-18/2 1,15 1-3,6 0,5,6"
    rng = random.Random(7)
    for _ in range(2000):
        expr = parse_cron(random_expression(rng))
        assert parse_cron(normalized_cron(expr)) == parse_cron(normalized_cron(expr))
        again = parse_cron(normalized_cron(expr))
        assert (again.minutes, again.hours, again.days_of_month, again.months, again.days_of_week) == (
            expr.minutes, expr.hours, expr.days_of_month, expr.months, expr.days_of_week)
        assert (again.dom_restricted, again.dow_restricted) == (expr.dom_restricted, expr.dow_restricted)


def test_both_day_fields_restricted_become_two_calendar_lines_as_cron_ors_them() -> None:
    assert on_calendar_lines(parse_cron("0 9 1,15 * 1"), "UTC") == [
        "Mon *-*-* 09:00:00 UTC", "*-*-01,15 09:00:00 UTC"]
    assert on_calendar_lines(parse_cron("30 6 * 1-3 0,6"), "UTC") == ["Sat..Sun *-01..03-* 06:30:00 UTC"]


def test_a_time_in_the_spring_forward_gap_is_refused_with_the_date() -> None:
    with pytest.raises(ExportError, match=r"02:30 on 2027-03-28, a time Europe/Berlin skips"):
        calendar("30 2 * * *")


def test_an_every_hour_schedule_that_repeats_in_the_autumn_fold_is_refused() -> None:
    with pytest.raises(ExportError, match=r"happens twice in Europe/Berlin"):
        calendar("10 * * 10 *")  # every hour in October: meets the fold, not the gap in March


def test_a_schedule_that_is_the_same_in_utc_is_written_in_utc() -> None:
    assert calendar("*/5 * * * *") == ["*-*-* *:00,05,10,15,20,25,30,35,40,45,50,55:00 UTC"]


def test_a_zone_without_daylight_saving_keeps_its_name() -> None:
    assert calendar("30 2 * * *", "Asia/Tokyo") == ["*-*-* 02:30:00 Asia/Tokyo"]


def test_zone_transitions_finds_the_berlin_changes_to_the_second() -> None:
    changes = zone_transitions(BERLIN, NOW, 1)
    assert [c.at for c in changes] == [datetime(2027, 3, 28, 1, tzinfo=UTC), datetime(2027, 10, 31, 1, tzinfo=UTC)]


def systemd_elapses(specs: list[str], base: datetime) -> list[list[datetime]]:
    """The next 20 elapses of each spec after `base`, by systemd-analyze in one call.

    Run on a machine in UTC, so the zone written in each spec is what counts."""
    command = ["systemd-analyze", "calendar", "--iterations=20", f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC", *specs]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120,
                         env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    blocks: list[list[datetime]] = []
    for line in run.stdout.splitlines():
        line = line.strip()
        if line.startswith("Normalized form:"):
            blocks.append([])
        elif line.startswith(("Next elapse:", "Iter. #")):
            stamp = line.split(": ", 1)[1]
            blocks[-1].append(datetime.strptime(stamp, "%a %Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC))
    assert len(blocks) == len(specs)
    return blocks


def random_base(rng: random.Random, zone: str) -> datetime:
    """Half of the bases sit just before a DST change, where systemd and next_fire would part first."""
    if rng.random() < 0.5 and zone in ("Europe/Berlin", "America/New_York"):
        changes = zone_transitions(ZoneInfo(zone), NOW, 3)
        return rng.choice(changes).at - timedelta(hours=rng.randrange(1, 48), seconds=30)
    return NOW + timedelta(seconds=rng.randrange(3 * 365 * 86400) + 30)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_fires_exactly_when_next_fire_does_on_random_expressions() -> None:
    rng = random.Random(20261127)
    zones = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
    compared = refused = batches = 0
    while compared < 210:
        zone = zones[batches % len(zones)]
        batches += 1
        base = random_base(rng, zone)
        batch: list[tuple[str, list[str]]] = []  # expressions sharing this base, checked in one call
        while len(batch) < 15:
            expr = parse_cron(random_expression(rng))
            try:
                batch.append((expr.text, systemd_calendar(expr, ZoneInfo(zone), zone, base)))
            except ExportError:
                refused += 1
        elapses = iter(systemd_elapses([spec for _, specs in batch for spec in specs], base))
        for text, specs in batch:
            theirs = sorted({moment for _ in specs for moment in next(elapses)})[:20]
            ours = [fire.astimezone(UTC) for fire in next_fires(text, base.astimezone(ZoneInfo(zone)), 20)]
            assert theirs == ours, f"{text!r} in {zone} from {base}: {specs}"
            compared += 1
    assert refused < compared / 4, "refusals should be the DST edge cases only"


FIXED_ZONES = ("UTC", "Asia/Tokyo", "Asia/Kolkata", "America/Sao_Paulo", "Asia/Kathmandu", "Pacific/Honolulu")


def sparse_expression(rng: random.Random) -> str:
    """Expressions GitHub can run (at most every 5 minutes) that still move across midnight."""
    minute = rng.choice(["0", "*/15", "30", f"{rng.randrange(60)}", "5,35", "10-50/20"])
    hour = rng.choice(["*", "0", "23", "0-2", "22-23", "9-17", "*/3", f"{rng.randrange(24)}", "1,13"])
    dom = rng.choice(["*", "*", "2-27", "15", "10,20", "1", "31"])
    month = rng.choice(["*", "*", "*", "1-6", "3"])
    dow = rng.choice(["*", "*", "1-5", "0", "6,0", "3"])
    return f"{minute} {hour} {dom} {month} {dow}"


def test_the_utc_translation_fires_exactly_when_next_fire_does_in_fixed_offset_zones() -> None:
    rng = random.Random(42)
    compared = refused = 0
    while compared < 600:
        expr = parse_cron(sparse_expression(rng))
        name = rng.choice(FIXED_ZONES)
        zone = ZoneInfo(name)
        try:
            schedule = utc_schedule(expr, zone, name, NOW)
        except ExportError:
            refused += 1
            continue
        assert schedule.dst_note is None
        start = NOW + timedelta(seconds=rng.randrange(2 * 365 * 86400))
        ours = [fire.astimezone(UTC) for fire in next_fires(expr, start.astimezone(zone), 30)]
        theirs = sorted({fire for cron in schedule.crons for fire in next_fires(cron, start, 30)})[:30]
        assert theirs == ours, f"{expr.text!r} in {name}: {schedule.crons}"
        compared += 1
    assert refused < compared


def test_a_dst_zone_uses_standard_time_and_says_the_runs_move_an_hour() -> None:
    schedule = utc_schedule(parse_cron("30 9 * * 1-5"), BERLIN, "Europe/Berlin", NOW)
    assert schedule.crons == ("30 8 * * 1-5",)
    assert schedule.dst_note is not None and "1 hour later by the local clock" in schedule.dst_note
    every_hour = utc_schedule(parse_cron("*/30 * * * *"), BERLIN, "Europe/Berlin", NOW)
    assert every_hour.crons == ("*/30 * * * *",) and every_hour.dst_note is None


def test_runs_that_cross_midnight_move_their_weekday() -> None:
    schedule = utc_schedule(parse_cron("30 0,12 * * 1"), ZoneInfo("Asia/Tokyo"), "Asia/Tokyo", NOW)
    assert schedule.crons == ("30 15 * * 0", "30 3 * * 1")


@pytest.mark.parametrize(("text", "zone", "reason"), [
    ("0 0 1 * *", "Asia/Tokyo", "cannot name the day next to day 1"),
    ("0 22 31 * *", "America/Sao_Paulo", "cannot name the day next to day 31"),
    ("30 0 * 3 *", "Asia/Tokyo", "cannot move a month"),
    ("*/2 9 * * *", "UTC", "at most every 5 minutes"),
])
def test_what_utc_cron_cannot_say_is_refused_with_the_reason(text: str, zone: str, reason: str) -> None:
    with pytest.raises(ExportError, match=reason):
        utc_schedule(parse_cron(text), ZoneInfo(zone), zone, NOW)
