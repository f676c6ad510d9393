"""CronScheduler: firing rules driven tick by tick with a fake clock, plus the real loop's timing."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest
from sched_helpers import MIN, NO_JITTER, T0, UTC, Clock, make, task
from trust_support import trust_folder

from agent.cron.jitter import JitterConfig
from agent.cron.scheduler import CronScheduler, FiredTask
from agent.cron.store import FileTaskStore
from agent.cron.task import CronTask


def write_tasks(project: Path, *tasks: CronTask) -> None:
    (project / ".claude").mkdir(exist_ok=True)
    body = {"tasks": [t.to_json_dict() for t in tasks]}
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps(body, indent=2))


def file_tasks(project: Path) -> dict[str, dict]:
    data = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())
    return {t["id"]: t for t in data["tasks"]}


async def test_recurring_session_task_fires_once_after_a_blocked_hour_not_a_burst(tmp_path):
    clock, fired = Clock(T0 + 60 * MIN + 7_000), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("aaaaaaaa"))
    await sched.tick()
    await sched.tick()
    assert [f.task.id for f in fired] == ["aaaaaaaa"]
    # The next fire counts from the moment it fired (10:00:07), not from the missed 9:05 slot.
    assert sched.next_fire_time()[1] == T0 + 65 * MIN
    assert sched.session_store.load().tasks[0].lastFiredAt == clock.now
    clock.now = T0 + 65 * MIN
    await sched.tick()
    assert len(fired) == 2


async def test_one_shot_session_task_fires_once_and_is_deleted(tmp_path):
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("bbbbbbbb", recurring=False))
    await sched.tick()
    await sched.tick()
    assert [(f.task.id, f.final) for f in fired] == [("bbbbbbbb", True)]
    assert sched.session_store.load().tasks == []


async def test_nothing_fires_before_its_due_time(tmp_path):
    clock, fired = Clock(T0 + 4 * MIN + 59_999), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("cccccccc"))
    await sched.tick()
    assert fired == []
    clock.now += 1
    await sched.tick()
    assert len(fired) == 1 and fired[0].due_ms == T0 + 5 * MIN


async def test_durable_recurring_task_writes_last_fired_at_to_the_file(tmp_path):
    write_tasks(tmp_path, task("dddddddd", lastFiredAt=T0), task("eeeeeeee", "*/10 * * * *", lastFiredAt=T0))
    clock, fired = Clock(T0 + 11 * MIN), []
    sched = make(tmp_path, clock, fired)
    await sched.tick()
    assert sched.is_owner
    assert sorted(f.task.id for f in fired) == ["dddddddd", "eeeeeeee"]
    assert all(f.durable and f.owner for f in fired)
    on_disk = file_tasks(tmp_path)
    assert on_disk["dddddddd"]["lastFiredAt"] == clock.now == on_disk["eeeeeeee"]["lastFiredAt"]


async def test_durable_one_shot_is_removed_from_the_file_before_delivery(tmp_path):
    write_tasks(tmp_path, task("ffffffff", recurring=False), task("aaaaaaaa"))
    seen_on_disk: list[set[str]] = []

    def on_fire(fired: FiredTask) -> None:
        seen_on_disk.append(set(file_tasks(tmp_path)))

    clock = Clock(T0 + 5 * MIN)
    sched = CronScheduler(tmp_path, on_fire, clock=clock, tz=UTC, use_watchdog=False,
                          jitter_config=NO_JITTER, env={})
    await sched.tick()
    # At most once: by the time the handler runs, the one-shot is already gone from the file.
    assert seen_on_disk and all("ffffffff" not in ids for ids in seen_on_disk)


async def test_crash_between_commit_and_delivery_loses_the_one_shot_rather_than_repeating_it(tmp_path):
    write_tasks(tmp_path, task("abcdef01", recurring=False))

    class Crash(BaseException):
        pass

    def crashing(fired: FiredTask) -> None:
        raise Crash

    clock = Clock(T0 + 5 * MIN)
    first = CronScheduler(tmp_path, crashing, clock=clock, tz=UTC, use_watchdog=False,
                          jitter_config=NO_JITTER, env={})
    with pytest.raises(Crash):
        await first.tick()
    first.lock.release()
    fired: list[FiredTask] = []
    second = make(tmp_path, clock, fired)
    await second.tick()
    assert fired == [] and file_tasks(tmp_path) == {}


async def test_task_deleted_by_another_process_never_fires_even_without_a_reload(tmp_path):
    write_tasks(tmp_path, task("12345678"), task("87654321", recurring=False))
    clock, fired = Clock(T0 + MIN), []
    sched = make(tmp_path, clock, fired)
    await sched.tick()  # loads both; nothing due yet
    FileTaskStore(tmp_path).remove(["12345678", "87654321"])  # no change event reaches the scheduler
    clock.now = T0 + 10 * MIN
    await sched.tick()
    assert fired == []
    await sched.tick()
    assert sched.next_fire_time() is None


async def test_busy_session_holds_fires_until_idle_then_fires_once(tmp_path):
    busy = True
    clock, fired = Clock(T0 + 30 * MIN), []
    sched = make(tmp_path, clock, fired, is_busy=lambda: busy)
    sched.session_store.add(task("aaaa0000", "* * * * *"))
    await sched.tick()
    clock.now += 5 * MIN
    await sched.tick()
    assert fired == []
    busy = False
    await sched.tick()
    await sched.tick()
    assert len(fired) == 1


@pytest.mark.parametrize("name", ["AGENT_DISABLE_CRON", "CLAUDE_CODE_DISABLE_CRON"])
async def test_kill_switch_in_environment_stops_all_firing(tmp_path, name):
    write_tasks(tmp_path, task("aaaa1111"))
    clock, fired = Clock(T0 + 5 * MIN), []
    env = {name: "1"}
    sched = make(tmp_path, clock, fired, env=env)
    sched.session_store.add(task("bbbb1111"))
    await sched.tick()
    assert fired == []
    del env[name]  # read on every tick: no restart needed
    await sched.tick()
    assert sorted(f.task.id for f in fired) == ["aaaa1111", "bbbb1111"]


async def test_kill_switch_in_settings_env_takes_effect_without_restart(tmp_path):
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"env": {"AGENT_DISABLE_CRON": "1"}}))
    trust_folder(tmp_path)  # a project's `env` applies only in a trusted folder
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("cccc1111"))
    await sched.tick()
    assert fired == []
    settings.write_text(json.dumps({"env": {}}) + " ")  # a different size, so the change shows at once
    await sched.tick()
    assert len(fired) == 1


async def test_jitter_config_comes_from_settings_and_an_invalid_one_falls_back_with_one_warning(tmp_path, caplog):
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"cronJitter": {"recurringFrac": 0.5, "recurringCapMs": 600_000}}))
    clock, fired = Clock(T0), []
    sched = make(tmp_path, clock, fired, jitter_config=None)
    await sched.tick()
    assert sched.jitter_config.recurringFrac == 0.5
    settings.write_text(json.dumps({"cronJitter": {"recurringFrac": 7}}))
    with caplog.at_level(logging.WARNING):
        await sched.tick()
        await sched.tick()
    assert sched.jitter_config == JitterConfig()
    assert len([r for r in caplog.records if "cronJitter" in r.getMessage()]) == 1


async def test_jitter_moves_a_recurring_fire_by_the_id_fraction(tmp_path):
    clock, fired = Clock(T0 + 1), []
    sched = make(tmp_path, clock, fired, jitter_config=JitterConfig())
    sched.session_store.add(task("80000000", "0 * * * *"))
    await sched.tick()
    assert sched.next_fire_time()[1] == T0 + 60 * MIN + 3 * MIN  # half of 10% of an hour late


async def test_a_raising_handler_is_logged_and_the_other_fires_still_happen(tmp_path, caplog):
    clock, fired = Clock(T0 + 5 * MIN), []

    def on_fire(f: FiredTask) -> None:
        fired.append(f)
        if f.task.id == "aaaaaaaa":
            raise RuntimeError("handler bug")

    sched = CronScheduler(tmp_path, on_fire, clock=clock, tz=UTC, use_watchdog=False,
                          jitter_config=NO_JITTER, env={})
    sched.session_store.add(task("aaaaaaaa"))
    sched.session_store.add(task("bbbbbbbb"))
    with caplog.at_level(logging.ERROR):
        await sched.tick()
    assert sorted(f.task.id for f in fired) == ["aaaaaaaa", "bbbbbbbb"]
    assert any("aaaaaaaa" in r.getMessage() for r in caplog.records)


async def test_task_with_unusable_cron_is_skipped_with_one_warning(tmp_path, caplog):
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("0000aaaa", "0 0 30 2 *"))  # parses, never fires
    sched.session_store.add(task("0000bbbb"))
    with caplog.at_level(logging.WARNING):
        await sched.tick()
        await sched.tick()
    assert [f.task.id for f in fired] == ["0000bbbb"]


async def test_aged_recurring_task_fires_one_last_time_and_is_deleted_but_permanent_never_ages(tmp_path):
    old = T0 - 8 * 24 * 60 * MIN
    write_tasks(tmp_path, task("a9e00001", created=old, lastFiredAt=T0),
                task("a9e00002", created=old, lastFiredAt=T0, permanent=True))
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired, jitter_config=JitterConfig(recurringFrac=0, oneShotMaxMs=0))
    await sched.tick()
    assert {f.task.id: f.final for f in fired} == {"a9e00001": True, "a9e00002": False}
    assert set(file_tasks(tmp_path)) == {"a9e00002"}


async def test_non_owner_fires_session_tasks_but_not_file_tasks(tmp_path):
    write_tasks(tmp_path, task("f11e0001"))
    clock = Clock(T0 + 5 * MIN)
    owner_fired, other_fired = [], []
    owner = make(tmp_path, clock, owner_fired, session_id="owner")
    other = make(tmp_path, clock, other_fired, session_id="other")
    await owner.tick()
    other.session_store.add(task("5e550001"))
    await other.tick()
    assert [f.task.id for f in owner_fired] == ["f11e0001"]
    assert [f.task.id for f in other_fired] == ["5e550001"] and not other_fired[0].owner
    await owner.stop()
    await other.tick()  # the owner released the lock: the other takes over at once
    assert other.is_owner


async def test_missed_one_shots_at_start_go_to_on_missed_and_leave_the_file(tmp_path):
    write_tasks(tmp_path, task("0ff1de01", recurring=False, created=T0 - 120 * MIN), task("aaaa2222"))
    clock, fired, missed = Clock(T0), [], []
    sched = make(tmp_path, clock, fired, on_missed=missed.append)
    await sched.tick()
    assert [[t.id for t in batch] for batch in missed] == [["0ff1de01"]]
    assert set(file_tasks(tmp_path)) == {"aaaa2222"}
    assert all(f.task.id != "0ff1de01" for f in fired)


async def test_unreadable_tasks_file_is_left_unchanged_and_session_tasks_keep_firing(tmp_path, caplog):
    path = tmp_path / ".claude" / "scheduled_tasks.json"
    path.parent.mkdir()
    path.write_bytes(b'{"tasks": [{"id": "aaaa')
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("5e550002"))
    with caplog.at_level(logging.WARNING):
        await sched.tick()
        await sched.tick()
    assert [f.task.id for f in fired] == ["5e550002"]
    assert path.read_bytes() == b'{"tasks": [{"id": "aaaa'
    assert len([r for r in caplog.records if "scheduled_tasks.json" in r.getMessage()]) == 1


async def test_real_loop_fires_a_task_due_between_ticks_at_its_due_time_not_at_the_next_tick(tmp_path):
    # Real loop and real sleeps, with the clock shifted so that the next minute starts in ~1.3 s: the
    # due time falls between two 1-second ticks, so only the sleep-until-due path can be on time (the
    # ticks come 300 ms before and 700 ms after it). The bound tells the two paths apart with room for a
    # loaded CI machine; the precision figure (p99 under 50 ms) is bench/scheduler_bench.py's.
    real_ms = lambda: time.time_ns() // 1_000_000  # noqa: E731
    start = real_ms()
    offset = (start // MIN + 1) * MIN - 1_300 - start
    clock = lambda: real_ms() + offset  # noqa: E731
    due = (clock() // MIN + 1) * MIN
    fired: list[tuple[FiredTask, int]] = []
    got = asyncio.Event()

    def on_fire(f: FiredTask) -> None:
        fired.append((f, clock()))
        got.set()

    sched = CronScheduler(tmp_path, on_fire, clock=clock, jitter_config=NO_JITTER, env={}, use_watchdog=False)
    sched.session_store.add(task("1a7e0001", "* * * * *", created=due - 30_000, recurring=False))
    await sched.start()
    try:
        await asyncio.wait_for(got.wait(), timeout=5)
    finally:
        await sched.stop()
    f, at = fired[0]
    assert f.due_ms == due
    assert 0 <= at - due < 400



async def test_idle_ticks_do_not_recompute_due_times_but_a_new_task_is_seen_at_once(tmp_path, monkeypatch):
    clock, fired = Clock(T0), []
    sched = make(tmp_path, clock, fired)
    for n in range(20):
        sched.session_store.add(task(f"{n:08x}"))
    calls = []
    real = sched._due.due_ms
    monkeypatch.setattr(sched._due, "due_ms", lambda t: calls.append(t.id) or real(t))
    await sched.tick()
    assert len(calls) == 20
    for _ in range(5):
        clock.now += 1000
        await sched.tick()
    assert len(calls) == 20  # nothing changed: the cached due times stand
    sched.session_store.add(task("0000ffff", "* * * * *"))
    clock.now = T0 + MIN
    await sched.tick()
    assert calls[-1] == "0000ffff" and [f.task.id for f in fired] == ["0000ffff"]
