"""Hooks in Claude Code's format and contract: every event and exit path, with real hook scripts.

The table tests run `agent -p` against the fake Messages API with one Python hook script for every
event (tests/hooks_support.py), steered per test by a plan. Claude Code 2.1.328 fired SessionStart,
UserPromptSubmit, PreToolUse, PostToolUse, Stop and SessionEnd in that order in one `-p` run with a tool
round (issue 23; its result is tests/data/claude_code/C_probe).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_api import FakeAnthropic, text_reply, tool_reply
from hooks_support import events_of, hook_log, hooks_block, make_hook_project

from agent.engine.conversation import Conversation
from agent.engine.llm import LLM
from agent.hooks import HookConfig, HookRunner, interpret, parse_hooks
from agent.permissions.answers import PermissionAnswer
from agent.tools.base import ToolContext, ToolRegistry
from agent.tools.files import ReadTool

DATA = Path(__file__).parent / "data" / "claude_code" / "C_probe"
C_PROBE_EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "SessionEnd"]


def write_user_hooks(env: dict[str, str], hooks: dict) -> None:
    folder = Path(env["HOME"]) / ".claude"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.json").write_text(json.dumps({"hooks": hooks}))


def run_p(env: dict[str, str], project: Path, prompt: str = "go", *extra: str) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", prompt,
                           "--output-format", "json", *extra], env=env, capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.fixture
def hooked(fake_api_env: dict[str, str], tmp_path: Path):
    """hooked(plan, events=..., timeout=None) -> the project whose user settings run the hook script."""
    project = tmp_path / "project"

    def make(plan: dict | None = None, events: tuple[str, ...] | None = None, timeout: float | None = None) -> Path:
        command = make_hook_project(project, plan)
        (project / "notes.txt").write_text("hello\n")
        write_user_hooks(fake_api_env, hooks_block(command, *(() if events is None else (events,)), timeout=timeout))
        return project

    return make


# ------------------------------------------------------------------- pure: what an exit status means

@pytest.mark.parametrize(("event", "code", "stdout", "stderr", "expect"), [
    ("PreToolUse", 0, "", "", {}),
    ("PreToolUse", 2, "", "no rm", {"blocked": True, "reason": "no rm"}),
    ("PostToolUse", 2, "", "lint failed", {"blocked": True, "reason": "lint failed"}),
    ("UserPromptSubmit", 2, "", "secret", {"blocked": True, "reason": "secret"}),
    ("Stop", 2, "", "tests fail", {"blocked": True, "reason": "tests fail"}),
    ("SessionStart", 2, "", "oops", {"notices": ["SessionStart hook: oops"]}),
    ("Notification", 2, "", "oops", {"notices": ["Notification hook: oops"]}),
    ("PreCompact", 1, "", "bad\nmore", {"notices": ["PreCompact hook `h` failed with exit status 1: bad"]}),
    ("PreToolUse", 1, "", "", {"notices": ["PreToolUse hook `h` failed with exit status 1: no message"]}),
    ("UserPromptSubmit", 0, "today is Friday\n", "", {"context": ["today is Friday"]}),
    ("SessionStart", 0, "branch main", "", {"context": ["branch main"]}),
    ("PostToolUse", 0, "plain output", "", {}),
    ("PreToolUse", 0, '{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",'
     ' "permissionDecisionReason": "not here"}}', "", {"blocked": True, "reason": "not here", "permission": "deny"}),
    ("PreToolUse", 0, '{"hookSpecificOutput": {"permissionDecision": "allow"}}', "", {"permission": "allow"}),
    ("PreToolUse", 0, '{"hookSpecificOutput": {"permissionDecision": "ask"}}', "", {"permission": "ask"}),
    ("PreToolUse", 0, '{"decision": "approve"}', "", {"permission": "allow"}),
    ("PostToolUse", 0, '{"decision": "block", "reason": "fix lint"}', "", {"blocked": True, "reason": "fix lint"}),
    ("Stop", 0, '{"decision": "block", "reason": "run tests"}', "", {"blocked": True, "reason": "run tests"}),
    ("PostToolUse", 0, '{"continue": false, "stopReason": "enough"}', "", {"stop": True, "stop_reason": "enough"}),
    ("SessionStart", 0, '{"hookSpecificOutput": {"additionalContext": "ctx"}}', "", {"context": ["ctx"]}),
    ("SessionStart", 0, '{"systemMessage": "hi user", "suppressOutput": true}', "", {"notices": ["hi user"]}),
    ("PreToolUse", None, "", "", {"notices": ["PreToolUse hook `h` timed out after 5s and was stopped"]}),
])
def test_exit_status_and_output_mean_what_claude_code_says(event, code, stdout, stderr, expect):
    outcome = interpret(event, "h", code, stdout, stderr, timeout_s=5)
    assert outcome.blocked is expect.get("blocked", False)
    assert outcome.reason == expect.get("reason", "")
    assert outcome.permission == expect.get("permission")
    assert outcome.stop is expect.get("stop", False) and outcome.stop_reason == expect.get("stop_reason", "")
    assert outcome.context == expect.get("context", [])
    assert outcome.notices == expect.get("notices", [])


def test_matchers_pick_tools_by_name_list_or_pattern():
    config = parse_hooks({"PreToolUse": [
        {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "a"}]},
        {"matcher": "Bash", "hooks": [{"type": "command", "command": "b", "timeout": 3}]},
        {"matcher": "Cron.*", "hooks": [{"type": "command", "command": "c"}]},
        {"hooks": [{"type": "command", "command": "all"}, {"type": "command", "command": "a"}]},
    ]})
    names = lambda tool: [c.command for c in config.commands_for("PreToolUse", tool)]  # noqa: E731
    assert names("Write") == ["a", "all"] and names("Read") == ["all", "a"]
    assert names("Bash") == ["b", "all", "a"] and names("CronCreate") == ["c", "all", "a"]
    assert names("Bas") == ["all", "a"]
    assert config.commands_for("PreToolUse", "Bash")[0].timeout_s == 3


def test_unusable_hook_entries_are_named_not_guessed():
    config = parse_hooks({"PreToolUse": [{"hooks": [{"type": "prompt", "prompt": "x"}]}], "Bogus": [],
                          "Stop": [{"hooks": [{"type": "command", "command": "x", "timeout": -1}]}]})
    assert not config and len(config.problems) == 3


# ------------------------------------------------------------------- agent -p with a real hook script

def test_a_p_run_fires_the_events_claude_code_fired_with_their_fields(hooked, fake_api, fake_api_env):
    project = hooked()
    fake_api.script(tool_reply(("Read", {"file_path": str(project / "notes.txt")})), text_reply("ok"))
    result, _ = run_p(fake_api_env, project, "read the notes")
    assert events_of(project) == C_PROBE_EVENTS
    recorded = json.loads((DATA / "claude.json.jsonl").read_text())
    assert {k: result[k] for k in ("type", "subtype", "is_error", "num_turns", "result")} == \
        {k: recorded[k] for k in ("type", "subtype", "is_error", "num_turns", "result")}
    log = {entry["hook_event_name"]: entry for entry in hook_log(project)}
    for entry in log.values():
        assert entry["session_id"] == result["session_id"] and entry["cwd"] == str(project)
        assert entry["transcript_path"].endswith(result["session_id"] + ".jsonl")
        assert entry["permission_mode"] == "default"
        assert entry["_env"] == {"CLAUDE_PROJECT_DIR": str(project), "has_api_key": False, "cwd": str(project)}
    assert log["SessionStart"]["source"] == "startup" and log["UserPromptSubmit"]["prompt"] == "read the notes"
    pre, post = log["PreToolUse"], log["PostToolUse"]
    assert pre["tool_name"] == "Read" and pre["tool_input"] == {"file_path": str(project / "notes.txt")}
    assert pre["tool_use_id"] == post["tool_use_id"] and "hello" in post["tool_response"]["content"]
    assert log["Stop"]["stop_hook_active"] is False and log["SessionEnd"]["reason"] == "other"


def test_pretooluse_exit_2_blocks_the_call_and_tells_the_model_its_stderr(fake_api, fake_api_env, tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    write_user_hooks(fake_api_env, {"PreToolUse": [{"matcher": "Write", "hooks": [
        {"type": "command", "command": "cat >/dev/null; echo 'no writes on Fridays' >&2; exit 2"}]}]})
    fake_api.script(tool_reply(("Write", {"file_path": str(project / "x.txt"), "content": "x"})), text_reply("ok"))
    result, _ = run_p(fake_api_env, project, "go", "--permission-mode", "acceptEdits")
    [sent] = fake_api.requests[1].tool_results()
    assert sent["is_error"] and "no writes on Fridays" in json.dumps(sent)
    assert not (project / "x.txt").exists() and result["is_error"] is False


def test_pretooluse_json_deny_blocks_with_its_reason(hooked, fake_api, fake_api_env):
    project = hooked({"PreToolUse:Read": {"stdout": {"hookSpecificOutput": {
        "hookEventName": "PreToolUse", "permissionDecision": "deny",
        "permissionDecisionReason": "notes are private"}}}})
    fake_api.script(tool_reply(("Read", {"file_path": str(project / "notes.txt")})), text_reply("ok"))
    run_p(fake_api_env, project)
    [sent] = fake_api.requests[1].tool_results()
    assert sent["is_error"] and "notes are private" in json.dumps(sent) and "hello" not in json.dumps(sent)


def test_pretooluse_allow_answers_the_question_nobody_is_there_to_answer(hooked, fake_api, fake_api_env):
    project = hooked({"PreToolUse:Bash": {"stdout": {"hookSpecificOutput": {"permissionDecision": "allow"}}}})
    fake_api.script(tool_reply(("Bash", {"command": "touch made-by-bash"})), text_reply("ok"))
    result, _ = run_p(fake_api_env, project)
    assert (project / "made-by-bash").exists() and result["permission_denials"] == []


def test_pretooluse_allow_never_beats_a_deny_rule(hooked, fake_api, fake_api_env):
    project = hooked({"PreToolUse:Bash": {"stdout": {"hookSpecificOutput": {"permissionDecision": "allow"}}}})
    fake_api.script(tool_reply(("Bash", {"command": "touch made-by-bash"})), text_reply("ok"))
    run_p(fake_api_env, project, "go", "--disallowedTools", "Bash(touch:*)")
    assert not (project / "made-by-bash").exists()


def test_pretooluse_ask_headless_is_a_denial(hooked, fake_api, fake_api_env):
    project = hooked({"PreToolUse:Read": {"stdout": {"hookSpecificOutput": {"permissionDecision": "ask"}}}})
    fake_api.script(tool_reply(("Read", {"file_path": str(project / "notes.txt")})), text_reply("ok"))
    result, _ = run_p(fake_api_env, project)
    [sent] = fake_api.requests[1].tool_results()
    assert sent["is_error"] and "hello" not in json.dumps(sent)
    assert [d["tool_name"] for d in result["permission_denials"]] == ["Read"]


@pytest.mark.parametrize("plan", [{"exit": 2, "stderr": "lint: 3 errors"},
                                  {"stdout": {"decision": "block", "reason": "lint: 3 errors"}}])
def test_posttooluse_block_sends_its_feedback_to_the_model(hooked, fake_api, fake_api_env, plan):
    project = hooked({"PostToolUse": plan})
    fake_api.script(tool_reply(("Read", {"file_path": str(project / "notes.txt")})), text_reply("ok"))
    run_p(fake_api_env, project)
    [sent] = fake_api.requests[1].tool_results()
    assert "hello" in json.dumps(sent) and "PostToolUse hook feedback: lint: 3 errors" in json.dumps(sent)


def test_userpromptsubmit_exit_2_blocks_the_prompt_before_the_model_sees_it(hooked, fake_api, fake_api_env):
    project = hooked({"UserPromptSubmit": {"exit": 2, "stderr": "prompt holds a secret"}})
    result, _ = run_p(fake_api_env, project, "my password is hunter2")
    assert fake_api.requests == [] and result["is_error"] is True
    assert "prompt holds a secret" in json.dumps(result)
    assert events_of(project) == ["SessionStart", "UserPromptSubmit", "SessionEnd"]


@pytest.mark.parametrize(("event", "plan"), [
    ("UserPromptSubmit", {"stdout": "the build is red\n"}),
    ("UserPromptSubmit", {"stdout": {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit",
                                                            "additionalContext": "the build is red"}}}),
    ("SessionStart", {"stdout": "the build is red"}),
])
def test_context_from_hooks_reaches_the_model_with_the_prompt(hooked, fake_api, fake_api_env, event, plan):
    project = hooked({event: plan})
    run_p(fake_api_env, project, "status?")
    sent = json.dumps(fake_api.requests[0].body["messages"][-1])
    assert "status?" in sent and "the build is red" in sent


def test_stop_exit_2_makes_the_model_go_on_once(hooked, fake_api, fake_api_env):
    project = hooked({"Stop": {"exit": 2, "stderr": "run the tests first", "once": True}})
    fake_api.script(text_reply("done"), text_reply("ran them"))
    result, _ = run_p(fake_api_env, project)
    assert len(fake_api.requests) == 2 and "run the tests first" in fake_api.requests[1].last_user_text()
    assert result["result"] == "ran them"
    stops = [e["stop_hook_active"] for e in hook_log(project) if e["hook_event_name"] == "Stop"]
    assert stops == [False, True]


def test_continue_false_ends_the_turn_with_the_stop_reason(hooked, fake_api, fake_api_env):
    project = hooked({"PostToolUse": {"stdout": {"continue": False, "stopReason": "budget reached"}}})
    fake_api.script(tool_reply(("Read", {"file_path": str(project / "notes.txt")})), text_reply("never sent"))
    result, _ = run_p(fake_api_env, project)
    assert len(fake_api.requests) == 1 and result["result"] == "budget reached"


def test_other_exit_codes_are_shown_to_the_user_and_the_run_goes_on(hooked, fake_api, fake_api_env):
    project = hooked({"UserPromptSubmit": {"exit": 1, "stderr": "hook broke"}})
    result, stderr = run_p(fake_api_env, project)
    assert result["is_error"] is False and len(fake_api.requests) == 1
    assert "UserPromptSubmit hook" in stderr and "exit status 1: hook broke" in stderr


def test_a_hook_past_its_timeout_is_stopped_and_reported(hooked, fake_api, fake_api_env):
    project = hooked({"SessionStart": {"sleep": 30}}, timeout=1)
    result, stderr = run_p(fake_api_env, project)
    assert result["is_error"] is False and "timed out after 1s" in stderr
    assert result["duration_ms"] < 20_000


def test_project_hooks_run_only_in_a_trusted_folder(fake_api, fake_api_env, tmp_path):
    project = tmp_path / "repo"
    command = make_hook_project(project)
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps({"hooks": hooks_block(command)}))
    run_p(fake_api_env, project)
    assert events_of(project) == []
    subprocess.run([sys.executable, "-m", "agent", "trust", str(project)], env=fake_api_env, check=True,
                   capture_output=True)
    run_p(fake_api_env, project)
    assert events_of(project) == ["SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"]


def test_user_and_project_hooks_of_one_event_all_run(fake_api, fake_api_env, tmp_path):
    project = tmp_path / "repo"
    command = make_hook_project(project)
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps({"hooks": hooks_block(command, ("Stop",))}))
    write_user_hooks(fake_api_env, {"Stop": [{"hooks": [{"type": "command", "command": "cat > user-stop.json"}]}]})
    subprocess.run([sys.executable, "-m", "agent", "trust", str(project)], env=fake_api_env, check=True,
                   capture_output=True)
    run_p(fake_api_env, project)
    assert events_of(project) == ["Stop"] and json.loads((project / "user-stop.json").read_text())["hook_event_name"]


# ------------------------------------------------------------------- in process: scheduled, compact, notify

@pytest.fixture
async def conversation_with_hooks(fake_api: FakeAnthropic, tmp_path: Path):
    clients: list[LLM] = []

    def make(plan: dict | None = None, **options) -> tuple[Conversation, Path, list[str]]:
        command = make_hook_project(tmp_path, plan)
        llm = LLM(api_key="test-key", base_url=fake_api.base_url)
        clients.append(llm)
        conversation = Conversation(llm, ToolRegistry([ReadTool()]), ToolContext(project_dir=tmp_path), None,
                                    system_prompt="test", **options)
        notices: list[str] = []
        conversation.hooks = HookRunner(parse_hooks(hooks_block(command)), tmp_path,
                                        {"PATH": "/usr/bin:/bin", "ANTHROPIC_API_KEY": "sk-secret"},
                                        notify=notices.append)
        return conversation, tmp_path, notices

    yield make
    for client in clients:
        await client.aclose()


async def test_a_scheduled_fire_says_so_in_its_hook_input(conversation_with_hooks, fake_api):
    conversation, project, _ = conversation_with_hooks()
    task = SimpleNamespace(id="abcd1234", cron="*/5 * * * *", human_schedule="Every 5 minutes")
    await conversation.run_turn("check the deploy", scheduled_task=task)
    log = {e["hook_event_name"]: e for e in hook_log(project)}
    assert log["SessionStart"]["source"] == "scheduled" and log["SessionStart"]["task_id"] == "abcd1234"
    assert log["UserPromptSubmit"]["source"] == "scheduled" and log["UserPromptSubmit"]["task_id"] == "abcd1234"
    assert not any(e["_env"]["has_api_key"] for e in hook_log(project))


async def test_precompact_runs_before_a_manual_compact(conversation_with_hooks, fake_api):
    conversation, project, _ = conversation_with_hooks()
    fake_api.script(text_reply("one"), text_reply("two"), text_reply("summary"))
    await conversation.run_turn("first")
    await conversation.run_turn("second")
    await conversation.compact()
    [entry] = [e for e in hook_log(project) if e["hook_event_name"] == "PreCompact"]
    assert entry["trigger"] == "manual"


async def test_a_permission_question_sends_a_notification(conversation_with_hooks, fake_api, tmp_path):
    asked: list[str] = []

    async def asker(tool, args, decision):
        asked.append(tool.name)
        return PermissionAnswer.of(True)

    ask = SimpleNamespace(behavior="ask", reason="", suggested_rule=None)
    policy = SimpleNamespace(check=lambda tool, args, ctx: ask)
    conversation, project, _ = conversation_with_hooks(asker=asker)
    conversation.policy = policy
    (project / "n.txt").write_text("x")
    fake_api.script(tool_reply(("Read", {"file_path": str(project / "n.txt")})), text_reply("ok"))
    await conversation.run_turn("read")
    for task in list(conversation.background):
        await task
    [entry] = [e for e in hook_log(project) if e["hook_event_name"] == "Notification"]
    assert asked == ["Read"] and entry["notification_type"] == "permission_prompt" and "Read" in entry["message"]


async def test_session_end_runs_once_when_the_face_closes(conversation_with_hooks, fake_api):
    conversation, project, _ = conversation_with_hooks()
    await conversation.end_session("clear")  # never started: nothing to end
    await conversation.run_turn("hi")
    await conversation.end_session("prompt_input_exit")
    await conversation.end_session("prompt_input_exit")
    ends = [e["reason"] for e in hook_log(project) if e["hook_event_name"] == "SessionEnd"]
    assert ends == ["prompt_input_exit"]


def test_an_empty_config_runs_nothing():
    assert not HookRunner(HookConfig(), Path("/"), {}) and not parse_hooks(None)


def test_a_daemon_fire_runs_the_hooks_as_its_own_scheduled_session(fake_api, tmp_path):
    from test_daemon_e2e import project_with_due_task, read_until, start_daemon, stop

    project = project_with_due_task(tmp_path, "da3e0042", "check the deploy")
    command = make_hook_project(project)
    home = project.parent / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"hooks": hooks_block(command)}))
    fake_api.set_default(text_reply("deploy fine"))
    proc = start_daemon(fake_api, project)
    try:
        read_until(proc, "task da3e0042 done")
    finally:
        stop(proc)
    assert events_of(project) == ["SessionStart", "UserPromptSubmit", "Stop", "SessionEnd"]
    log = {e["hook_event_name"]: e for e in hook_log(project)}
    assert (log["SessionStart"]["source"], log["SessionStart"]["task_id"]) == ("scheduled", "da3e0042")
    assert log["UserPromptSubmit"]["task_id"] == "da3e0042" and log["UserPromptSubmit"]["prompt"] == "check the deploy"
    assert not log["Stop"]["_env"]["has_api_key"]
