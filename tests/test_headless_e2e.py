"""`agent -p` end to end: a real child process, the real SDK, the fake Messages API on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_api import (
    FakeAnthropic,
    child_env,
    dropped_after,
    error_reply,
    overloaded_reply,
    text_reply,
    tool_reply,
)


def run_agent(api: FakeAnthropic, project: Path, *args: str, stdin: str | None = None,
              timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", "--cwd", str(project), *args],
        input=stdin if stdin is not None else "", capture_output=True, text=True, timeout=timeout,
        env=child_env(api, home=project.parent / "home", **env),
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def test_fixes_a_file_through_read_then_edit(fake_api, project):
    (project / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    fake_api.script(
        tool_reply(("Read", {"file_path": "calc.py"})),
        tool_reply(("Edit", {"file_path": "calc.py", "old_string": "return a - b", "new_string": "return a + b"})),
        text_reply("Fixed the sign in add()."),
    )
    done = run_agent(fake_api, project, "-p", "fix the bug in calc.py", "--permission-mode", "acceptEdits")
    assert done.returncode == 0, done.stderr
    assert (project / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert done.stdout.strip() == "Fixed the sign in add()."
    read_result, edit_result = (r.tool_results()[0] for r in fake_api.requests[1:3])
    assert "return a - b" in json.dumps(read_result) and not read_result.get("is_error")
    assert not edit_result.get("is_error")
    assert fake_api.validation_errors == []


def test_edit_without_permission_is_denied_and_the_file_is_unchanged(fake_api, project):
    (project / "notes.txt").write_text("old\n")
    fake_api.script(
        tool_reply(("Edit", {"file_path": "notes.txt", "old_string": "old", "new_string": "new"})),
        text_reply("I could not edit it."),
    )
    done = run_agent(fake_api, project, "-p", "change notes")
    assert done.returncode == 0, done.stderr
    assert (project / "notes.txt").read_text() == "old\n"
    result = fake_api.requests[1].tool_results()[0]
    assert result["is_error"] is True


def test_creates_a_durable_cron_through_cron_create(fake_api, project):
    fake_api.script(
        tool_reply(("CronCreate", {"cron": "23 9 * * 1-5", "prompt": "summarise new issues", "durable": True})),
        text_reply("Scheduled."),
    )
    done = run_agent(fake_api, project, "-p", "every weekday at 9:23 summarise new issues, keep it")
    assert done.returncode == 0, done.stderr
    tasks = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    assert [(t["cron"], t["prompt"], t["recurring"]) for t in tasks] == [
        ("23 9 * * 1-5", "summarise new issues", True)]
    assert "durable" not in tasks[0]
    result = json.loads(fake_api.requests[1].tool_result_texts()[0])
    assert result["id"] == tasks[0]["id"] and result["durable"] is True
    assert result["humanSchedule"] == "Weekdays at 9:23 AM" and result["nextFireAt"]


def test_session_only_cron_create_is_refused_in_headless_mode_with_a_hint(fake_api, project):
    fake_api.script(
        tool_reply(("CronCreate", {"cron": "*/7 * * * *", "prompt": "ping"})),
        text_reply("ok"),
    )
    done = run_agent(fake_api, project, "-p", "ping every 7 minutes")
    assert done.returncode == 0, done.stderr
    result = fake_api.requests[1].tool_results()[0]
    assert result["is_error"] is True and "durable: true" in json.dumps(result)
    assert not (project / ".claude" / "scheduled_tasks.json").exists()


def test_meets_one_529_and_still_succeeds(fake_api, project):
    fake_api.script(overloaded_reply(retry_after=0), text_reply("after the storm"))
    done = run_agent(fake_api, project, "-p", "hello")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "after the storm"
    assert [r.status for r in fake_api.all_requests] == [529, 200]


@pytest.mark.parametrize("clean_end", [False, True], ids=["connection-dropped", "body-ended"])
def test_json_answer_cut_right_after_message_start_is_retried_not_taken_as_empty(fake_api, project, clean_end):
    fake_api.script(dropped_after("message_start", text_reply("the real answer"), clean_end=clean_end),
                    text_reply("the real answer"))
    done = run_agent(fake_api, project, "-p", "hello", "--output-format", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["result"] == "the real answer" and out["is_error"] is False and out["stop_reason"] == "end_turn"
    assert [r.outcome for r in fake_api.requests] == ["ended_early" if clean_end else "dropped", "complete"]


def test_401_exits_1_with_a_message_naming_the_key_variable_and_no_traceback(fake_api, project):
    fake_api.set_default(error_reply(401))
    done = run_agent(fake_api, project, "-p", "hello")
    assert done.returncode == 1
    assert "ANTHROPIC_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr.strip().splitlines()) == 1
    assert "test-key" not in done.stderr


def test_bash_is_denied_under_p_without_an_allow_rule_and_the_model_is_told(fake_api, project):
    fake_api.script(tool_reply(("Bash", {"command": "touch made-by-bash"})), text_reply("denied, stopping"))
    done = run_agent(fake_api, project, "-p", "make a file")
    assert done.returncode == 0, done.stderr
    assert not (project / "made-by-bash").exists()
    result = fake_api.requests[1].tool_results()[0]
    text = json.dumps(result)
    assert result["is_error"] is True and "permissions.allow" in text and "Bash(touch" in text


def test_bash_runs_under_p_when_allowed_by_flag(fake_api, project):
    fake_api.script(tool_reply(("Bash", {"command": "touch made-by-bash"})), text_reply("done"))
    done = run_agent(fake_api, project, "-p", "make a file", "--allowedTools", "Bash(touch:*)")
    assert done.returncode == 0, done.stderr
    assert (project / "made-by-bash").exists()


def test_json_output_parses_and_its_usage_matches_what_the_server_sent(fake_api, project):
    usage_a = {"input_tokens": 1200, "output_tokens": 40, "cache_read_input_tokens": 300,
               "cache_creation_input_tokens": 50}
    usage_b = {"input_tokens": 1300, "output_tokens": 60, "cache_read_input_tokens": 900,
               "cache_creation_input_tokens": 0}
    (project / "a.txt").write_text("alpha\n")
    fake_api.script(tool_reply(("Read", {"file_path": "a.txt"}), usage=usage_a),
                    text_reply("alpha it is", usage=usage_b))
    done = run_agent(fake_api, project, "-p", "what is in a.txt", "--output-format", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["result"] == "alpha it is" and out["is_error"] is False
    assert out["num_turns"] == 2 and out["duration_ms"] >= 0 and out["session_id"]
    assert {k: out["usage"][k] for k in usage_a} == {k: usage_a[k] + usage_b[k] for k in usage_a}
    # claude-sonnet-4-6: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million tokens.
    expected = (2500 * 3 + 100 * 15 + 1200 * 0.30 + 50 * 3.75) / 1e6
    assert out["total_cost_usd"] == pytest.approx(expected)


def test_stream_json_prints_one_message_per_line_from_init_to_the_result(fake_api, project):
    fake_api.script(text_reply("streamed answer"))
    done = run_agent(fake_api, project, "-p", "hi", "--output-format", "stream-json", "--verbose")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    types = [e["type"] for e in events]
    assert types == ["system", "assistant", "result"]
    assert events[1]["message"]["content"] == [{"type": "text", "text": "streamed answer"}]
    assert events[-1]["result"] == "streamed answer"


def test_prompt_from_stdin_when_piped(fake_api, project):
    fake_api.script(text_reply("reviewed"))
    done = run_agent(fake_api, project, "-p", "review this", stdin="diff --git a/x b/x\n+new line\n")
    assert done.returncode == 0, done.stderr
    prompt = fake_api.requests[0].turn_prompt()
    assert "review this" in prompt and "+new line" in prompt


def test_max_turns_stops_the_loop_and_exits_1(fake_api, project):
    fake_api.set_default(tool_reply(("Glob", {"pattern": "*"})))
    done = run_agent(fake_api, project, "-p", "loop forever", "--max-turns", "2")
    assert done.returncode == 1
    assert len(fake_api.requests) == 2
    assert "max-turns" in done.stderr


def test_missing_prompt_is_a_usage_error(fake_api, project):
    done = run_agent(fake_api, project, "-p")
    assert done.returncode == 2
    assert "needs a prompt" in done.stderr and "Traceback" not in done.stderr


def test_bad_settings_file_gives_one_clear_line(fake_api, project):
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text("{not json")
    done = run_agent(fake_api, project, "-p", "hi")
    assert done.returncode == 1
    assert "settings.json is not valid JSON" in done.stderr and "Traceback" not in done.stderr
