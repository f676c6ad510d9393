"""`agent daemon` end to end: a real process serves due durable tasks through the fake Messages API."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from fake_api import child_env, text_reply, tool_reply
from sched_helpers import due_hourly
from trust_support import trust_folder


def write_tasks(project: Path, tasks: list[dict]) -> None:
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": tasks}, indent=2))


def project_with_due_task(tmp_path: Path, task_id: str, prompt: str) -> Path:
    """A project whose tasks file holds one recurring task that is due now and only now (`due_hourly`)."""
    project = tmp_path / "project"
    project.mkdir()
    write_tasks(project, [{"id": task_id, "prompt": prompt, **due_hourly(int(time.time() * 1000))}])
    return project


def project_with_task(tmp_path: Path, task_id: str, prompt: str, *, age_ms: int,
                      last_fired_ago_ms: int | None = None) -> Path:
    """A project whose tasks file holds one every-minute task (recurring when it has fired before).

    A recurring one fires again at the turn of the minute: a test that counts runs or requests wants
    `project_with_due_task`."""
    project = tmp_path / "project"
    project.mkdir()
    now = int(time.time() * 1000)
    task = {"id": task_id, "cron": "* * * * *", "prompt": prompt, "createdAt": now - age_ms}
    if last_fired_ago_ms is not None:
        task.update(recurring=True, lastFiredAt=now - last_fired_ago_ms)
    write_tasks(project, [task])
    return project


def start_daemon(api, project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "daemon", "--cwd", str(project), *args],
        env=child_env(api, home=project.parent / "home"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    """stdout lines up to and including the first that contains `needle` (a reader thread, so a silent
    daemon cannot hang the test). The bound is generous: a daemon is up in 1.5 s on an idle machine but
    took 5.7 s on a busy 2-core one, and CI runs the suite in parallel on such a machine."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if needle in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), f"no {needle!r} in daemon output: {''.join(lines)}"
    return "".join(lines)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_daemon_runs_a_due_durable_task_as_a_scheduled_turn_and_exits_cleanly(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "da3e0001", "check the deploy")
    fake_api.set_default(text_reply("deploy looks fine"))
    proc = start_daemon(fake_api, project)
    try:
        out = read_until(proc, "task da3e0001 done")
    finally:
        rest, err = stop(proc)
    assert proc.returncode == 0, err
    assert "stopped" in rest
    request = fake_api.requests[0]
    prompt = request.turn_prompt()
    assert "check the deploy" in prompt and "started automatically" in prompt
    assert "deploy looks fine" in out and "da3e0001" in out
    task = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"][0]
    assert task["lastFiredAt"] > time.time() * 1000 - 60_000
    assert not (project / ".claude" / "scheduled_tasks.lock").exists()


def test_daemon_denies_tools_that_settings_do_not_allow(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "da3e0002", "clean up")
    # without the sandbox (on by default for scheduled runs: tests/test_sandbox_runs.py), only rules allow
    (project / ".claude" / "settings.json").write_text('{"sandbox": {"enabled": false}}')
    trust_folder(project)  # a project may switch the sandbox off only once trusted (tests/test_trust_gate.py)
    fake_api.script(tool_reply(("Bash", {"command": "touch cleaned"})), text_reply("could not"))
    proc = start_daemon(fake_api, project)
    try:
        read_until(proc, "task da3e0002 failed (denied)")
    finally:
        stop(proc)
    assert not (project / "cleaned").exists()
    assert fake_api.requests[1].tool_results()[0]["is_error"] is True


def test_daemon_reports_missed_one_shots_instead_of_running_them(fake_api, tmp_path):
    project = project_with_task(tmp_path, "da3e0003", "send the report", age_ms=600_000)
    proc = start_daemon(fake_api, project)
    try:
        deadline = time.monotonic() + 20
        path = project / ".claude" / "scheduled_tasks.json"
        while json.loads(path.read_text())["tasks"] and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # a few ticks: it must not fire
    finally:
        out, _ = stop(proc)
    assert fake_api.requests == []
    assert "missed one-shot da3e0003" in out and "send the report" in out



def test_daemon_exits_on_sigterm_that_arrives_mid_turn(fake_api, tmp_path):
    # SIGTERM while a scheduled turn streams: the cancelled worker wakes the scheduler as it is being
    # stopped. With asyncio.wait_for in the scheduler's sleep (Python < 3.12) that cancel was swallowed
    # and the daemon never exited.
    project = project_with_due_task(tmp_path, "da3e0004", "clean up")
    fake_api.script(tool_reply(("Bash", {"command": "touch cleaned"})), text_reply("could not"))
    proc = start_daemon(fake_api, project)
    try:
        fake_api.wait_for_requests(2, timeout=20)
    finally:
        out, err = stop(proc)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert not (project / ".claude" / "scheduled_tasks.lock").exists()
