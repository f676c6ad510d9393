"""The REPL's logic without a terminal: queue order, busy state, Ctrl-C, questions, completion."""

from __future__ import annotations

import argparse
import asyncio
import io
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document

from agent.engine.queue import Priority, QueuedPrompt
from agent.engine.session import AgentSession, SessionOptions
from agent.permissions.policy import Decision
from agent.repl.app import Repl
from agent.repl.asking import UNATTENDED_ANSWER_S, unattended_answer_s
from agent.repl.prompt import (
    SlashCompleter,
    TerminalSink,
    hint_fragments,
    is_command_line,
    toolbar_fragments,
)
from agent.repl.question import QuestionBox, permission_options
from agent.settings import project_slug, project_state_dir, state_dir


class BlockingConversation:
    """Records prompts; each turn waits until the test releases it."""

    def __init__(self) -> None:
        self.prompts: list[tuple[str, object]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.history: list = []

    async def run_turn(self, prompt, *, scheduled_task=None, source=None, run_id=None):
        self.prompts.append((prompt, scheduled_task))
        self.started.set()
        await self.release.wait()


def fired(task_id: str, prompt: str, fired_ms: int) -> SimpleNamespace:
    task = SimpleNamespace(id=task_id, prompt=prompt, cron="* * * * *")
    return SimpleNamespace(task=task, fired_ms=fired_ms, durable=False)


@pytest.fixture
async def repl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    project = tmp_path / "project"
    project.mkdir()
    out = io.StringIO()
    repl = Repl(argparse.Namespace(), project, out=out, env={"HOME": str(tmp_path / "home")},
                unattended_answer_s=0.05)
    repl.out = out  # type: ignore[attr-defined]
    repl.session = AgentSession(project, SessionOptions())
    repl.chat.current = BlockingConversation()  # type: ignore[assignment]
    repl._ready.set()
    processor = asyncio.create_task(repl.turns.process_queue())
    yield repl
    processor.cancel()
    await asyncio.gather(processor, return_exceptions=True)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_prompt_typed_during_a_turn_runs_after_it_and_before_a_scheduled_fire(repl):
    conv = repl.chat.current
    await repl._submit("first")
    await conv.started.wait()
    await repl._submit("typed meanwhile")
    repl.on_fire(fired("a1b2c3d4", "scheduled check", 0))
    assert repl.is_busy()
    assert [(i.text, i.priority) for i in repl.queue] == [("typed meanwhile", Priority.NEXT),
                                                         ("scheduled check", Priority.LATER)]
    conv.release.set()
    while len(conv.prompts) < 3 or repl.is_busy():
        await asyncio.sleep(0.01)
    assert [p for p, _ in conv.prompts] == ["first", "typed meanwhile", "scheduled check"]
    assert conv.prompts[2][1].id == "a1b2c3d4"  # the scheduled turn gets its task (the "automatic" note)
    assert "Queued: runs when the current turn ends." in repl.out.getvalue()


async def test_busy_while_a_turn_runs_or_the_queue_holds_anything(repl):
    assert not repl.is_busy()
    repl.queue.put(QueuedPrompt("x", Priority.LATER))
    assert repl.is_busy()
    await repl.chat.current.started.wait()
    assert repl.is_busy() and not repl.queue  # running now
    repl.chat.current.release.set()
    while repl.is_busy():
        await asyncio.sleep(0.01)


async def test_fire_while_idle_starts_its_turn_without_any_input(repl):
    when = int(datetime(2025, 11, 23, 9, 3).timestamp() * 1000)
    repl.on_fire(fired("0badc0de", "check the deploy", when))
    await asyncio.wait_for(repl.chat.current.started.wait(), 2)
    await settle()
    assert "Running scheduled task (Nov 23 9:03 AM): check the deploy" in repl.out.getvalue()


async def test_ctrl_c_in_a_scheduled_turn_cancels_it_and_says_how_to_stop_the_schedule(repl):
    repl.on_fire(fired("0badc0de", "poll", 0))
    await repl.chat.current.started.wait()
    repl.on_ctrl_c(Buffer())
    while repl.is_busy():
        await asyncio.sleep(0.01)
    await settle()
    assert "Stop it with /cron delete 0badc0de" in repl.out.getvalue()


async def test_ctrl_c_at_an_idle_prompt_clears_the_line_then_asks_then_exits(repl):
    buffer = Buffer()
    buffer.insert_text("half typed")
    repl.on_ctrl_c(buffer)
    assert buffer.text == "" and not repl._exit_requested
    repl.on_ctrl_c(buffer)
    assert "Press Ctrl-C again to exit" in hint_fragments(repl)[0][1]
    repl.on_ctrl_c(buffer)
    assert repl._exit_requested


def tool_and_decision():
    tool = SimpleNamespace(name="Bash", permission_subject=lambda a: "npm test", key_argument=lambda a: "npm test")
    return tool, Decision("ask", "Bash needs your permission to run.", "Bash(npm test:*)")


async def test_question_in_a_scheduled_turn_with_no_answer_says_nobody_was_at_the_terminal(repl):
    repl.turns.current = QueuedPrompt("poll the deploy", Priority.LATER, source="cron",
                                      task=fired("0badc0de", "poll", 0))
    tool, decision = tool_and_decision()
    asking = asyncio.create_task(repl.asker.ask(tool, None, decision))
    await settle()
    shown = "".join(text for _, text in repl.questions.fragments())
    assert "Scheduled task 0badc0de asks (poll the deploy)" in shown and "s left to answer" in shown
    assert "4. No, and delete scheduled task 0badc0de" in shown
    answer = await asking
    assert not answer.allowed and answer.unanswered


async def test_question_in_a_user_turn_waits_and_yes_for_session_adds_the_rule(repl):
    repl.turns.current = QueuedPrompt("run tests", Priority.NEXT, source="user")
    repl.questions.grace_s = 0.0
    tool, decision = tool_and_decision()
    answer = asyncio.create_task(repl.asker.ask(tool, None, decision))
    await asyncio.sleep(0.1)  # longer than the unattended timeout: a user turn waits
    assert not answer.done() and repl.questions.current is not None
    assert repl.renderer.waiting
    repl.questions.key_press("2", "2")
    assert (await answer).allowed
    assert [r.text for r in repl.session.policy.session_allow] == ["Bash(npm test:*)"]


async def test_delete_option_in_a_scheduled_question_deletes_the_task_and_refuses(repl):
    created = repl.session.cron.create("*/5 * * * *", "poll", recurring=True, durable=False)
    task_id = created.task.id
    repl.turns.current = QueuedPrompt("poll", Priority.LATER, source="cron", task=fired(task_id, "poll", 0))
    repl.unattended_answer_s = 30
    repl.questions.grace_s = 0.0
    tool, decision = tool_and_decision()
    asking = asyncio.create_task(repl.asker.ask(tool, None, decision))
    await settle()
    repl.questions.key_press("4", "4")
    answer = await asking
    assert not answer.allowed and f"I deleted scheduled task {task_id}" in answer.note
    assert repl.session.cron.list() == []
    assert f"Deleted {task_id}" in repl.out.getvalue()


async def test_question_box_sets_the_typed_text_aside_and_restores_it_with_what_was_typed():
    buffer = Buffer()
    buffer.set_document(Document("half typed text", cursor_position=4))
    box = QuestionBox(lambda: buffer, lambda: None, grace_s=0.0)
    asking = asyncio.create_task(box.ask("Allow Bash: ls?", permission_options(None)))
    await settle()
    assert buffer.text == "" and "Allow Bash: ls?" in "".join(t for _, t in box.fragments())
    box.key_press("n", "n")  # a letter: not an answer
    assert not asking.done()
    box.key_press("escape", "\x1b")
    assert (await asking).answer == "no"
    assert (buffer.text, buffer.cursor_position) == ("halfn typed text", 5)  # the ignored "n" comes back too
    assert box.current is None


def test_unattended_time_limit_can_be_set_for_tests_and_bad_values_are_ignored():
    assert unattended_answer_s({}) == UNATTENDED_ANSWER_S
    assert unattended_answer_s({"AGENT_UNATTENDED_ANSWER_S": "3"}) == 3.0
    assert unattended_answer_s({"AGENT_UNATTENDED_ANSWER_S": "soon"}) == UNATTENDED_ANSWER_S
    assert unattended_answer_s({"AGENT_UNATTENDED_ANSWER_S": "-1"}) == UNATTENDED_ANSWER_S


async def test_question_box_times_out_with_none():
    box = QuestionBox(lambda: None, lambda: None)
    assert await box.ask("?", permission_options(None), timeout=0.01) is None


def test_slash_completion_offers_matching_commands_only_at_the_start():
    completer = SlashCompleter(lambda: [("loop", "schedule"), ("help", "help"), ("cron", "tasks")])

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), None)]

    assert complete("/lo") == ["/loop"]
    assert complete("/") == ["/loop", "/help", "/cron"]
    assert complete("hello /lo") == [] and complete("/loop 5m") == []


