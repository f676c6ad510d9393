"""`agent cron history|show|resume` and `/cron history|resume`, and the chat recording its fires."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_commands import Harness

from agent.cli.common import UsageError
from agent.cli.cron_history import parse_since
from agent.cron.history import RunHistory, RunRecord, TaskState, history_path
from agent.cron.task import CronTask
from agent.engine.conversation import TurnResult
from agent.engine.events import Usage
from agent.engine.session import AgentSession, SessionOptions
from agent.repl.app import Repl
from agent.repl.scheduled_runs import ChatScheduledRuns
from agent.runs.recorder import RunRecorder

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_790_000_000_000
DAY = 86_400_000


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = tmp_path / "project"
    (folder / ".claude").mkdir(parents=True)
    return folder


def db_of(project: Path) -> RunHistory:
    return RunHistory(history_path(project.resolve(), {"XDG_STATE_HOME": str(project.parent / "state")}))


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(project.parent / "home"), "PYTHONPATH": str(ROOT),
           "XDG_STATE_HOME": str(project.parent / "state")}
    return subprocess.run([sys.executable, "-m", "agent", "cron", *args, "--cwd", str(project)], env=env,
                          capture_output=True, text=True, timeout=60)


def fill(project: Path) -> None:
    db = db_of(project)
    db.save_many([
        RunRecord("run00001", "aaaa0001", "check the deploy", "* * * * *", "ok", NOW - 10 * DAY, NOW - 10 * DAY,
                  NOW - 10 * DAY + 2000, result="old but fine"),
        RunRecord("run00002", "aaaa0001", "check the deploy", "* * * * *", "error", NOW, NOW, NOW + 500,
                  error="529 overloaded after retries"),
        RunRecord("run00003", "bbbb0002", "summarise", "0 9 * * 1-5", "ok", NOW + 1, NOW + 1, NOW + 3000,
                  requests=2, input_tokens=1200, output_tokens=80, cost_usd=0.0123, result="3 new issues"),
    ])
    db.close()


def test_history_json_is_newest_first_and_filters_by_task_and_status(project):
    fill(project)
    runs = json.loads(cli(project, "history", "--json").stdout)
    assert [r["runId"] for r in runs] == ["run00003", "run00002", "run00001"]
    assert [r["runId"] for r in json.loads(cli(project, "history", "aaaa0001", "--json").stdout)] == \
        ["run00002", "run00001"]
    errors = json.loads(cli(project, "history", "--status", "error", "--json").stdout)
    assert [(r["runId"], r["error"]) for r in errors] == [("run00002", "529 overloaded after retries")]


def test_history_table_shows_status_tokens_cost_and_the_error_or_answer(project):
    fill(project)
    out = cli(project, "history").stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["RUN", "TASK", "STATUS"]
    assert "run00003" in lines[1] and "1,280" in lines[1] and "$0.0123" in lines[1] and "3 new issues" in lines[1]
    assert "529 overloaded" in lines[2]


def test_history_with_nothing_recorded_says_so_and_succeeds(project):
    run = cli(project, "history")
    assert run.returncode == 0 and "No recorded runs yet" in run.stdout


def test_show_prints_one_run_whole_and_an_unknown_run_exits_1(project):
    fill(project)
    shown = cli(project, "show", "run00003")
    assert shown.returncode == 0
    assert "3 new issues" in shown.stdout and "1,200 in, 80 out" in shown.stdout and "summarise" in shown.stdout
    missing = cli(project, "show", "nope0000")
    assert missing.returncode == 1 and "agent cron history" in missing.stderr


def test_resume_of_a_task_that_is_not_paused_exits_1(project):
    run = cli(project, "resume", "aaaa0001")
    assert run.returncode == 1 and "not paused" in run.stderr


def test_since_takes_ages_and_dates_and_rejects_anything_else():
    assert parse_since("7d", NOW) == NOW - 7 * DAY
    assert parse_since("12h", NOW) == NOW - 12 * 3_600_000
    assert parse_since(None, NOW) is None
    assert parse_since("2026-11-20T00:00+00:00", NOW) == 1_795_132_800_000
    with pytest.raises(UsageError, match="--since"):
        parse_since("last tuesday", NOW)


# -- in the chat -------------------------------------------------------------------------------------------


@pytest.fixture
def harness(project: Path) -> Harness:
    return Harness(AgentSession(project, SessionOptions()))


async def test_slash_cron_history_lists_recent_runs_and_resume_closes_the_circuit(harness, project):
    fill(project)
    db = db_of(project)
    db.set_state(TaskState("aaaa0001", paused=True, paused_at=NOW, last_error="boom", consecutive_failures=3), NOW)
    out = await harness.run("/cron history")
    assert "run00003" in out and "3 new issues" in out and "529 overloaded" in out
    assert "run00003" not in await harness.run("/cron history aaaa0001")
    assert "not paused" in await harness.run("/cron resume bbbb0002")
    assert "Resumed aaaa0001" in await harness.run("/cron resume aaaa0001")
    assert not db.state("aaaa0001").paused


async def test_slash_cron_shows_a_paused_task_with_its_last_error(harness, project):
    scheduled = harness.session.cron.create("*/5 * * * *", "poll", durable=True)
    db_of(project).set_state(TaskState(scheduled.id, paused=True, last_error="401 bad key",
                                       consecutive_failures=3), NOW)
    out = await harness.run("/cron")
    assert "PAUSED" in out and "401 bad key" in out


async def until_recorded(db: RunHistory) -> None:
    """Wait (30 s at most: a loaded CI box) until the newest run in `db` has ended."""
    for _ in range(3000):
        runs = db.runs()
        if runs and runs[0].status != "running":
            return
        await asyncio.sleep(0.01)


def chat_with_history(project: Path) -> tuple[Repl, RunHistory, io.StringIO]:
    """A chat whose scheduled fires are recorded in `project`'s history (settings read from the project)."""
    out = io.StringIO()
    repl = Repl(argparse.Namespace(), project, out=out, env={})
    repl.session = AgentSession(project, SessionOptions())
    db = db_of(project)
    repl.recorder = RunRecorder.for_session(repl.session, source="chat")
    repl.recorder._history = db
    repl.runs = ChatScheduledRuns(repl.recorder, repl.renderer, repl.stop_turn, repl.session.cron,
                                  retry_later=repl.on_fire)
    repl._ready.set()
    return repl, db, out


