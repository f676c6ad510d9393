"""The run history database and the recorder every runner calls: schema, queries, breaker, budgets."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.cron.history import SCHEMA_VERSION, RunHistory, RunRecord, TaskState, history_path
from agent.cron.task import CronTask
from agent.engine.conversation import TurnResult
from agent.engine.events import PermissionDenied, Usage, UsageReport
from agent.runs.recorder import RunRecorder

T0 = 1_790_000_000_000


def record(run_id: str, task_id: str = "aaaa0001", *, started: int = T0, status: str = "ok", **kw) -> RunRecord:
    return RunRecord(run_id=run_id, task_id=task_id, prompt="p", cron="* * * * *", status=status,
                     scheduled_at=started, started_at=started, ended_at=started + 1000, **kw)


@pytest.fixture
def db(tmp_path: Path):
    history = RunHistory(tmp_path / "state" / "history.db")
    yield history
    history.close()


def test_history_lives_in_the_state_folder_never_in_the_project(tmp_path: Path):
    project = tmp_path / "shop"
    path = history_path(project, {"XDG_STATE_HOME": str(tmp_path / "state")})
    assert path.name == "history.db" and (tmp_path / "state" / "agent" / "projects") in path.parents
    assert project not in path.parents


def test_new_database_uses_wal_and_the_current_schema_version(db: RunHistory):
    raw = sqlite3.connect(db.path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_1_database_is_migrated_on_open_and_keeps_its_runs(tmp_path: Path):
    from agent.cron import history as module

    path = tmp_path / "old.db"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.executescript(module._MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    raw.execute("INSERT INTO runs (run_id, task_id, status, started_at) VALUES ('r1', 'aaaa0001', 'ok', 5)")
    raw.close()
    db = RunHistory(path)
    assert db.get("r1").status == "ok"
    assert db.note_gap("aaaa0001", 60_000, 1) is True  # the table version 2 added
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_runs_come_newest_first_and_filter_by_task_status_and_time(db: RunHistory):
    db.save_many([record("r1", started=T0), record("r2", "bbbb0002", started=T0 + 1, status="error"),
                  record("r3", started=T0 + 2, status="error")])
    assert [r.run_id for r in db.runs()] == ["r3", "r2", "r1"]
    assert [r.run_id for r in db.runs(task_id="aaaa0001")] == ["r3", "r1"]
    assert [r.run_id for r in db.runs(status="error")] == ["r3", "r2"]
    assert [r.run_id for r in db.runs(since_ms=T0 + 1)] == ["r3", "r2"]
    assert [r.run_id for r in db.runs(limit=1)] == ["r3"]


def test_a_run_is_found_by_a_unique_prefix_of_its_id_but_not_an_ambiguous_one(db: RunHistory):
    db.save_many([record("abcd1111"), record("abcd2222"), record("ffff0000")])
    assert db.get("ffff").run_id == "ffff0000"
    assert db.get("abcd") is None and db.get("abcd2").run_id == "abcd2222"


def test_every_field_round_trips_including_denials(db: RunHistory):
    run = record("r1", requests=3, input_tokens=10, output_tokens=20, cost_usd=0.5, result="fine",
                 error=None, denials=[{"tool": "Bash", "reason": "needs approval", "rule": "Bash(ls:*)"}],
                 transcript="/t/r1.jsonl", pid=42, host="box")
    db.save(run)
    assert db.get("r1") == run
    assert set(run.to_json()) >= {"runId", "taskId", "prompt", "status", "scheduledAt", "startedAt", "endedAt",
                                  "requests", "inputTokens", "outputTokens", "costUsd", "result", "error",
                                  "denials", "transcript", "pid"}


def test_two_processes_write_the_same_database_at_once(db: RunHistory, tmp_path: Path):
    script = ("import sys; from agent.cron.history import RunHistory, RunRecord\n"
              "db = RunHistory(sys.argv[1])\n"
              "for i in range(200): db.save(RunRecord(run_id=f'c{i}', task_id='cccc0003', started_at=i))\n")
    child = subprocess.Popen([sys.executable, "-c", script, str(db.path)], cwd=Path(__file__).parent.parent)
    for i in range(200):
        db.save(record(f"p{i}", started=i))
    assert child.wait(timeout=60) == 0
    assert len(db.runs(limit=None)) == 400


def test_a_gap_is_noted_once(db: RunHistory):
    assert db.note_gap("aaaa0001", T0, T0) is True
    assert db.note_gap("aaaa0001", T0, T0 + 5) is False


# -- the recorder ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


class Alerts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def send(self, kind: str, fields: dict) -> None:
        self.sent.append((kind, dict(fields)))


def make_task(**extra) -> CronTask:
    return CronTask(id="aaaa0001", cron="* * * * *", prompt="check", createdAt=T0, recurring=True, **extra)


def failed_turn(error: str = "overloaded", tokens: int = 100) -> TurnResult:
    return TurnResult(num_requests=1, usage=Usage(tokens, 0), cost_usd=0.01, is_error=True, error=error)


def ok_turn(text: str = "all good", tokens: int = 100) -> TurnResult:
    return TurnResult(result_text=text, num_requests=1, usage=Usage(tokens, 10), cost_usd=0.01)


@pytest.fixture
def recorder(db: RunHistory):
    return RunRecorder(Path("/p"), {}, source="daemon", cron_settings=lambda: {"breaker": {"failures": 3}},
                       notifier=Alerts(), clock=Clock(), history=db)  # type: ignore[arg-type]


async def run_once(recorder: RunRecorder, turn: TurnResult, task: CronTask | None = None):
    tracker = await recorder.start(task or make_task(), scheduled_ms=T0)
    return await recorder.finish(tracker, turn)


async def test_three_failed_runs_pause_the_task_and_alert_and_resume_closes_the_circuit(recorder, db):
    for _ in range(2):
        await run_once(recorder, failed_turn())
    assert not db.state("aaaa0001").paused and db.state("aaaa0001").consecutive_failures == 2
    assert await recorder.gate(make_task()) is None
    await run_once(recorder, failed_turn("boom"))
    state = db.state("aaaa0001")
    assert state.paused and state.paused_at == T0 and state.last_error == "boom"
    status, reason = await recorder.gate(make_task())
    assert status == "paused" and "agent cron resume aaaa0001" in reason
    # the first failure alerts; the repeats within cron.notify.repeatMinutes do not; the pause does
    assert [k for k, _ in recorder.notifier.sent] == ["failed", "paused"]
    assert await recorder.resume("aaaa0001") is True
    assert db.state("aaaa0001") == TaskState("aaaa0001", last_error="boom")
    assert recorder.notifier.sent[-1][0] == "resumed"
    assert await recorder.resume("aaaa0001") is False


async def test_a_good_run_resets_the_failure_count(recorder, db):
    await run_once(recorder, failed_turn())
    await run_once(recorder, failed_turn())
    await run_once(recorder, ok_turn())
    await run_once(recorder, failed_turn())
    assert db.state("aaaa0001").consecutive_failures == 1 and not db.state("aaaa0001").paused


async def test_a_task_breaker_field_overrides_settings(recorder, db):
    await run_once(recorder, failed_turn(), make_task(breaker={"failures": 1}))
    assert db.state("aaaa0001").paused


async def test_a_finished_run_records_usage_answer_and_the_rule_for_each_denial(recorder, db):
    tracker = await recorder.start(make_task(), scheduled_ms=T0 - 5)
    assert db.get(tracker.record.run_id).status == "running"
    tracker.emit(PermissionDenied("t1", "Bash", "needs approval", unattended=True, rule="Bash(make:*)"))
    run = await recorder.finish(tracker, ok_turn("could not run make"), transcript="/t/x.jsonl")
    saved = db.get(run.run_id)
    assert saved.status == "denied" and "Bash(make:*)" in saved.error
    assert saved.denials == [{"tool": "Bash", "reason": "needs approval", "rule": "Bash(make:*)"}]
    assert (saved.input_tokens, saved.output_tokens, saved.requests) == (100, 10, 1)
    assert saved.scheduled_at == T0 - 5 and saved.transcript == "/t/x.jsonl" and saved.pid


async def test_a_question_nobody_answered_records_the_run_as_no_answer_not_denied(recorder, db):
    tracker = await recorder.start(make_task(), scheduled_ms=T0)
    tracker.emit(PermissionDenied("t1", "Bash", "no answer (nobody was at the terminal)", rule="Bash(make:*)",
                                  no_answer=True))
    run = await recorder.finish(tracker, ok_turn("could not run make: nobody answered"))
    saved = db.get(run.run_id)
    assert saved.status == "no-answer"
    assert "nobody was at the terminal" in saved.error and "Bash(make:*)" in saved.error
    assert saved.denials[0]["noAnswer"] is True
    assert db.state("aaaa0001").consecutive_failures == 1  # counts towards the breaker, as a failure


async def test_an_empty_answer_is_recorded_as_no_answer_not_ok(recorder, db):
    run = await run_once(recorder, ok_turn(""))
    assert db.get(run.run_id).status == "no-answer"


async def test_the_daily_token_budget_skips_scheduled_runs_once_spent(db):
    recorder = RunRecorder(Path("/p"), {}, source="daemon", cron_settings=lambda: {"dailyTokenBudget": 150},
                           clock=Clock(), history=db)
    await run_once(recorder, ok_turn(tokens=100))
    assert await recorder.gate(make_task()) is None
    await run_once(recorder, ok_turn(tokens=100))
    status, reason = await recorder.gate(make_task())
    assert status == "skipped" and "token budget" in reason
    skipped = await recorder.record_blocked(make_task(), T0, status, reason)
    assert db.get(skipped.run_id).status == "skipped" and db.get(skipped.run_id).error == reason


async def test_max_tokens_per_run_calls_the_stop_callback_once_with_the_reason(recorder):
    stopped: list[str] = []
    tracker = await recorder.start(make_task(maxTokensPerRun=50), scheduled_ms=T0, on_limit=stopped.append)
    report = UsageReport(Usage(40, 20), Usage(40, 20), 0.0, 0.0)
    tracker.emit(report)
    tracker.emit(report)
    assert len(stopped) == 1 and "maxTokensPerRun" in stopped[0]
    run = await recorder.finish(tracker, None, cancelled=False)
    assert run.status == "error" and "maxTokensPerRun" in run.error


async def test_a_history_that_cannot_be_opened_is_logged_and_never_stops_a_run(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    recorder = RunRecorder(tmp_path, {"XDG_STATE_HOME": str(blocker)}, source="daemon", clock=Clock())
    assert await recorder.gate(make_task()) is None
    run = await run_once(recorder, ok_turn())
    assert run.status == "ok"
    assert "run history unavailable" in caplog.text


async def test_recording_does_not_block_the_event_loop(recorder, db):
    ticks = 0
    stop = threading.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    with db._lock:  # the database is busy: the writes must wait in their worker thread, not the loop
        background = asyncio.ensure_future(ticker())
        write = asyncio.ensure_future(run_once(recorder, ok_turn()))
        await asyncio.sleep(0.05)
        assert not write.done() and ticks > 10
    await write
    stop.set()
    await background
