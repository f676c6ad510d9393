"""The daily budget's day starts at local midnight by the zone's rules, also on the two days a year the
offset changes (it used to take today's offset, so on a DST change day the day began an hour off)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.cron.history import RunHistory
from agent.cron.task import CronTask
from agent.engine.conversation import TurnResult
from agent.engine.events import Usage
from agent.runs.recorder import RunRecorder, local_midnight_ms

NEW_YORK = ZoneInfo("America/New_York")


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@pytest.mark.parametrize("day", [(2026, 3, 8), (2026, 11, 1), (2026, 6, 1)], ids=["spring-forward", "fall-back",
                                                                                   "summer"])
def test_the_local_day_starts_at_midnight_by_the_zones_rules(day):
    afternoon = datetime(*day, 15, 0, tzinfo=NEW_YORK)
    assert local_midnight_ms(ms(afternoon), NEW_YORK) == ms(datetime(*day, 0, 0, tzinfo=NEW_YORK))


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