def test_command_lines_are_told_apart_from_prompts_that_start_with_a_path():
    assert is_command_line("/loop 5m check") and is_command_line("  /help")
    assert not is_command_line("/usr/bin/python is broken") and not is_command_line("// comment")
    assert not is_command_line("hello")


def test_sink_writes_and_runs_callbacks_when_no_loop_runs():
    out, called = io.StringIO(), []
    TerminalSink(out)("line\n", lambda: called.append(True))
    assert out.getvalue() == "line\n" and called == [True]


def test_history_lives_under_xdg_state_home_or_local_state():
    assert state_dir({"XDG_STATE_HOME": "/s", "HOME": "/h"}) == Path("/s/agent")
    assert state_dir({"HOME": "/h"}) == Path("/h/.local/state/agent")


def test_project_state_folder_is_outside_the_project_and_named_by_its_path() -> None:
    assert project_slug(Path("/home/me/my shop")) == "-home-me-my-shop"
    folder = project_state_dir(Path("/home/me/shop"), {"XDG_STATE_HOME": "/s"})
    assert folder == Path("/s/agent/projects/-home-me-shop")


async def test_toolbar_shows_model_next_fire_and_queue_length(repl, monkeypatch):
    import time

    from agent.repl import prompt

    # The toolbar reads the clock itself: frozen, so a stall of half a second on a busy machine (or a
    # clock step) between here and there cannot turn `4m 10s` into `4m 9s`.
    now_ns = time.time_ns()
    monkeypatch.setattr(prompt, "time", SimpleNamespace(time_ns=lambda: now_ns, monotonic=time.monotonic))
    task = SimpleNamespace(id="3f9a12c0")
    due = now_ns // 1_000_000 + 250_500
    repl.scheduler = SimpleNamespace(next_fire_time=lambda: (task, due))
    repl.model_name = "claude-sonnet-4-6"
    repl.chat.current.release.set()
    repl.queue.put(QueuedPrompt("a", Priority.LATER))
    repl.queue.put(QueuedPrompt("b", Priority.LATER))
    text = toolbar_fragments(repl)[0][1]
    assert "claude-sonnet-4-6" in text and "queue: 2" in text
    assert "next: 3f9a12c0 in 4m 10s" in text
