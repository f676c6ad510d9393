"""Local days across clock changes: the daily budget's day begins at local midnight in midnight's own
offset, and `agent cron next` lists fires after a change in the new offset, as the scheduler fires them (a
fixed offset taken from "now" was an hour off on and after those days)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent.cli.main import main
from agent.runs.recorder import local_midnight_ms

# (zone, a date whose clock changes, or an ordinary one)
DAYS = [
    ("America/New_York", (2027, 3, 14)),  # 02:00 -> 03:00
    ("America/New_York", (2027, 11, 7)),  # 02:00 -> 01:00
    ("America/New_York", (2027, 6, 1)),
    ("Europe/Berlin", (2027, 3, 28)),
    ("Europe/Berlin", (2027, 10, 31)),
    ("America/Santiago", (2027, 9, 5)),  # midnight itself is skipped: the day begins at 01:00
    ("Australia/Lord_Howe", (2027, 4, 4)),  # a 30-minute change
    ("UTC", (2027, 1, 1)),
]


@pytest.mark.parametrize(("zone", "date"), DAYS, ids=[f"{z}-{d[0]}-{d[1]:02}-{d[2]:02}" for z, d in DAYS])
@pytest.mark.parametrize("hour", [0, 1, 3, 12, 23])
def test_the_budget_day_begins_at_the_first_moment_of_the_local_date(zone, date, hour):
    tz = ZoneInfo(zone)
    now = datetime(*date, hour, 30, tzinfo=tz)
    start = local_midnight_ms(int(now.timestamp() * 1000), tz)
    first = datetime.fromtimestamp(start / 1000, tz)
    just_before = datetime.fromtimestamp((start - 1) / 1000, tz)
    assert first.date() == now.date() and first.time().minute == 0
    assert just_before.date() == now.date() - timedelta(days=1)


def test_on_the_day_the_clock_goes_forward_the_hour_before_midnight_is_yesterday():
    new_york = ZoneInfo("America/New_York")
    ten = datetime(2027, 3, 14, 10, 0, tzinfo=new_york)
    midnight = datetime(2027, 3, 14, 0, 0, tzinfo=new_york)  # EST, -05:00; ten o'clock is EDT, -04:00
    assert local_midnight_ms(int(ten.timestamp() * 1000), new_york) == int(midnight.timestamp() * 1000)


def test_cron_next_lists_fires_after_a_clock_change_in_the_new_offset(monkeypatch, capsys):
    monkeypatch.setenv("TZ", "America/New_York")
    assert main(["cron", "next", "0 9 * * *", "--from", "2027-03-12T12:00", "--count", "3"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "2027-03-13T09:00:00-05:00", "2027-03-14T09:00:00-04:00", "2027-03-15T09:00:00-04:00"]
