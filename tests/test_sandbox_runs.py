"""The sandbox in real runs of `agent daemon` and `agent -p` (the fake Messages API scripts the model).

Scheduled runs are sandboxed by default, with autoAllowBashIfSandboxed: a task can run a command
without an allow rule, and the command still cannot write outside its folder. In `agent -p` the sandbox
is off unless settings turn it on; a command that asks to leave it is refused, there being nobody to ask.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_api import child_env, text_reply, tool_reply
from test_daemon_e2e import project_with_due_task, read_until, start_daemon, stop

from agent.permissions.sandbox.runner import SandboxRunner
from agent.settings import Settings


@pytest.fixture(autouse=True)
def needs_a_backend(tmp_path: Path) -> None:
    runner = SandboxRunner.from_settings(tmp_path, Settings())
    if runner.backend is None:
        pytest.skip(f"no sandbox backend here: {runner.unavailable_reason()}")


def test_a_scheduled_run_runs_commands_sandboxed_without_an_allow_rule(fake_api, tmp_path: Path) -> None:
    project = project_with_due_task(tmp_path, "5a0d0001", "run the tests")
    escaped = tmp_path / "escaped"
    fake_api.script(tool_reply(("Bash", {"command": f"touch built && touch {escaped}"})), text_reply("done"))
    proc = start_daemon(fake_api, project)
    try:
        read_until(proc, "task 5a0d0001 done")
    finally:
        stop(proc)
    assert (project / "built").exists() and not escaped.exists()
    result = fake_api.requests[1].tool_results()[0]
    assert "The sandbox may have blocked this" in json.dumps(result)


def run_p(api, project: Path, prompt: str = "go") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "-p", prompt, "--cwd", str(project)],
                          env=child_env(api, home=project.parent / "home"), capture_output=True, text=True,
                          timeout=60)


def sandbox_settings(project: Path, **block) -> None:
    (project / ".claude").mkdir(parents=True, exist_ok=True)
    (project / ".claude" / "settings.json").write_text(json.dumps({"sandbox": {"enabled": True, **block}}))


def test_p_with_the_sandbox_on_runs_a_command_without_a_rule_and_hides_the_key(fake_api, tmp_path: Path) -> None:
    project = tmp_path / "project"
    sandbox_settings(project)
    fake_api.script(tool_reply(("Bash", {"command": "echo key=[$ANTHROPIC_API_KEY] > out.txt; cat out.txt"})),
                    text_reply("ok"))
    done = run_p(fake_api, project)
    assert done.returncode == 0, done.stderr
    assert (project / "out.txt").read_text() == "key=[]\n"
    assert not fake_api.requests[1].tool_results()[0].get("is_error")


def test_p_refuses_a_command_that_asks_to_leave_the_sandbox(fake_api, tmp_path: Path) -> None:
    project = tmp_path / "project"
    sandbox_settings(project)
    fake_api.script(tool_reply(("Bash", {"command": "touch outside-the-sandbox",
                                         "dangerouslyDisableSandbox": True})), text_reply("could not"))
    run_p(fake_api, project)
    assert not (project / "outside-the-sandbox").exists()
    result = fake_api.requests[1].tool_results()[0]
    assert result["is_error"] is True and "outside the sandbox" in json.dumps(result)


def test_p_without_sandbox_settings_asks_as_before(fake_api, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    fake_api.script(tool_reply(("Bash", {"command": "touch made"})), text_reply("could not"))
    run_p(fake_api, project)
    assert not (project / "made").exists()
