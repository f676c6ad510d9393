"""Slash command handlers, run without a terminal: a real session, a renderer writing to a list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.engine.events import Compacted, TurnFinished, Usage, UsageReport
from agent.engine.queue import CommandQueue, Priority, QueuedPrompt
from agent.engine.session import AgentSession, SessionOptions
from agent.repl.commands import CommandContext, SessionStats, default_registry
from agent.repl.render import Renderer


class FakeConversation:
    def __init__(self) -> None:
        self.history: list[dict] = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        self.compacted = 0

    def clear(self) -> None:
        self.history = []

    async def compact(self):
        self.compacted += 1
        return Compacted(1000, 100, 2)


class FakeHost:
    def __init__(self, session: AgentSession) -> None:
        self.session = session
        self.stats = SessionStats()
        self.conv: FakeConversation | None = FakeConversation()
        self.jobs: list[tuple[str, object]] = []
        self.exit_requested = False
        self.schedule_changes = 0
        self.busy = False

    def is_busy(self) -> bool:
        return self.busy

    def conversation(self):
        return self.conv

    def between_turns(self, label, job) -> None:
        self.jobs.append((label, job))

    async def run_jobs(self) -> None:
        jobs, self.jobs = self.jobs, []
        for _, job in jobs:
            await job()

    def switch_model(self, model: str) -> None:
        self.session.set_model(model)

    def request_exit(self) -> None:
        self.exit_requested = True

    def schedule_changed(self) -> None:
        self.schedule_changes += 1


class Harness:
    def __init__(self, session: AgentSession) -> None:
        self.output: list[str] = []
        self.renderer = Renderer(lambda text, then=None: self.output.append(text), color=False, width=lambda: 160)
        self.queue = CommandQueue()
        self.host = FakeHost(session)
        self.session = session
        self.registry = default_registry()

    async def run(self, line: str) -> str:
        start = len(self.output)
        await self.registry.dispatch(CommandContext(self.session, self.renderer, self.queue, self.host), line)
        return "".join(self.output[start:])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("ANTHROPIC_MODEL", raising=False)
    folder = tmp_path / "project"
    (folder / ".claude").mkdir(parents=True)
    return folder


@pytest.fixture
def harness(project: Path) -> Harness:
    return Harness(AgentSession(project, SessionOptions()))


def tasks_file(project: Path) -> Path:
    return project / ".claude" / "scheduled_tasks.json"


async def test_loop_creates_a_session_task_prints_how_to_stop_it_and_queues_one_run_now(harness, project):
    out = await harness.run("/loop 5m /check-tests")
    [scheduled] = harness.session.cron.list()
    assert (scheduled.task.cron, scheduled.task.prompt, scheduled.task.recurring) == ("*/5 * * * *",
                                                                                       "/check-tests", True)
    assert not scheduled.durable and not tasks_file(project).exists()
    assert f"Scheduled {scheduled.id}: every 5 minutes (*/5 * * * *), this session only" in out
    assert "Next run: " in out and f"Stop it with /cron delete {scheduled.id}" in out
    [queued] = harness.queue.pending()
    assert (queued.text, queued.priority, queued.task.id) == ("/check-tests", Priority.NEXT, scheduled.id)
    assert harness.host.schedule_changes == 1


async def test_loop_with_trailing_interval_parses_every_20m(harness):
    out = await harness.run("/loop check the deploy every 20m")
    [scheduled] = harness.session.cron.list()
    assert (scheduled.task.cron, scheduled.task.prompt) == ("*/20 * * * *", "check the deploy")
    assert "every 20 minutes" in out


async def test_loop_30s_runs_every_minute_and_says_so(harness):
    out = await harness.run("/loop 30s ping")
    assert harness.session.cron.list()[0].task.cron == "* * * * *"
    assert "every minute" in out and "rounded up to 1m" in out


async def test_loop_90m_runs_every_2_hours_and_says_so(harness):
    out = await harness.run("/loop 90m report")
    assert harness.session.cron.list()[0].task.cron == "0 */2 * * *"
    assert "every 2 hours" in out and "90m does not divide an hour" in out


async def test_loop_durable_writes_the_task_to_the_project_file(harness, project):
    out = await harness.run("/loop --durable 10m check the build")
    saved = json.loads(tasks_file(project).read_text())["tasks"]
    assert [t["prompt"] for t in saved] == ["check the build"]
    assert "durable" not in saved[0]  # the flag itself is never written
    assert "kept in .claude/scheduled_tasks.json" in out


async def test_loop_without_a_prompt_explains_the_usage_and_creates_nothing(harness):
    out = await harness.run("/loop")
    assert "Usage: /loop" in out
    out = await harness.run("/loop 5m")
    assert "Nothing to run" in out
    assert harness.session.cron.list() == [] and len(harness.queue) == 0


async def test_cron_lists_every_task_with_schedule_next_fire_kind_and_place(harness):
    await harness.run("/loop 5m check the tests")
    harness.session.cron.create("30 14 * * *", "deploy report", recurring=False, durable=True)
    out = await harness.run("/cron")
    assert "Scheduled tasks (2)" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line[:8].isalnum() and len(line) > 8}
    recurring = next(line for line in lines.values() if "check the tests" in line)
    assert "Every 5 minutes (*/5 * * * *)" in recurring and "recurring" in recurring and "session" in recurring
    assert " (in " in recurring  # next fire as local time and "in 4m"
    once = next(line for line in lines.values() if "deploy report" in line)
    assert "once" in once and "durable" in once


async def test_cron_with_no_tasks_says_how_to_make_one(harness):
    assert "No scheduled tasks" in await harness.run("/cron")


async def test_cron_delete_removes_the_task_and_its_waiting_fire(harness):
    scheduled = harness.session.cron.create("*/5 * * * *", "poll", recurring=True)
    harness.queue.put(QueuedPrompt("poll", Priority.LATER, source="cron", task=scheduled.task))
    harness.queue.put(QueuedPrompt("user text", Priority.NEXT))
    out = await harness.run(f"/cron delete {scheduled.id}")
    assert harness.session.cron.list() == []
    assert [item.text for item in harness.queue] == ["user text"]
    assert f"Deleted {scheduled.id}" in out and "dropped 1 waiting run" in out


async def test_cron_delete_of_an_unknown_id_says_so(harness):
    assert "No scheduled task deadbeef" in await harness.run("/cron delete deadbeef")


async def test_unknown_command_says_so_and_suggests_close_ones(harness):
    out = await harness.run("/lop 5m x")
    assert "Unknown command /lop." in out and "/loop" in out
    assert "Did you mean /cost" in await harness.run("/cots")


async def test_help_lists_every_command_and_the_keys(harness):
    out = await harness.run("/help")
    for name in ("/help", "/clear", "/compact", "/cost", "/model", "/permissions", "/exit", "/loop", "/cron"):
        assert name in out
    assert "Ctrl-C" in out and "Esc Enter" in out


async def test_clear_starts_a_new_conversation_between_turns(harness):
    out = await harness.run("/clear")
    assert harness.host.conv.history != []  # not while a turn may run: it is a job for between turns
    await harness.host.run_jobs()
    assert harness.host.conv.history == []
    assert "Started a new conversation" in "".join(harness.output) and out == ""


async def test_compact_summarises_now_or_says_there_is_nothing(harness):
    await harness.run("/compact")
    await harness.host.run_jobs()
    assert harness.host.conv.compacted == 1
    harness.host.conv.history = []
    await harness.run("/compact")
    await harness.host.run_jobs()
    assert "Nothing to compact yet" in "".join(harness.output)


async def test_cost_shows_tokens_and_money_for_the_session(harness):
    usage = Usage(input_tokens=12_000, output_tokens=800, cache_read_tokens=5000)
    harness.host.stats.record(UsageReport(usage, usage, 0.0481, 0.0481, 17_000, 200_000))
    harness.host.stats.record(TurnFinished("end_turn", 1, usage, 0.0481, "ok"))
    out = await harness.run("/cost")
    assert "$0.0481" in out and "12,000" in out and "800" in out and "5,000" in out
    assert "1 / 1" in out and "17.0k of 200.0k tokens (8%)" in out


async def test_cost_says_unknown_when_a_model_has_no_price(harness):
    harness.host.stats.record(UsageReport(Usage(10, 1), Usage(10, 1), None, None))
    assert "unknown" in await harness.run("/cost")


async def test_model_shows_the_current_model_and_switches_by_alias(harness):
    assert "Model: claude-sonnet-4-6" in await harness.run("/model")
    await harness.run("/model opus")
    await harness.host.run_jobs()
    assert harness.session.model == "claude-opus-4-6"
    assert "Model: claude-opus-4-6" in "".join(harness.output)


async def test_permissions_shows_the_rules_and_changes_the_mode(harness):
    harness.session.policy.allow_for_session("Bash(npm test:*)")
    out = await harness.run("/permissions")
    assert "default" in out and "Bash(npm test:*)" in out
    await harness.run("/permissions acceptEdits")
    assert harness.session.policy.mode.value == "acceptEdits"
    assert "Unknown mode" in await harness.run("/permissions mode wild")
    await harness.run("/permissions allow Edit(src/**)")
    assert [r.text for r in harness.session.policy.session_allow][-1] == "Edit(src/**)"


async def test_exit_asks_the_repl_to_stop(harness):
    await harness.run("/exit")
    assert harness.host.exit_requested
    harness.host.exit_requested = False
    await harness.run("/quit")
    assert harness.host.exit_requested
