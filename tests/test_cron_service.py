from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.cron.expr import CronError
from agent.cron.jitter import JitterConfig, datetime_to_ms
from agent.cron.service import CronService, ScheduledTask
from agent.cron.store import MAX_TASKS, FileTaskStore, SessionTaskStore, TaskFileError, TaskLimitError
from agent.cron.task import CronTask

UTC = ZoneInfo("UTC")
MIN = 60_000


def ms(*args: int, tz: ZoneInfo = UTC) -> int:
    return datetime_to_ms(datetime(*args, tzinfo=tz))


class FakeClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(ms(2026, 3, 2, 10, 2))


@pytest.fixture
def service(tmp_path: Path, clock: FakeClock) -> CronService:
    return CronService(FileTaskStore(tmp_path), SessionTaskStore(), now_ms=clock, tz=UTC)


def test_create_session_task_stays_in_memory(service: CronService, clock: FakeClock) -> None:
    created = service.create("*/5 * * * *", "  check the build  ")
    assert isinstance(created, ScheduledTask) and created.durable is False
    task = created.task
    assert re.fullmatch(r"[0-9a-f]{8}", task.id)
    assert (task.cron, task.prompt, task.createdAt, task.recurring) == (
        "*/5 * * * *",
        "check the build",
        clock.now,
        True,
    )
    assert created.human_schedule == "Every 5 minutes"
    assert service.session_store.load().tasks == [task]
    assert not service.file_store.path.exists()


def test_create_durable_task_writes_the_file_without_a_durable_flag(service: CronService) -> None:
    created = service.create("0 9 * * 1-5", "standup notes", durable=True, recurring=False)
    entry = json.loads(service.file_store.path.read_text())["tasks"][0]
    assert entry["id"] == created.id and "durable" not in entry and "recurring" not in entry
    assert created.durable and created.human_schedule == "Weekdays at 9:00 AM"
    assert service.session_store.load().tasks == []


def test_create_normalises_whitespace_in_the_expression(service: CronService) -> None:
    assert service.create("  0   9\t* * *  ", "x").task.cron == "0 9 * * *"


@pytest.mark.parametrize("cron", ["61 * * * *", "* * *", "0 0 30 2 *", "every day"])
def test_create_rejects_invalid_or_never_firing_expressions(service: CronService, cron: str) -> None:
    with pytest.raises(CronError):
        service.create(cron, "x", durable=True)
    assert service.list() == []


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_create_rejects_an_empty_prompt(service: CronService, prompt: str) -> None:
    with pytest.raises(ValueError, match="prompt is empty"):
        service.create("* * * * *", prompt)
    assert service.list() == []


@pytest.mark.parametrize("durable", [True, False])
def test_limit_counts_both_stores_together(service: CronService, durable: bool) -> None:
    for n in range(MAX_TASKS):
        service.create("* * * * *", f"task {n}", durable=n % 2 == 0)
    with pytest.raises(TaskLimitError, match=r"^Too many scheduled jobs \(max 50\)\. Cancel one first\.$"):
        service.create("* * * * *", "one too many", durable=durable)
    assert len(service.list()) == MAX_TASKS


def test_delete_finds_tasks_in_either_store(service: CronService) -> None:
    session = service.create("* * * * *", "s")
    durable = service.create("* * * * *", "d", durable=True)
    deleted = service.delete(durable.id)
    assert deleted is not None and deleted.durable and deleted.task == durable.task
    assert service.delete(session.id) == session
    assert service.delete(session.id) is None
    assert service.delete("ffffffff") is None
    assert service.list() == []


def test_list_shows_both_stores_oldest_first_with_durability(service: CronService, clock: FakeClock) -> None:
    first = service.create("0 * * * *", "first", durable=True)
    clock.now += MIN
    second = service.create("30 * * * *", "second")
    clock.now += MIN
    third = service.create("15 * * * *", "third", durable=True)
    listed = service.list()
    assert [s.id for s in listed] == [first.id, second.id, third.id]
    assert [s.durable for s in listed] == [True, False, True]
    assert service.get(second.id) == listed[1] and service.get("ffffffff") is None


