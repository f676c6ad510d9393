"""`agent -p --input-format stream-json`: user messages as JSON lines on stdin, one turn each, while the
scheduler fires due durable tasks between them."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_api import child_env, overloaded_reply, text_reply
from test_daemon_e2e import project_with_due_task
from test_headless_e2e import run_agent

from agent.cli.stream_input import BadMessage, message_text

STREAM = ("-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose")


def user_line(content) -> str:
    return json.dumps({"type": "user", "message": {"role": "user", "content": content}}) + "\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def test_message_text_takes_a_string_or_text_blocks_and_refuses_anything_else():
    assert message_text(user_line("hi")) == "hi"
    assert message_text(user_line([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])) == "a\n\nb"
    for bad in ("not json", '{"type": "assistant", "message": {}}', user_line(42), user_line("  ")):
        with pytest.raises(BadMessage):
            message_text(bad)


def test_each_stdin_message_is_one_turn_of_the_same_conversation(fake_api, project):
    fake_api.script(text_reply("first answer"), text_reply("second answer"))
    done = run_agent(fake_api, project, *STREAM, stdin=user_line("question one") + user_line("question two"))
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    # Claude Code (tests/data/claude_code/07_streamin) starts each turn with its own system/init line
    assert [m["type"] for m in out] == ["system", "assistant", "result", "system", "assistant", "result"]
    assert [m["result"] for m in out if m["type"] == "result"] == ["first answer", "second answer"]
    second = json.dumps(fake_api.requests[1].body["messages"])
    assert "question one" in second and "first answer" in second and "question two" in second
    assert len({m["session_id"] for m in out}) == 1


def test_a_bad_line_gets_an_error_result_and_the_next_message_still_runs(fake_api, project):
    fake_api.script(text_reply("fine"))
    done = run_agent(fake_api, project, *STREAM, stdin="{oops\n" + user_line("good one"))
    assert done.returncode == 1
    results = [json.loads(line) for line in done.stdout.splitlines() if '"result"' in line]
    results = [r for r in results if r["type"] == "result"]
    assert results[0]["is_error"] is True and "stdin line 1" in results[0]["result"]
    assert results[1]["is_error"] is False and results[1]["result"] == "fine"


def test_input_stream_needs_stream_json_output(fake_api, project):
    done = run_agent(fake_api, project, "-p", "--input-format", "stream-json", stdin=user_line("x"))
    assert done.returncode == 2 and "needs --output-format stream-json" in done.stderr


def test_a_due_durable_task_fires_between_messages_while_stdin_stays_open(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "5e1f0001", "check the deploy")
    fake_api.when(lambda r: "check the deploy" in r.turn_prompt(), text_reply("deploy fine"))
    fake_api.set_default(text_reply("hello back"))
    lines = run_stream_until(fake_api, project, tmp_path, "deploy fine", then=("hello again",))
    results = [m["result"] for m in lines if m["type"] == "result"]
    assert sorted(results) == ["deploy fine", "hello back", "hello back"]
    scheduled = [r for r in fake_api.requests if "started automatically" in r.turn_prompt()]
    assert len(scheduled) == 1


def run_stream_until(fake_api, project: Path, tmp_path: Path, wanted_result: str,
                     then: tuple[str, ...] = ()) -> list[dict]:
    """A stream-json session that says hello, waits for `wanted_result`, sends `then`, closes stdin."""
    env = child_env(fake_api, home=tmp_path / "home", XDG_STATE_HOME=str(tmp_path / "state"),
                    AGENT_MAX_RETRIES="0")
    proc = subprocess.Popen([sys.executable, "-m", "agent", "--cwd", str(project), *STREAM], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[dict] = []
    seen = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(json.loads(line))
            if lines[-1].get("result") == wanted_result:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.stdin.write(user_line("hello"))
        proc.stdin.flush()
        assert seen.wait(30), lines
        for message in then:
            proc.stdin.write(user_line(message))
        proc.stdin.close()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(10)
    assert proc.returncode == 0, proc.stderr.read()
    return lines


def recorded_runs(project: Path, tmp_path: Path) -> list:
    from agent.cron.history import RunHistory, history_path

    db = RunHistory(history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")}))
    try:
        return db.runs()
    finally:
        db.close()


def test_a_fire_in_a_stream_json_session_is_recorded_in_the_run_history(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "5e1f0002", "check the deploy")
    fake_api.when(lambda r: "check the deploy" in r.turn_prompt(), text_reply("deploy fine"))
    fake_api.set_default(text_reply("hello back"))
    run_stream_until(fake_api, project, tmp_path, "deploy fine")
    [run] = recorded_runs(project, tmp_path)
    assert (run.task_id, run.status, run.source, run.result) == ("5e1f0002", "ok", "stream-json", "deploy fine")
    assert run.requests == 1 and run.input_tokens > 0 and run.ended_at >= run.started_at


def test_a_transient_failure_of_a_stream_json_fire_is_retried_as_one_run(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "5e1f0003", "check the deploy")
    (project / ".claude" / "settings.json").write_text(json.dumps({"cron": {"retry": {"attempts": 2,
                                                                                      "backoffS": 0.05}}}))
    fake_api.when(lambda r: "check the deploy" in r.turn_prompt(), overloaded_reply(), times=1)
    fake_api.when(lambda r: "check the deploy" in r.turn_prompt(), text_reply("fine the second time"))
    fake_api.set_default(text_reply("hello back"))
    lines = run_stream_until(fake_api, project, tmp_path, "fine the second time")
    [run] = recorded_runs(project, tmp_path)
    assert (run.status, run.attempts, run.result) == ("ok", 2, "fine the second time")
    results = [m for m in lines if m["type"] == "result"]
    assert [r["is_error"] for r in results if "hello" not in r["result"]] == [True, False]


def test_a_fire_in_a_live_session_is_stopped_at_its_time_limit_and_recorded_timeout(fake_api, tmp_path):
    """The wall-clock limit of a run (`cron.runTimeoutS`, `timeoutS`) holds in a live session as in the
    daemon: a fire whose model call outlives it is stopped, recorded `timeout`, and the session goes on."""
    project = project_with_due_task(tmp_path, "5e1f0009", "check the deploy")
    (project / ".claude" / "settings.json").write_text(json.dumps({"cron": {"runTimeoutS": 1.5}}))
    fake_api.when(lambda r: "check the deploy" in r.turn_prompt(), text_reply("too late", delay_s=20), times=1)
    fake_api.set_default(text_reply("still here"))
    env = child_env(fake_api, home=tmp_path / "home", XDG_STATE_HOME=str(tmp_path / "state"),
                    AGENT_MAX_RETRIES="0")
    proc = subprocess.Popen([sys.executable, "-m", "agent", "--cwd", str(project), *STREAM], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started, runs = time.monotonic(), []
        while time.monotonic() - started < 20 and not [r for r in runs if r.status == "timeout"]:
            time.sleep(0.2)
            runs = recorded_runs(project, tmp_path)
        stopped_after = time.monotonic() - started
        out, _ = proc.communicate(user_line("are you there?"), timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    [run] = runs
    assert (run.task_id, run.status) == ("5e1f0009", "timeout")
    assert "time limit of 1.5 s" in (run.error or "")
    assert stopped_after < 15  # stopped at its limit, not when the model call ended (20 s)
    assert [json.loads(line).get("result") for line in out.splitlines()][-1] == "still here"
