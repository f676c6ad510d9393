"""Claude Code's flags users pass, each proved by its effect on a real `agent -p` against the fake API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_api import overloaded_reply, text_reply, tool_reply

from agent.engine.session import AgentSession, SessionOptions
from agent.engine.transcript import transcript_path
from agent.settings import load_settings


def agent(env: dict[str, str], project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def run_p(env: dict[str, str], project: Path, *args: str, prompt: str = "go") -> tuple[dict, str]:
    done = agent(env, project, "-p", prompt, "--output-format", "json", *args)
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def touch_reply() -> object:
    return tool_reply(("Bash", {"command": "touch made.txt"}))


def test_dangerously_skip_permissions_runs_what_headless_would_deny(fake_api, fake_api_env, project):
    fake_api.script(touch_reply(), text_reply("ok"), touch_reply(), text_reply("ok"))
    denied, _ = run_p(fake_api_env, project)
    assert not (project / "made.txt").exists() and denied["permission_denials"]
    allowed, _ = run_p(fake_api_env, project, "--dangerously-skip-permissions")
    assert (project / "made.txt").exists() and allowed["permission_denials"] == []


def test_add_dir_puts_another_folder_inside_the_boundary(fake_api, fake_api_env, project, tmp_path):
    other = tmp_path / "shared-lib"
    other.mkdir()
    (other / "api.txt").write_text("SHARED-API")
    read = tool_reply(("Read", {"file_path": str(other / "api.txt")}))
    fake_api.script(read, text_reply("ok"), read, text_reply("ok"))
    run_p(fake_api_env, project)
    assert "SHARED-API" not in json.dumps(fake_api.requests[1].tool_results())
    run_p(fake_api_env, project, "--add-dir", "../shared-lib")
    assert "SHARED-API" in json.dumps(fake_api.requests[3].tool_results())


def test_add_dir_is_writable_in_the_sandbox_but_its_git_is_not(project, tmp_path):
    other = tmp_path / "lib"
    other.mkdir()
    session = AgentSession(project, SessionOptions(headless=True, add_dirs=[other]),
                           settings=load_settings(project, [], trusted=True))
    policy = session.sandbox.policy(temp_dir=tmp_path / "t")
    assert other in policy.writable and other / ".git" in policy.read_only
    assert session.policy.additional_dirs == (other.resolve(),)


def test_add_dir_that_is_not_a_folder_is_a_usage_error(fake_api_env, project):
    done = agent(fake_api_env, project, "-p", "hi", "--add-dir", "nope")
    assert done.returncode == 2 and done.stderr.strip() == "agent: --add-dir nope: not a folder"


def test_system_prompt_replaces_the_built_in_text(fake_api, fake_api_env, project):
    run_p(fake_api_env, project, "--system-prompt", "You are a pirate.")
    system = fake_api.requests[0].system_text
    assert system.startswith("You are a pirate.") and "You are agent" not in system
    assert "# Environment" in system


def test_settings_json_and_file_are_merged_over_the_settings_files(fake_api, fake_api_env, project, tmp_path):
    allow = json.dumps({"permissions": {"allow": ["Bash(touch:*)"]}})
    fake_api.script(touch_reply(), text_reply("ok"))
    result, _ = run_p(fake_api_env, project, "--settings", allow)
    assert (project / "made.txt").exists() and result["permission_denials"] == []
    (project / "made.txt").unlink()
    file = tmp_path / "extra.json"
    file.write_text(allow)
    fake_api.script(touch_reply(), text_reply("ok"))
    run_p(fake_api_env, project, "--settings", str(file))
    assert (project / "made.txt").exists()


def test_settings_that_are_not_json_are_a_usage_error(fake_api_env, project):
    done = agent(fake_api_env, project, "-p", "hi", "--settings", "{nope")
    assert done.returncode == 2 and done.stderr.startswith("agent: --settings {nope: not JSON")


def test_tools_limits_what_the_model_gets_and_allowed_tools_spelling_allows(fake_api, fake_api_env, project):
    run_p(fake_api_env, project, "--tools", "Read,Grep")
    assert sorted(t["name"] for t in fake_api.requests[0].body["tools"]) == ["Grep", "Read"]
    fake_api.script(touch_reply(), text_reply("ok"))
    run_p(fake_api_env, project, "--allowed-tools", "Bash(touch:*)")
    assert (project / "made.txt").exists()


def test_an_unknown_tool_name_stops_the_run(fake_api_env, project):
    result, _ = run_p(fake_api_env, project, "--tools", "Raed")
    assert result["is_error"] and "no tool named Raed" in result["result"]


def test_max_budget_usd_stops_before_the_next_request(fake_api, fake_api_env, project):
    (project / "a.txt").write_text("a")
    big = {"input_tokens": 200_000, "output_tokens": 10_000}
    fake_api.script(tool_reply(("Read", {"file_path": "a.txt"}), usage=big), text_reply("never"))
    result, _ = run_p(fake_api_env, project, "--max-budget-usd", "0.01")
    assert len(fake_api.requests) == 1
    assert result["subtype"] == "error_max_budget_usd" and result["is_error"] is True
    assert "maximum budget" in result["errors"][0]


def test_fallback_model_takes_over_when_the_model_is_overloaded(fake_api, fake_api_env, project):
    fake_api.when(lambda r: r.body.get("model") == "claude-busy", overloaded_reply())
    env = {**fake_api_env, "AGENT_MAX_RETRIES": "0"}
    result, _ = run_p(env, project, "--model", "claude-busy", "--fallback-model", "claude-spare")
    assert result["is_error"] is False and fake_api.requests[-1].body["model"] == "claude-spare"


def test_fork_session_continues_under_a_new_id_and_leaves_the_old_one(fake_api, fake_api_env, project):
    first, _ = run_p(fake_api_env, project, prompt="remember 42")
    old = transcript_path(project, {"XDG_STATE_HOME": fake_api_env["XDG_STATE_HOME"]}, first["session_id"])
    size = old.stat().st_size
    forked, _ = run_p(fake_api_env, project, "--resume", first["session_id"], "--fork-session", prompt="and now?")
    assert forked["session_id"] != first["session_id"] and old.stat().st_size == size
    assert "remember 42" in json.dumps(fake_api.requests[-1].body["messages"])
    new = old.with_name(forked["session_id"] + ".jsonl")
    assert "remember 42" in new.read_text() and "and now?" in new.read_text()


def test_no_session_persistence_saves_nothing(fake_api, fake_api_env, project):
    result, _ = run_p(fake_api_env, project, "--no-session-persistence")
    path = transcript_path(project, {"XDG_STATE_HOME": fake_api_env["XDG_STATE_HOME"]}, result["session_id"])
    assert result["is_error"] is False and not path.exists()


def test_replay_user_messages_echoes_each_message_with_its_uuid(fake_api, fake_api_env, project):
    line = json.dumps({"type": "user", "uuid": "0b6a3c1e-4a52-4f0c-9b43-3f0c2d1e5a77",
                       "message": {"role": "user", "content": "hello there"}})
    done = agent(fake_api_env, project, "-p", "--input-format", "stream-json", "--output-format", "stream-json",
                 "--replay-user-messages", stdin=line + "\n")
    out = [json.loads(x) for x in done.stdout.splitlines()]
    [replay] = [o for o in out if o["type"] == "user" and o.get("isReplay")]
    assert replay["uuid"] == "0b6a3c1e-4a52-4f0c-9b43-3f0c2d1e5a77" and replay["message"]["content"] == "hello there"
    kinds = [o["type"] for o in out]
    assert kinds.index("user") < kinds.index("assistant") < kinds.index("result")


def test_replay_user_messages_needs_stream_json_input(fake_api_env, project):
    done = agent(fake_api_env, project, "-p", "hi", "--replay-user-messages")
    assert done.returncode == 2 and "needs --input-format stream-json" in done.stderr


def test_debug_logs_on_stderr(fake_api, fake_api_env, project):
    quiet = agent(fake_api_env, project, "-p", "hi")
    loud = agent(fake_api_env, project, "-p", "hi", "-d")
    assert quiet.returncode == loud.returncode == 0 and quiet.stderr == ""
    assert loud.stderr.count("\n") >= 3 and "agent:" in loud.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_fork_session_in_the_chat_leaves_the_continued_session_as_it_was(fake_api, fake_api_env, project, tmp_path):
    from test_transcript import spawn_chat

    first, _ = run_p(fake_api_env, project, prompt="remember 42")
    old = transcript_path(project, {"XDG_STATE_HOME": fake_api_env["XDG_STATE_HOME"]}, first["session_id"])
    size = old.stat().st_size
    fake_api.set_default(lambda r: text_reply(f"noted: {r.turn_prompt()[:40]}"))
    # -r ID: `agent -c` continues the last chat session, never a -p run (tests/test_repl_pty_resume.py)
    term = spawn_chat(fake_api, project, Path(fake_api_env["HOME"]), "-r", first["session_id"], "--fork-session")
    try:
        term.expect(r"Resumed session")
        term.type_line("which number")
        term.expect(r"noted: which number")
        term.send("\x04")
        assert term.wait_exit() == 0
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    assert "remember 42" in json.dumps(fake_api.requests[-1].body["messages"]) and old.stat().st_size == size
    [forked] = [p for p in old.parent.glob("*.jsonl") if p != old]
    assert "which number" in forked.read_text() and "remember 42" in forked.read_text()
