"""ScheduledRunner, in process with a scripted conversation: retries, limits, interruption."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.cron.history import RunHistory
from agent.cron.task import CronTask
from agent.engine.conversation import TurnResult
from agent.engine.events import Usage, UsageReport
from agent.runs.recorder import RunRecorder
from agent.runs.scheduled import ScheduledRunner

T0 = 1_790_000_000_000


class ScriptedConversation:
    def __init__(self, turn, emit) -> None:
        self.turn, self.emit, self.max_turns = turn, emit, None
        self.history = [{"role": "user", "content": "x"}, {"role": "assistant", "content": [{"type": "text"}]}]

    async def run_turn(self, prompt, *, scheduled_task=None, source=None, run_id=None):
        if callable(self.turn):
            return await self.turn(self)
        return self.turn


class Session:
    def __init__(self, tmp: Path, turns: list) -> None:
        self.project_dir = tmp
        self.env: dict[str, str] = {"HOME": str(tmp)}  # custom commands are looked up here
        self.turns = turns
        self.made = 0
        self.cron = SimpleNamespace(next_fire_ms=lambda task, now: self.next_slot)
        self.next_slot: int | None = None

    def new_conversation(self, *, emit=None, record=True):
        turn = self.turns[min(self.made, len(self.turns) - 1)]
        self.made += 1
        return ScriptedConversation(turn, emit)


def failure(kind: str) -> TurnResult:
    return TurnResult(num_requests=1, usage=Usage(10, 0), is_error=True, error=f"{kind} after retries",
                      error_kind=kind)


OK = TurnResult(result_text="done", num_requests=1, usage=Usage(10, 5), cost_usd=0.001)


@pytest.fixture
def setup(tmp_path: Path):
    db = RunHistory(tmp_path / "h.db")
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def make(turns: list, settings: dict | None = None):
        session = Session(tmp_path, turns)
        recorder = RunRecorder(tmp_path, {"XDG_STATE_HOME": str(tmp_path / "state")}, source="daemon",
                               cron_settings=lambda: settings or {}, history=db, clock=lambda: T0)
        return session, ScheduledRunner(session, recorder, say=lambda _: None, sleep=sleep, rand=lambda: 0.5)

    yield make, sleeps, db
    db.close()


def fired(**extra) -> SimpleNamespace:
    task = CronTask(id="eeee0005", cron="* * * * *", prompt="p", createdAt=T0, recurring=True, **extra)
    return SimpleNamespace(task=task, due_ms=T0, fired_ms=T0)


async def test_a_529_is_retried_with_backoff_and_the_run_is_recorded_once_with_its_attempts(setup):
    make, sleeps, db = setup
    session, runner = make([failure("OverloadedError"), failure("ServerError"), OK],
                           {"retry": {"attempts": 2, "backoffS": 10}})
    record = await runner.run(fired())
    assert record.status == "ok" and record.attempts == 3 and session.made == 3
    assert sleeps == [7.5, 15.0]  # 10 * 2**(n-1), half fixed plus half jitter (0.5)
    assert record.requests == 3 and record.input_tokens == 30
    assert len(db.runs()) == 1 and Path(db.runs()[0].transcript).exists()


async def test_a_non_transient_failure_is_not_retried(setup):
    make, sleeps, _ = setup
    session, runner = make([failure("InvalidCredentialsError"), OK])
    record = await runner.run(fired())
    assert record.status == "error" and session.made == 1 and sleeps == []


async def test_no_retry_would_start_after_the_tasks_next_slot(setup):
    make, sleeps, _ = setup
    session, runner = make([failure("OverloadedError"), OK], {"retry": {"attempts": 2, "backoffS": 100}})
    session.next_slot = T0 + 60_000  # 75 s of backoff would run into it
    record = await runner.run(fired())
    assert record.status == "error" and session.made == 1 and sleeps == []


async def test_max_tokens_per_run_stops_the_running_turn_and_records_an_error(setup):
    make, _, _ = setup

    async def hungry(conversation) -> TurnResult:
        conversation.emit(UsageReport(Usage(500, 100), Usage(500, 100), 0.0, 0.0))
        await asyncio.sleep(60)
        return OK

    _, runner = make([hungry])
    record = await asyncio.wait_for(runner.run(fired(maxTokensPerRun=300)), 10)
    assert record.status == "error" and "maxTokensPerRun" in record.error


async def test_max_turns_of_the_task_is_given_to_the_conversation(setup):
    make, _, _ = setup
    seen = []

    async def look(conversation) -> TurnResult:
        seen.append(conversation.max_turns)
        return OK

    _, runner = make([look])
    await runner.run(fired(maxTurns=2))
    assert seen == [2]


async def test_cancelling_the_runner_records_the_run_interrupted(setup):
    make, _, db = setup
    started = asyncio.Event()

    async def slow(conversation) -> TurnResult:
        started.set()
        await asyncio.sleep(60)
        return OK

    _, runner = make([slow])
    job = asyncio.ensure_future(runner.run(fired()))
    await started.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert db.runs()[0].status == "interrupted"


async def test_cancelling_during_the_backoff_wait_records_the_run_interrupted(setup):
    make, _, db = setup
    _, runner = make([failure("OverloadedError"), OK])
    waiting = asyncio.Event()

    async def sleep(seconds: float) -> None:
        waiting.set()
        await asyncio.sleep(60)

    runner._sleep = sleep
    job = asyncio.ensure_future(runner.run(fired()))
    await waiting.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    [run] = db.runs()
    assert run.status == "interrupted" and run.requests == 1


async def test_a_run_past_its_time_limit_is_stopped_and_recorded_timeout(setup):
    make, _, db = setup

    async def endless(conversation) -> TurnResult:
        await asyncio.sleep(60)
        return OK

    _, runner = make([endless])
    record = await asyncio.wait_for(runner.run(fired(timeoutS=0.2)), 10)
    assert record.status == "timeout" and "time limit of 0.2 s" in record.error
    assert db.runs()[0].status == "timeout"


async def test_cron_run_timeout_applies_when_the_task_sets_none(setup):
    make, _, _ = setup

    async def endless(conversation) -> TurnResult:
        await asyncio.sleep(60)
        return OK

    _, runner = make([endless], {"runTimeoutS": 0.2})
    record = await asyncio.wait_for(runner.run(fired()), 10)
    assert record.status == "timeout"


async def test_a_retry_wait_gives_the_concurrency_slot_back(setup):
    from agent.runs.slots import RunSlots

    make, _, _ = setup
    _, runner = make([failure("OverloadedError"), OK])
    slots = RunSlots(1)
    others_ran = []

    async def sleep(seconds: float) -> None:  # while this run waits, another takes the only slot
        async with slots.held():
            others_ran.append(seconds)

    runner._sleep = sleep
    async with slots.held() as slot:
        record = await asyncio.wait_for(runner.run(fired(), slot=slot), 10)
        assert slot.held
    assert record.status == "ok" and others_ran and slots.in_use == 0


async def test_a_queued_record_is_carried_on_by_its_run(setup):
    make, _, db = setup
    _, runner = make([OK])
    [queued] = (await runner.recorder.queue([fired()])).values()
    assert db.get(queued.run_id).status == "queued"
    record = await runner.run(fired(), record=queued)
    assert record.run_id == queued.run_id and [r.status for r in db.runs()] == ["ok"]


async def test_a_scheduled_run_writes_one_transcript_file_and_no_session_file(setup, tmp_path):
    make, _, _ = setup
    made = []
    session, runner = make([OK])
    original = session.new_conversation

    def new_conversation(**kwargs):
        made.append(kwargs)
        return original(**kwargs)

    session.new_conversation = new_conversation
    await runner.run(fired())
    assert made == [{"emit": made[0]["emit"], "record": False}]
    assert len(list((tmp_path / "state").rglob("*.jsonl"))) == 1
