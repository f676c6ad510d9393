"""/status content, the cost line on exit, Ctrl-D with session loops, the first message of
`agent "msg"`, and start-up ordering: without a terminal (a real session, fakes for the rest)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.cron.lock import SchedulerLock
from agent.engine.events import Usage, UsageReport
from agent.engine.queue import CommandQueue
from agent.engine.session import AgentSession, SessionOptions
from agent.permissions.policy import PermissionMode
from agent.repl.app import Repl
from agent.repl.commands import CommandContext, SessionStats
from agent.repl.commands.status import StatusFacts, cost_line, gather_facts, session_tasks_warning, status_rows
from agent.repl.prompt import TerminalSink, toolbar_fragments
from agent.repl.render import Renderer


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "AGENT_DISABLE_CRON", "CLAUDE_CODE_DISABLE_CRON",
                 "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "project"
    (folder / ".claude").mkdir(parents=True)
    return folder


def status_context(session: AgentSession, scheduler: object = None) -> CommandContext:
    host = SimpleNamespace(scheduler=scheduler, stats=SessionStats())
    renderer = Renderer(lambda text, then=None: None, color=False)
    return CommandContext(session, renderer, CommandQueue(), host)  # type: ignore[arg-type]


# -- /status -------------------------------------------------------------------------------------------


def test_status_names_model_endpoint_mode_project_owner_and_counts(project, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:8123/v1")
    session = AgentSession(project, SessionOptions(model="claude-haiku-4-5", permission_mode="acceptEdits"))
    session.cron.create("*/5 * * * *", "session one", durable=False)
    session.cron.create("0 9 * * *", "durable one", durable=True)
    session.cron.create("0 10 * * *", "durable two", durable=True)
    facts = gather_facts(status_context(session, SimpleNamespace(is_owner=True)))
    assert dict(status_rows(facts)) == {
        "Model": "claude-haiku-4-5",
        "Endpoint": "http://127.0.0.1:8123/v1",
        "Permission mode": "acceptEdits",
        "Project": str(project),
        "Durable tasks fired by": f"this session (PID {os.getpid()})",
        "Scheduled tasks": "3 (1 this session only, 2 durable)",
        "Workspace trust": "not trusted (its settings files set nothing that needs trust)",
    }


def test_status_endpoint_never_shows_credentials_in_the_url(project, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://me:s3cret@proxy.example:8443/api?key=abc123")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-do-not-show")
    facts = gather_facts(status_context(AgentSession(project, SessionOptions())))
    assert facts.endpoint == "https://proxy.example:8443/api"
    assert "s3cret" not in str(facts) and "abc123" not in str(facts) and "do-not-show" not in str(facts)


def test_status_without_a_base_url_names_the_anthropic_api(project):
    facts = gather_facts(status_context(AgentSession(project, SessionOptions())))
    assert facts.endpoint == "https://api.anthropic.com"


def test_status_names_the_other_process_that_holds_the_lock(project):
    parent = os.getppid()  # a live process that is not us
    lock = SchedulerLock(project, "other-session", pid=parent)
    assert lock.try_acquire()
    facts = gather_facts(status_context(AgentSession(project, SessionOptions()), SimpleNamespace(is_owner=False)))
    assert facts.fired_by.startswith(f"another process: PID {parent}")


def test_status_says_nobody_fires_when_cron_is_turned_off(project, monkeypatch):
    monkeypatch.setenv("AGENT_DISABLE_CRON", "1")
    facts = gather_facts(status_context(AgentSession(project, SessionOptions()), SimpleNamespace(is_owner=True)))
    assert facts.fired_by.startswith("nobody: scheduled tasks are turned off")


def test_status_says_nobody_fires_while_no_scheduler_runs(project):
    facts = gather_facts(status_context(AgentSession(project, SessionOptions())))
    assert facts.fired_by == "nobody: this session's scheduler is not running"


def test_status_rows_count_session_and_durable_tasks_together():
    facts = StatusFacts("m", "e", "plan", "/p", "x", session_tasks=2, durable_tasks=0)
    assert dict(status_rows(facts))["Scheduled tasks"] == "2 (2 this session only, 0 durable)"


# -- cost on exit, Ctrl-D ----------------------------------------------------------------------------------


def report(usage: Usage, cost: float | None) -> UsageReport:
    return UsageReport(usage, usage, cost, cost, 1000, 200_000)


def test_cost_line_gives_total_money_tokens_and_requests():
    stats = SessionStats()
    stats.record(report(Usage(1200, 34), 0.0123))
    stats.record(report(Usage(100, 6, cache_read_tokens=50), 0.001))
    assert cost_line(stats) == ("Session cost: $0.0133 · 1,300 input + 40 output tokens "
                                "(cache: 50 read, 0 written) · 2 requests")


def test_cost_line_before_any_request_and_for_an_unknown_price():
    stats = SessionStats()
    assert cost_line(stats) == "Session cost: $0.0000 · 0 input + 0 output tokens · 0 requests"
    stats.record(report(Usage(10, 1), None))
    assert cost_line(stats).startswith("Session cost: unknown (no price for this model) · 10 input")


def test_session_tasks_warning_counts_loops_and_one_shots():
    loop, once = SimpleNamespace(recurring=True), SimpleNamespace(recurring=False)
    assert session_tasks_warning([]) is None
    assert session_tasks_warning([loop]) == "1 session loop will stop (it lives only in this session)"
    assert session_tasks_warning([loop, loop, once]).startswith("2 session loops and 1 one-shot session task will")


# -- the REPL: first message, Ctrl-D, start-up order ---------------------------------------------------------


class ModeRecordingConversation:
    """Records each prompt with the permission mode in effect when its turn ran."""

    def __init__(self, session: AgentSession) -> None:
        self.session = session
        self.turns: list[tuple[str, str]] = []
        self.history: list = []

    async def run_turn(self, prompt, *, scheduled_task=None, source=None, run_id=None):
        self.turns.append((prompt, self.session.policy.mode.value))


@pytest.fixture
async def starting_repl(project: Path):
    """A REPL whose session has not finished loading: `finish_start()` makes it ready."""
    out = io.StringIO()
    repl = Repl(argparse.Namespace(prompt=None), project, out=out, env={"HOME": os.environ["HOME"]})
    repl.renderer = Renderer(TerminalSink(out), color=False, width=lambda: 400)
    repl.out = out  # type: ignore[attr-defined]
    processor = asyncio.create_task(repl.turns.process_queue())

    def finish_start() -> ModeRecordingConversation:
        repl.session = AgentSession(project, SessionOptions())
        conversation = ModeRecordingConversation(repl.session)
        repl.chat.current = conversation  # type: ignore[assignment]
        repl._ready.set()
        return conversation

    repl.finish_start = finish_start  # type: ignore[attr-defined]
    yield repl
    processor.cancel()
    await asyncio.gather(processor, return_exceptions=True)


async def until(condition, tries: int = 200) -> None:
    for _ in range(tries):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never became true")


async def test_command_typed_during_start_up_runs_after_the_message_typed_before_it(starting_repl):
    repl = starting_repl
    await repl._submit("first message")
    await repl._submit("/permissions plan")  # returns at once: the prompt stays usable
    await repl._submit("second message")
    assert len(repl.queue) == 3
    conversation = repl.finish_start()
    await until(lambda: len(conversation.turns) == 2)
    assert conversation.turns == [("first message", "default"), ("second message", "plan")]
    assert repl.session.policy.mode is PermissionMode.plan


async def test_command_typed_after_start_up_runs_at_once(starting_repl):
    repl = starting_repl
    repl.finish_start()
    await repl._submit("/permissions plan")
    assert repl.session.policy.mode is PermissionMode.plan and not repl.queue


async def test_first_message_is_echoed_and_queued_before_anything_typed(starting_repl):
    repl = starting_repl
    repl._queue_first_message("fix the test")
    await repl._submit("then this")
    await asyncio.sleep(0.05)  # TerminalSink writes on the next loop iteration
    assert "> fix the test" in repl.out.getvalue()
    conversation = repl.finish_start()
    await until(lambda: len(conversation.turns) == 2)
    assert [prompt for prompt, _ in conversation.turns] == ["fix the test", "then this"]


async def test_blank_first_message_is_ignored(starting_repl):
    starting_repl._queue_first_message("   ")
    assert not starting_repl.queue


async def test_ctrl_d_with_a_session_loop_warns_first_then_allows_exit(starting_repl):
    repl = starting_repl
    assert repl.may_exit_on_ctrl_d()  # no session yet: nothing would stop
    repl.finish_start()
    assert repl.may_exit_on_ctrl_d()  # no session tasks
    repl.session.cron.create("*/5 * * * *", "check", durable=False)
    assert not repl.may_exit_on_ctrl_d()
    await asyncio.sleep(0.05)
    assert "1 session loop will stop" in repl.out.getvalue()
    assert "Press Ctrl-D again to exit" in repl.out.getvalue()
    assert repl.may_exit_on_ctrl_d()


async def test_ctrl_d_with_only_durable_tasks_exits_at_once(starting_repl):
    repl = starting_repl
    repl.finish_start()
    repl.session.cron.create("*/5 * * * *", "check", durable=True)
    assert repl.may_exit_on_ctrl_d()


# -- idle redraws --------------------------------------------------------------------------------------------


def test_toolbar_counts_down_in_minutes_far_from_a_fire_and_in_seconds_close_to_it(starting_repl, monkeypatch):
    import agent.repl.prompt

    repl = starting_repl
    now = time.time_ns() // 1_000_000
    # the toolbar's clock stands still: half a second lost on a loaded machine made "4m 9s"
    monkeypatch.setattr(agent.repl.prompt, "time", SimpleNamespace(time_ns=lambda: now * 1_000_000,
                                                                   monotonic=time.monotonic))
    task = SimpleNamespace(id="3f9a12c0")
    repl.scheduler = SimpleNamespace(next_fire_time=lambda: (task, due))
    due = now + 9 * 60_000 + 30_500
    assert "next: 3f9a12c0 in 9m ·" in toolbar_fragments(repl)[0][1]
    due = now + 4 * 60_000 + 10_500
    assert "next: 3f9a12c0 in 4m 10s ·" in toolbar_fragments(repl)[0][1]


def test_idle_refresh_redraws_only_when_the_clock_changes_what_is_shown(starting_repl):
    repl = starting_repl
    repl.model_name = "claude-sonnet-4-6"
    assert repl._clock_text_changed()  # the first look
    assert not repl._clock_text_changed()  # nothing changed: no redraw
    repl.last_ctrl_c = time.monotonic()  # "Press Ctrl-C again to exit" shows ...
    assert repl._clock_text_changed()
    repl.last_ctrl_c = 0.0  # ... and expires
    assert repl._clock_text_changed()
    assert not repl._clock_text_changed()


# -- agent "msg" ---------------------------------------------------------------------------------------------


def cli_main():
    import importlib

    return importlib.import_module("agent.cli.main").main


def test_prompt_argument_with_a_terminal_opens_the_chat_with_it(project, monkeypatch):
    import agent.repl.launch

    seen = []
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: True))
    monkeypatch.setattr(agent.repl.launch, "run_repl", lambda args, folder: seen.append((args.prompt, folder)) or 0)
    assert cli_main()(["--cwd", str(project), "fix the test"]) == 0
    assert seen == [("fix the test", project.resolve())]


def test_prompt_argument_without_a_terminal_asks_for_p(project, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", SimpleNamespace(isatty=lambda: False))
    assert cli_main()(["--cwd", str(project), "fix the test"]) == 2
    assert 'a prompt needs -p (agent -p "...")' in capsys.readouterr().err


def test_status_says_this_session_fires_once_a_durable_task_exists_when_there_is_no_claude_folder(project, tmp_path):
    folder = tmp_path / "bare"
    folder.mkdir()
    facts = gather_facts(status_context(AgentSession(folder, SessionOptions()), SimpleNamespace(is_owner=False)))
    assert facts.fired_by == "this session, once a durable task exists (no .claude folder yet)"
