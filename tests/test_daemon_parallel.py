"""The daemon's dispatch, in process with a stand-in runner: parallel up to cron.maxConcurrentRuns, a task
never beside itself (skipped, with the reason), a fire that cannot start in time skipped as late."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from agent.cli.daemon import Daemon
from agent.cron.history import RunHistory, history_path
from agent.cron.scheduler import FiredTask
from agent.cron.service import CronService
from agent.cron.store import FileTaskStore, SessionTaskStore
from agent.cron.task import CronTask


class Settings(dict):
    pass


def make_daemon(tmp_path: Path, cron: dict, clock=None) -> tuple[Daemon, RunHistory]:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    file_store, session_store = FileTaskStore(project), SessionTaskStore()
    session = SimpleNamespace(project_dir=project, env=env, settings=Settings(cron=cron), file_store=file_store,
                              session_store=session_store, cron=CronService(file_store, session_store))
    daemon = Daemon(session, grace_s=0)
    db = RunHistory(history_path(project, env))
    daemon.recorder._history = db
    if clock is not None:
        daemon.recorder._clock = clock
    return daemon, db


class StandIn:
    """Runs that last until released; records who started when."""

    def __init__(self, recorder) -> None:
        self.recorder = recorder
        self.started: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def run(self, fired, *, record=None, slot=None):
        self.started.append(fired.task.id)
        tracker = await self.recorder.start(fired.task, scheduled_ms=fired.due_ms, record=record)
        await self.release.setdefault(fired.task.id, asyncio.Event()).wait()
        tracker.record.status = "ok"
        await self.recorder.query("save", tracker.record)
        return tracker.record


def fire(task_id: str, now: int, cron: str = "0 0 1 1 *") -> FiredTask:
    """A fire due `now`. Yearly: a run may start until the next slot (capped at an hour) whatever the time
    of day; an every-minute fire at second 59.9 would have to start within 4 s (its jitter) or be skipped late."""
    task = CronTask(id=task_id, cron=cron, prompt=f"task {task_id}", createdAt=now - 600_000, recurring=True)
    return FiredTask(task, True, now, now, True, False)


async def settle(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.01)


async def test_different_tasks_run_side_by_side_up_to_max_concurrent_runs(tmp_path):
    daemon, db = make_daemon(tmp_path, {"maxConcurrentRuns": 2})
    runner = daemon.runner = StandIn(daemon.recorder)
    now = daemon.recorder.now_ms()
    fires = [fire(f"aaaa000{i}", now) for i in range(3)]
    await daemon.on_commit(fires)
    assert {r.status for r in db.runs()} == {"queued"}
    for fired in fires:
        daemon.on_fire(fired)
    await settle(lambda: len(runner.started) == 2)
    await asyncio.sleep(0.1)
    assert runner.started == ["aaaa0000", "aaaa0001"]  # the third waits for a slot, still queued
    runner.release.setdefault("aaaa0000", asyncio.Event()).set()
    await settle(lambda: len(runner.started) == 3)
    for event in ("aaaa0001", "aaaa0002"):
        runner.release.setdefault(event, asyncio.Event()).set()
    await settle(lambda: not daemon.running)
    runs = db.runs()
    assert sorted(r.status for r in runs) == ["ok", "ok", "ok"] and len(runs) == 3  # one record per fire


async def test_a_fire_while_the_previous_run_of_the_task_goes_is_recorded_skipped(tmp_path):
    daemon, db = make_daemon(tmp_path, {})
    runner = daemon.runner = StandIn(daemon.recorder)
    now = daemon.recorder.now_ms()
    first, second = fire("bbbb0001", now), fire("bbbb0001", now + 60_000)
    await daemon.on_commit([first])
    daemon.on_fire(first)
    await settle(lambda: runner.started == ["bbbb0001"])
    await daemon.on_commit([second])
    daemon.on_fire(second)
    await settle(lambda: any(r.status == "skipped" for r in db.runs()))
    [skipped] = [r for r in db.runs() if r.status == "skipped"]
    assert "previous run is still going" in skipped.error and skipped.scheduled_at == now + 60_000
    runner.release["bbbb0001"].set()
    await settle(lambda: not daemon.running)
    assert sorted(r.status for r in db.runs()) == ["ok", "skipped"] and runner.started == ["bbbb0001"]


async def test_a_fire_that_cannot_start_within_its_starting_deadline_is_skipped_late(tmp_path):
    clock = [1_790_000_000_000]
    daemon, db = make_daemon(tmp_path, {"maxConcurrentRuns": 1, "startingDeadlineS": 30},
                             clock=lambda: clock[0])
    runner = daemon.runner = StandIn(daemon.recorder)
    blocker, waiting = fire("cccc0001", clock[0]), fire("cccc0002", clock[0])
    await daemon.on_commit([blocker, waiting])
    daemon.on_fire(blocker)
    daemon.on_fire(waiting)
    await settle(lambda: runner.started == ["cccc0001"])
    clock[0] += 31_000  # the only slot is busy for longer than the deadline
    runner.release["cccc0001"].set()
    await settle(lambda: not daemon.running)
    [late] = [r for r in db.runs() if r.task_id == "cccc0002"]
    assert late.status == "skipped" and late.error.startswith("late:") and runner.started == ["cccc0001"]


async def test_stopping_the_daemon_records_queued_fires_interrupted(tmp_path):
    daemon, db = make_daemon(tmp_path, {"maxConcurrentRuns": 1})
    runner = daemon.runner = StandIn(daemon.recorder)
    now = daemon.recorder.now_ms()
    fires = [fire("dddd0001", now), fire("dddd0002", now)]
    await daemon.on_commit(fires)
    for fired in fires:
        daemon.on_fire(fired)
    await settle(lambda: runner.started == ["dddd0001"])
    await daemon._stop_runs()
    statuses = {r.task_id: r.status for r in db.runs()}
    assert statuses["dddd0002"] == "interrupted" and statuses["dddd0001"] != "queued"
    assert not [r for r in db.runs() if r.status == "queued"]


def test_a_slow_model_call_does_not_hold_up_another_tasks_run(fake_api, tmp_path):
    """End to end: the quick task starts beside the slow one and ends first (the figure for a 20 s call is
    in bench/parallel_bench.py)."""
    import json
    import time

    from fake_api import text_reply
    from test_daemon_e2e import read_until, stop, write_tasks
    from test_daemon_history_e2e import daemon, history

    project = tmp_path / "p"
    project.mkdir()
    now = int(time.time() * 1000)
    write_tasks(project, [{"id": task_id, "cron": "0 0 1 1 *", "prompt": prompt, "createdAt": now - 500 * 86_400_000,
                           "recurring": True, "lastFiredAt": now - 400 * 86_400_000}
                          for task_id, prompt in (("eeee0001", "slow task"), ("eeee0002", "quick task"))])
    fake_api.when(lambda r: "slow task" in r.turn_prompt(), text_reply("slow", delay_s=8))
    fake_api.set_default(text_reply("quick"))
    proc = daemon(fake_api, project)
    try:
        read_until(proc, "task eeee0001 done", timeout=60)
    finally:
        stop(proc)
    runs = {r["taskId"]: r for r in history(fake_api, project)}
    slow, quick = runs["eeee0001"], runs["eeee0002"]
    assert quick["status"] == slow["status"] == "ok"
    assert quick["endedAt"] < slow["endedAt"]  # one at a time, it would have waited the whole 8 s
    assert abs(quick["startedAt"] - slow["startedAt"]) < 5_000, json.dumps(runs)
