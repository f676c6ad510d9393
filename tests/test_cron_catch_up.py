"""catchUp per task: after downtime, `latest` runs once for the most recent missed slot, `skip` none."""

from __future__ import annotations

import json
from pathlib import Path

from sched_helpers import MIN, T0, Clock, make, task

from agent.cron.task import CronTask


def write_tasks(project: Path, *tasks: CronTask) -> None:
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "scheduled_tasks.json").write_text(
        json.dumps({"tasks": [t.to_json_dict() for t in tasks]}))


async def after_an_hour_of_downtime(project: Path, **extra) -> tuple[Clock, list, object]:
    # every 5 minutes, last fired an hour ago; the process starts 1 minute after a slot
    write_tasks(project, task("cafe0001", lastFiredAt=T0 - 60 * MIN, **extra))
    clock, fired = Clock(T0 + MIN), []
    sched = make(project, clock, fired)
    await sched.tick()
    return clock, fired, sched


async def test_latest_the_default_runs_once_for_the_missed_slots_not_once_per_slot(tmp_path):
    clock, fired, sched = await after_an_hour_of_downtime(tmp_path)
    assert [f.task.id for f in fired] == ["cafe0001"]
    clock.now += 1000
    await sched.tick()
    assert len(fired) == 1


async def test_skip_runs_nothing_for_missed_slots_and_fires_at_the_next_slot(tmp_path):
    clock, fired, sched = await after_an_hour_of_downtime(tmp_path, catchUp="skip")
    assert fired == []
    clock.now = T0 + 5 * MIN
    await sched.tick()
    assert [(f.task.id, f.due_ms) for f in fired] == [("cafe0001", T0 + 5 * MIN)]


async def test_skip_from_settings_applies_to_tasks_without_their_own_field(tmp_path):
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps({"cron": {"catchUp": "skip"}}))
    _, fired, _ = await after_an_hour_of_downtime(tmp_path)
    assert fired == []


async def test_a_task_field_latest_wins_over_settings_skip(tmp_path):
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps({"cron": {"catchUp": "skip"}}))
    _, fired, _ = await after_an_hour_of_downtime(tmp_path, catchUp="latest")
    assert len(fired) == 1