def test_list_reports_malformed_entries_as_problems(service: CronService) -> None:
    service.create("* * * * *", "good", durable=True)
    data = json.loads(service.file_store.path.read_text())
    data["tasks"].append({"id": "nothex!!", "cron": "* * * * *", "prompt": "x", "createdAt": 1})
    service.file_store.path.write_text(json.dumps(data))
    tasks, problems = service.list_with_problems()
    assert [t.task.prompt for t in tasks] == ["good"]
    assert len(problems) == 1 and "tasks[1] (id 'nothex!!')" in problems[0]


def test_unreadable_file_does_not_hide_or_block_session_tasks(service: CronService) -> None:
    service.file_store.path.parent.mkdir()
    service.file_store.path.write_text("{broken")
    session = service.create("* * * * *", "still works")
    tasks, problems = service.list_with_problems()
    assert tasks == [session]
    assert len(problems) == 1 and "could not be read as a list of tasks" in problems[0]
    with pytest.raises(TaskFileError):
        service.create("* * * * *", "durable", durable=True)
    assert service.file_store.path.read_text() == "{broken"


# --- next fire ---------------------------------------------------------------------------------------


def test_recurring_next_fire_is_jittered_from_creation(tmp_path: Path, clock: FakeClock) -> None:
    service = CronService(FileTaskStore(tmp_path), SessionTaskStore(), now_ms=clock, tz=UTC)
    task = CronTask(id="80000000", cron="0 * * * *", prompt="p", createdAt=clock.now, recurring=True)
    assert service.next_fire_ms(task) == ms(2026, 3, 2, 11, 0) + 180_000


def test_recurring_next_fire_counts_from_the_last_fire(service: CronService, clock: FakeClock) -> None:
    task = CronTask(
        id="00000000", cron="0 * * * *", prompt="p", createdAt=clock.now - 600 * MIN, recurring=True
    )
    clock.now = ms(2026, 3, 2, 12, 30)
    fired = task.with_last_fired(ms(2026, 3, 2, 12, 0))
    assert service.next_fire_ms(fired) == ms(2026, 3, 2, 13, 0)


def test_overdue_next_fire_is_reported_as_now(service: CronService, clock: FakeClock) -> None:
    task = CronTask(id="00000000", cron="0 * * * *", prompt="p", createdAt=clock.now, recurring=True)
    clock.now += 5 * 60 * MIN  # five hours later, never fired
    assert service.next_fire_ms(task) == clock.now


def test_one_shot_next_fire_is_jittered_early_and_none_once_fired(
    service: CronService, clock: FakeClock
) -> None:
    task = CronTask(id="ffffffff", cron="30 14 * * *", prompt="p", createdAt=clock.now)
    assert service.next_fire_ms(task) == ms(2026, 3, 2, 14, 30) - 89_999
    assert service.next_fire_ms(task.with_last_fired(clock.now)) is None


def test_jitter_settings_are_read_live(tmp_path: Path, clock: FakeClock) -> None:
    settings = {"cfg": JitterConfig()}
    service = CronService(
        FileTaskStore(tmp_path), SessionTaskStore(), now_ms=clock, jitter=lambda: settings["cfg"], tz=UTC
    )
    task = CronTask(id="80000000", cron="0 * * * *", prompt="p", createdAt=clock.now, recurring=True)
    assert service.next_fire_ms(task) == ms(2026, 3, 2, 11, 0) + 180_000
    settings["cfg"] = JitterConfig(recurringFrac=0)
    assert service.next_fire_ms(task) == ms(2026, 3, 2, 11, 0)
    assert service.jitter_config().recurringFrac == 0


def test_schedules_are_read_in_the_services_zone(tmp_path: Path, clock: FakeClock) -> None:
    # 10:02 UTC is 05:02 in New York: the next 9:00 is the same day there, tomorrow in UTC.
    ny = ZoneInfo("America/New_York")
    task = CronTask(id="00000000", cron="0 9 * * *", prompt="p", createdAt=clock.now, recurring=True)
    in_ny = CronService(FileTaskStore(tmp_path), SessionTaskStore(), now_ms=clock, tz=ny)
    in_utc = CronService(FileTaskStore(tmp_path), SessionTaskStore(), now_ms=clock, tz=UTC)
    assert in_ny.next_fire_ms(task) == ms(2026, 3, 2, 9, 0, tz=ny)
    assert in_utc.next_fire_ms(task) == ms(2026, 3, 3, 9, 0)
