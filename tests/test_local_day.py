"""Local days across clock changes: the daily budget's day begins at local midnight in midnight's own
offset, and `agent cron next` lists fires after a change in the new offset, as the scheduler fires them (a
fixed offset taken from "now" was an hour off on and after those days)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.cli.main import main
from agent.cron.history import RunHistory
from agent.cron.task import CronTask
from agent.engine.conversation import TurnResult
from agent.engine.events import Usage
from agent.runs.recorder import RunRecorder, local_midnight_ms

NEW_YORK = ZoneInfo("America/New_York")


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)

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


def test_without_a_zone_it_is_the_local_one_from_tz(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    afternoon = datetime(2026, 3, 8, 15, 0, tzinfo=NEW_YORK)
    assert local_midnight_ms(ms(afternoon)) == ms(datetime(2026, 3, 8, 0, 0, tzinfo=NEW_YORK))


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class NoAlerts:
    def config(self) -> dict:
        return {}

    def send(self, kind: str, fields: dict) -> None:
        pass


async def test_yesterdays_spending_does_not_block_a_run_on_a_dst_change_day(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    task = CronTask(id="b0d9e701", cron="0 * * * *", prompt="check", createdAt=0, recurring=True)
    clock = Clock(ms(datetime(2026, 3, 7, 23, 30, tzinfo=NEW_YORK)))  # the evening before clocks go forward
    db = RunHistory(tmp_path / "h.db")
    try:
        recorder = RunRecorder(Path("/p"), {}, source="daemon", cron_settings=lambda: {"dailyTokenBudget": 5},
                               notifier=NoAlerts(), clock=clock, history=db)  # type: ignore[arg-type]
        tracker = await recorder.start(task, scheduled_ms=clock.now)
        await recorder.finish(tracker, TurnResult(result_text="fine", num_requests=1, usage=Usage(10, 1)))
        assert await recorder.gate(task) is not None  # 11 tokens: today's budget is spent
        clock.now = ms(datetime(2026, 3, 8, 15, 0, tzinfo=NEW_YORK))  # EDT now; the day began at 00:00 EST
        assert await recorder.gate(task) is None
    finally:
        db.close()