class AnsweringConversation:
    async def run_turn(self, prompt, *, scheduled_task=None, source=None, run_id=None):
        return TurnResult(result_text="all green", num_requests=1, usage=Usage(10, 5), cost_usd=0.001)


async def test_a_scheduled_fire_in_the_chat_is_recorded_and_a_paused_one_is_not_run(project):
    repl, db, out = chat_with_history(project)
    repl.chat.current = AnsweringConversation()  # type: ignore[assignment]
    processor = asyncio.create_task(repl.turns.process_queue())
    try:
        task = SimpleNamespace(id="cccc0003", prompt="check", cron="* * * * *", model_extra={})
        repl.on_fire(SimpleNamespace(task=task, fired_ms=NOW, due_ms=NOW - 100, durable=False))
        while not db.runs():
            await asyncio.sleep(0.01)
        while repl.is_busy() or db.runs()[0].status == "running":
            await asyncio.sleep(0.01)
        [run] = db.runs()
        assert (run.status, run.source, run.result, run.scheduled_at) == ("ok", "chat", "all green", NOW - 100)
        db.set_state(TaskState("cccc0003", paused=True, last_error="x"), NOW)
        repl.on_fire(SimpleNamespace(task=task, fired_ms=NOW, due_ms=NOW, durable=False))
        while len(db.runs()) < 2:
            await asyncio.sleep(0.01)
        assert db.runs()[0].status == "paused"
        assert "Scheduled task cccc0003 not run: paused" in out.getvalue()
    finally:
        processor.cancel()
        await asyncio.gather(processor, return_exceptions=True)


class HungryConversation:
    """Reports usage past the task's limit, then would run forever."""

    def __init__(self, emit) -> None:
        self.emit = emit
        self.max_turns = None
        self.seen_max_turns = None

    async def run_turn(self, prompt, *, scheduled_task=None, source=None, run_id=None):
        from agent.engine.events import UsageReport

        self.seen_max_turns = self.max_turns
        self.emit(UsageReport(Usage(900, 200), Usage(900, 200), 0.01, 0.01))
        await asyncio.sleep(60)


async def test_a_chat_run_past_max_tokens_per_run_is_stopped_recorded_error_and_max_turns_restored(project):
    repl, db, out = chat_with_history(project)
    conversation = HungryConversation(repl._emit)
    repl.chat.current = conversation  # type: ignore[assignment]
    processor = asyncio.create_task(repl.turns.process_queue())
    try:
        task = SimpleNamespace(id="dddd0004", prompt="big", cron="* * * * *",
                               model_extra={"maxTokensPerRun": 1000, "maxTurns": 4})
        repl.on_fire(SimpleNamespace(task=task, fired_ms=NOW, due_ms=NOW, durable=False))
        await until_recorded(db)
        [run] = db.runs()
        assert run.status == "error" and "maxTokensPerRun" in run.error
        assert conversation.seen_max_turns == 4 and conversation.max_turns is None
        assert "maxTokensPerRun (1,000)" in " ".join(out.getvalue().split())
    finally:
        processor.cancel()
        await asyncio.gather(processor, return_exceptions=True)


class OverloadedOnceConversation:
    """Fails the first turn as the API does when overloaded (after the SDK's own retries), then answers."""

    def __init__(self) -> None:
        self.turns = 0

    async def run_turn(self, prompt, *, scheduled_task=None, source=None, run_id=None):
        self.turns += 1
        if self.turns == 1:
            return TurnResult(is_error=True, error="The API is overloaded", error_kind="OverloadedError",
                              num_requests=1, usage=Usage(3, 0))
        return TurnResult(result_text="fine now", num_requests=1, usage=Usage(10, 5), cost_usd=0.001)


async def test_a_transient_failure_in_the_chat_is_retried_later_as_the_same_run_without_holding_the_queue(project):
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "settings.json").write_text(json.dumps({"cron": {"retry": {"attempts": 2,
                                                                                       "backoffS": 0.2}}}))
    repl, db, out = chat_with_history(project)
    conversation = repl.chat.current = OverloadedOnceConversation()  # type: ignore[assignment]
    processor = asyncio.create_task(repl.turns.process_queue())
    try:
        now = int(time.time() * 1000)
        task = CronTask(id="eeee0005", prompt="check", cron="0 0 1 1 *", createdAt=now, recurring=True)
        repl.on_fire(SimpleNamespace(task=task, fired_ms=now, due_ms=now, durable=False))
        for _ in range(3000):  # 30 s at most
            if conversation.turns == 1 and not repl.is_busy():
                break
            await asyncio.sleep(0.01)
        assert conversation.turns == 1 and not repl.is_busy()  # the wait before the retry holds nothing
        await until_recorded(db)
        [run] = db.runs()
        assert (run.status, run.attempts, run.result, run.requests) == ("ok", 2, "fine now", 2)
        assert "attempt 1 failed (The API is overloaded); trying again in" in " ".join(out.getvalue().split())
    finally:
        processor.cancel()
        await asyncio.gather(processor, return_exceptions=True)
