"""The sandbox's network end to end, in real child processes with the fake Messages API: a headless
`agent -p` run and an `agent daemon` fire. Allowed loopback domains are reached through the proxy; an
unlisted one is refused, the model is told which host and how to allow it, and the refusal is recorded
naming the domain: in the -p result's permission_denials and in the scheduled run's record."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_api import FakeAnthropic, child_env, text_reply, tool_reply
from network_support import http_server
from test_daemon_e2e import project_with_due_task, read_until, stop
from trust_support import trust_folder

from agent.permissions.sandbox.backends import BACKENDS


def _sandbox_available() -> bool:
    return shutil.which("curl") is not None and any(backend().probe().available for backend in BACKENDS)


pytestmark = pytest.mark.skipif(not _sandbox_available(), reason="no sandbox backend (or no curl) here")


def curl(port: int, host: str) -> tuple[str, dict[str, str]]:
    return "Bash", {"command": f"curl -sS --max-time 10 http://{host}:{port}/ ; true"}


def write_settings(project: Path, settings: dict, state_home: Path | None = None) -> None:
    """The project's settings, in a folder the user trusts (allowed domains from an untrusted folder's
    files are ignored: tests/test_trust_gate.py)."""
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "settings.json").write_text(json.dumps(settings))
    trust_folder(project, state_home)


def test_headless_p_refuses_an_unlisted_domain_and_lists_it_in_permission_denials(fake_api: FakeAnthropic,
                                                                                   tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    write_settings(project, {"sandbox": {"enabled": True, "network": {"allowedDomains": ["127.0.0.1"]}}})
    with http_server("inside") as (port, seen):
        fake_api.script(tool_reply(curl(port, "127.0.0.1")), tool_reply(curl(port, "localhost")),
                        text_reply("done"))
        done = subprocess.run(
            [sys.executable, "-m", "agent", "--cwd", str(project), "-p", "fetch it", "--output-format", "json"],
            capture_output=True, text=True, timeout=120, env=child_env(fake_api, home=tmp_path / "home"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    [denial] = result["permission_denials"]
    assert denial["tool_name"] == "Bash" and denial["domain"] == "localhost"
    assert "localhost" in denial["tool_input"]["command"]
    allowed_result, refused_result = (request.tool_result_texts()[0] for request in fake_api.requests[1:3])
    assert "hello from inside" in allowed_result and "(sandboxed)" not in allowed_result
    assert f"network access to localhost:{port} refused by the sandbox" in refused_result
    assert 'sandbox.network.allowedDomains: "localhost"' in refused_result
    assert len(seen.paths) == 1  # only the allowed request reached the server


def test_a_scheduled_run_is_sandboxed_by_default_and_records_the_refused_domain(fake_api: FakeAnthropic,
                                                                                tmp_path: Path) -> None:
    project = project_with_due_task(tmp_path, "4e5a0001", "fetch the status")
    write_settings(project, {"sandbox": {"network": {"allowedDomains": ["localhost"]}}},  # enabled: default
                   tmp_path / "state")
    env = child_env(fake_api, home=tmp_path / "home", XDG_STATE_HOME=str(tmp_path / "state"),
                    AGENT_MAX_RETRIES="0")
    with http_server("scheduled") as (port, seen):
        fake_api.script(tool_reply(curl(port, "localhost")), tool_reply(curl(port, "127.0.0.1")),
                        text_reply("status fetched"))
        proc = subprocess.Popen([sys.executable, "-m", "agent", "daemon", "--cwd", str(project)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            read_until(proc, "running scheduled task 4e5a0001")
            ended = ""
            while " done " not in ended and " failed " not in ended:  # the run's last line (gap lines come first)
                ended = read_until(proc, "task 4e5a0001 ").splitlines()[-1]
        finally:
            stop(proc)
    runs = json.loads(subprocess.run(
        [sys.executable, "-m", "agent", "cron", "history", "--json", "--cwd", str(project)],
        env=env, capture_output=True, text=True, timeout=60).stdout)
    [run] = runs
    [denial] = run["denials"]
    assert denial["tool"] == "Bash" and denial["domain"] == "127.0.0.1"
    assert "127.0.0.1" in denial["reason"] and "allowedDomains" in denial["rule"]
    assert "hello from scheduled" in fake_api.requests[1].tool_result_texts()[0]
    assert len(seen.paths) == 1
