"""Fires in a live conversation (the chat, stream-json) are recorded `queued` as they are committed: the run
carries that record on, and a fire the session never got to is recorded interrupted when it ends."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from agent.cron.history import RunHistory
from agent.cron.task import CronTask
from agent.engine.conversation import TurnResult
from agent.engine.events import Usage
from agent.runs.live_fires import LiveFireRuns
from agent.runs.recorder import RunRecorder

T0 = 1_790_000_000_000


def setup(tmp_path: Path) -> tuple[LiveFireRuns, RunHistory]:
    db = RunHistory(tmp_path / "h.db")
    recorder = RunRecorder(tmp_path, {}, source="chat", history=db, clock=lambda: T0)
    cron = SimpleNamespace(next_fire_ms=lambda task, now: None)
    live = LiveFireRuns(recorder, cron, retry_later=lambda fired: None, stop_turn=lambda *_: None,
                        on_blocked=lambda *_: None)
    return live, db


def fired(task_id: str) -> SimpleNamespace:
    task = CronTask(id=task_id, cron="*/10 * * * *", prompt="p", createdAt=T0, recurring=True)
    return SimpleNamespace(task=task, due_ms=T0, fired_ms=T0, durable=True, owner=True, final=False)


async def test_a_run_carries_on_its_queued_record(tmp_path):
    live, db = setup(tmp_path)
    fire = fired("1ee00001")
    await live.queue([fire])
    assert [r.status for r in db.runs()] == ["queued"]

    async def turn(run_id: str) -> TurnResult:
        return TurnResult(result_text="fine", num_requests=1, usage=Usage(5, 1))

    record = await live.run(fire, None, turn)
    assert [(r.run_id, r.status) for r in db.runs()] == [(record.run_id, "ok")]


async def test_a_fire_the_session_never_ran_is_recorded_interrupted_when_it_ends(tmp_path):
    live, db = setup(tmp_path)
    await live.queue([fired("1ee00002")])
    await live.close()
    [run] = db.runs()
    assert run.status == "interrupted" and "session ended before this fire could run" in run.error


async def test_a_fire_the_scheduler_skipped_is_recorded_skipped_in_the_same_write_and_never_queued(tmp_path):
    """A paced backlog slot overtaken by the next one (agent.cron.scheduler) arrives with `skipped`: one
    record with its reason, not a `queued` one the session would later close as interrupted."""
    live, db = setup(tmp_path)
    skipped = fired("1ee00003")
    skipped.skipped = "late: the start-up backlog starts 10 runs a minute (cron.maxStartsPerMinute)"
    await live.queue([skipped, fired("1ee00004")])
    assert sorted((r.task_id, r.status, r.scheduled_at) for r in db.runs()) == [
        ("1ee00003", "skipped", T0), ("1ee00004", "queued", T0)]
    await live.close()
    by_task = {r.task_id: r for r in db.runs()}
    assert by_task["1ee00003"].status == "skipped" and "maxStartsPerMinute" in by_task["1ee00003"].error
    assert by_task["1ee00004"].status == "interrupted"

