"""Custom slash commands (`.claude/commands/*.md`): parsing, expansion, and the same expansion wherever a
prompt enters: `-p`, the chat (typed, /loop, scheduler fires), `agent daemon`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fake_api import text_reply, tool_reply
from test_daemon_e2e import project_with_due_task, read_until, start_daemon, stop
from test_headless_e2e import run_agent
from test_repl_core import fired, repl, settle  # noqa: F401  (the repl fixture)

from agent.engine.custom_commands import (
    CommandNotFound,
    allowed_for_turn,
    command_name,
    expand_body,
    load_commands,
    parse_command_line,
    split_front_matter,
)
from agent.permissions.policy import PermissionPolicy
from agent.settings import Settings

CHECK_TESTS = """---
description: Run the test suite and report
argument-hint: [suite]
allowed-tools: Bash(touch:*), Read
model: haiku
---
Run the $1 tests and report failures. All arguments: $ARGUMENTS
"""


def write_command(root: Path, relative: str, text: str) -> Path:
    path = root / ".claude" / "commands" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------ pure


def test_subfolders_are_namespaces_joined_with_a_colon():
    assert command_name(Path("frontend/test.md")) == "frontend:test"
    assert command_name(Path("check-tests.md")) == "check-tests"


def test_front_matter_gives_description_hint_tools_and_model_and_the_rest_is_the_body():
    meta, body = split_front_matter(CHECK_TESTS)
    assert meta == {"description": "Run the test suite and report", "argument-hint": ["suite"],
                    "allowed-tools": "Bash(touch:*), Read", "model": "haiku"}
    assert body.startswith("Run the $1 tests")


def test_front_matter_lists_in_dash_form_and_text_without_front_matter_is_all_body():
    meta, _ = split_front_matter("---\nallowed-tools:\n  - Read\n  - Bash(git status:*)\n---\nbody")
    assert meta["allowed-tools"] == ["Read", "Bash(git status:*)"]
    assert split_front_matter("just text\n---\n") == ({}, "just text\n---\n")


def test_arguments_and_positional_words_are_substituted():
    assert expand_body("fix $1 in $2 ($ARGUMENTS)", 'bug "the parser"') == 'fix bug in the parser (bug "the parser")'
    assert expand_body("only $3", "a b") == "only "


def test_arguments_are_appended_when_the_body_has_no_placeholder():
    assert expand_body("Review the code.", "carefully") == "Review the code.\n\nARGUMENTS: carefully"
    assert expand_body("Review the code.", "") == "Review the code."


def test_command_lines_are_told_apart_from_paths():
    assert parse_command_line("/frontend:test a b") == ("frontend:test", "a b")
    assert parse_command_line("/usr/bin is odd") is None
    assert parse_command_line("please /check-tests") is None


def test_project_commands_win_over_user_commands_and_builtins_win_with_a_warning(tmp_path):
    project, home = tmp_path / "p", tmp_path / "home"
    write_command(project, "deploy.md", "project deploy")
    write_command(home, "deploy.md", "user deploy")
    write_command(home, "mine.md", "user only")
    write_command(project, "help.md", "not the real help")
    commands = load_commands(project, {"HOME": str(home)}, reserved=["help", "loop"])
    assert commands.names() == ["deploy", "mine"]
    assert commands.get("deploy").body == "project deploy" and commands.get("deploy").scope == "project"
    assert commands.get("mine").scope == "user"
    assert len(commands.warnings) == 1 and "/help is a built-in" in commands.warnings[0]


def test_a_missing_command_raises_and_names_where_it_looked(tmp_path):
    commands = load_commands(tmp_path, {"HOME": str(tmp_path / "home")})
    with pytest.raises(CommandNotFound, match="check-tests"):
        commands.expand("/check-tests")
    assert commands.expand("plain prompt") is None


def test_allowed_tools_are_added_for_the_turn_only_and_bad_rules_are_left_out(tmp_path):
    policy = PermissionPolicy.from_settings(tmp_path, Settings(), None)
    policy.allow_for_session("Glob")
    with allowed_for_turn(policy, ["Bash(touch:*)", "Bash(("]) as bad:
        assert [r.text for r in policy.session_allow] == ["Glob", "Bash(touch:*)"]
        assert bad == ["Bash(("]
    assert [r.text for r in policy.session_allow] == ["Glob"]


# ------------------------------------------------------------------------------------- agent -p


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def test_p_expands_a_command_with_its_tools_and_model_for_that_turn(fake_api, project):
    write_command(project, "check-tests.md", CHECK_TESTS)
    fake_api.script(tool_reply(("Bash", {"command": "touch ran-tests"})), text_reply("2 failures"))
    done = run_agent(fake_api, project, "-p", "/check-tests unit fast", "--output-format", "json")
    assert done.returncode == 0, done.stderr
    first = fake_api.requests[0]
    assert "Run the unit tests and report failures. All arguments: unit fast" in first.turn_prompt()
    assert "/check-tests" not in first.turn_prompt()
    assert first.body["model"] == "claude-haiku-4-5"
    assert (project / "ran-tests").exists()  # allowed-tools let Bash(touch:*) run without a rule


def test_p_with_a_missing_command_fails_and_sends_nothing(fake_api, project):
    done = run_agent(fake_api, project, "-p", "/check-tests", "--output-format", "json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["is_error"] is True and "/check-tests is not a custom command" in result["result"]
    assert fake_api.requests == []


def test_p_refuses_a_builtin_chat_command_and_names_the_shadowed_file(fake_api, project):
    write_command(project, "cost.md", "what did it cost")
    done = run_agent(fake_api, project, "-p", "/cost")
    assert done.returncode == 1
    assert "chat command" in done.stderr and "cost.md is ignored" in done.stderr
    assert fake_api.requests == []


def test_p_init_lists_builtin_and_custom_commands(fake_api, project):
    write_command(project, "frontend/test.md", "run the frontend tests")
    fake_api.script(text_reply("ok"))
    done = run_agent(fake_api, project, "-p", "hi", "--output-format", "stream-json", "--verbose")
    init = json.loads(done.stdout.splitlines()[0])
    assert "frontend:test" in init["slash_commands"] and "compact" in init["slash_commands"]


# ------------------------------------------------------------------------------------- the chat


async def test_typed_custom_command_runs_its_expanded_text(repl, tmp_path):  # noqa: F811
    write_command(repl.project, "greet.md", "Say hello to $ARGUMENTS")
    await repl._submit("/greet the team")
    await repl.chat.current.started.wait()
    assert repl.chat.current.prompts[0][0] == "Say hello to the team"
    repl.chat.current.release.set()


async def test_scheduled_fire_of_a_command_prompt_expands_it_at_every_fire(repl):  # noqa: F811
    write_command(repl.project, "check-tests.md", "run the tests v1")
    repl.chat.current.release.set()
    repl.on_fire(fired("a1b2c3d4", "/check-tests", 0))
    await settle()
    write_command(repl.project, "check-tests.md", "run the tests v2")
    repl.on_fire(fired("a1b2c3d4", "/check-tests", 0))
    for _ in range(100):  # the run is recorded in a worker thread first (queued, then running)
        if len(repl.chat.current.prompts) == 2:
            break
        await asyncio.sleep(0.05)
    assert [p for p, _ in repl.chat.current.prompts] == ["run the tests v1", "run the tests v2"]


async def test_loop_with_a_command_prompt_runs_the_command_text(repl):  # noqa: F811
    write_command(repl.project, "check-tests.md", "run the tests")
    repl.chat.current.release.set()
    await repl._submit("/loop 5m /check-tests")
    await settle()
    assert repl.chat.current.prompts[0][0] == "run the tests"
    assert repl.session.session_store.load().tasks[0].prompt == "/check-tests"


async def test_a_fire_whose_command_file_is_gone_fails_clearly_and_sends_nothing(repl):  # noqa: F811
    repl.on_fire(fired("a1b2c3d4", "/check-tests", 0))
    await settle()
    assert repl.chat.current.prompts == []
    out = repl.out.getvalue()
    assert "scheduled task a1b2c3d4 failed" in out and "/check-tests is not a custom command" in out


async def test_a_scheduled_builtin_command_fails_saying_it_runs_only_when_typed(repl):  # noqa: F811
    repl.on_fire(fired("a1b2c3d4", "/compact", 0))
    await settle()
    assert repl.chat.current.prompts == []
    assert "/compact is a built-in chat command" in repl.out.getvalue()


async def test_help_and_completion_list_custom_commands(repl):  # noqa: F811
    write_command(repl.project, "frontend/test.md", "---\ndescription: frontend tests\nargument-hint: <file>\n---\nx")
    names = [name for name, _ in repl.command_summaries()]
    assert "frontend:test" in names and "help" in names
    await repl._submit("/help")
    await settle()
    assert "/frontend:test <file>" in repl.out.getvalue() and "frontend tests" in repl.out.getvalue()


async def test_builtin_wins_over_a_file_with_the_same_name_and_the_chat_warns(repl):  # noqa: F811
    write_command(repl.project, "cost.md", "not the cost command")
    await repl._submit("/cost")
    await settle()
    out = repl.out.getvalue()
    assert "built-in command" in out
    assert repl.chat.current.prompts == []


# ------------------------------------------------------------------------------------- the daemon


def test_daemon_fire_of_a_command_prompt_sends_the_command_text(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "da3e00c1", "/check-tests nightly")
    write_command(project, "check-tests.md", "Run the $1 test suite")
    fake_api.set_default(text_reply("all green"))
    proc = start_daemon(fake_api, project)
    try:
        read_until(proc, "task da3e00c1 done")
    finally:
        stop(proc)
    prompt = fake_api.requests[0].turn_prompt()
    assert "Run the nightly test suite" in prompt and "/check-tests" not in prompt


def test_daemon_fire_of_a_missing_command_fails_that_run(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "da3e00c2", "/check-tests")
    proc = start_daemon(fake_api, project)
    try:
        out = read_until(proc, "task da3e00c2 failed")
    finally:
        stop(proc)
    assert "/check-tests is not a custom command" in out and "nothing was sent" in out
    assert fake_api.requests == []
