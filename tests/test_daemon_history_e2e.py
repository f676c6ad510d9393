"""`agent daemon` as an honest service: every fire recorded, retries, limits, pause, exit codes, signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from fake_api import child_env, overloaded_reply, stalled_reply, text_reply
from test_daemon_e2e import project_with_due_task, project_with_task, read_until, stop
from trust_support import trust_folder

from agent.cron.history import RunHistory, TaskState, history_path
from agent.cron.zone import local_zone


def state_env(api, project: Path, **extra: str) -> dict[str, str]:
    return child_env(api, home=project.parent / "home", XDG_STATE_HOME=str(project.parent / "state"),
                     AGENT_MAX_RETRIES="0", **extra)


def daemon(api, project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "agent", "daemon", "--cwd", str(project), *args],
                            env=env or state_env(api, project), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def cron_cli(api, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "cron", *args, "--cwd", str(project)],
                          env=state_env(api, project), capture_output=True, text=True, timeout=60)


def history(api, project: Path, *args: str) -> list[dict]:
    run = cron_cli(api, project, "history", "--json", *args)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def write_settings(project: Path, settings: dict) -> None:
    (project / ".claude" / "settings.json").write_text(json.dumps(settings))


def test_a_fire_is_recorded_with_its_usage_answer_transcript_and_process(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "4e510001", "check the deploy")
    fake_api.set_default(text_reply("deploy looks fine"))
    proc = daemon(fake_api, project)
    try:
        read_until(proc, "task 4e510001 done")
    finally:
        stop(proc)
    [run] = history(fake_api, project)
    assert run["taskId"] == "4e510001" and run["status"] == "ok" and run["prompt"] == "check the deploy"
    assert run["result"] == "deploy looks fine" and run["pid"] == proc.pid and run["requests"] == 1
    assert run["inputTokens"] > 0 and run["startedAt"] <= run["endedAt"] and run["scheduledAt"]
    transcript = [json.loads(line) for line in Path(run["transcript"]).read_text().splitlines()]
    assert transcript[-1]["role"] == "assistant"
    assert project not in Path(run["transcript"]).parents
    shown = cron_cli(fake_api, project, "show", run["runId"][:6])
    assert shown.returncode == 0 and "deploy looks fine" in shown.stdout and run["runId"] in shown.stdout


def test_a_transient_failure_is_retried_within_the_slot_and_counted_as_one_run(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "4e510002", "check")
    write_settings(project, {"cron": {"retry": {"attempts": 2, "backoffS": 0.05}}})
    fake_api.script(overloaded_reply(), text_reply("fine the second time"))
    proc = daemon(fake_api, project)
    try:
        out = read_until(proc, "task 4e510002 done")
    finally:
        stop(proc)
    assert "attempt 1 failed" in out and "retrying in" in out
    [run] = history(fake_api, project)
    assert run["status"] == "ok" and run["attempts"] == 2


def test_a_paused_task_is_recorded_paused_and_not_run(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "4e510003", "check")
    db = RunHistory(history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")}))
    db.set_state(TaskState("4e510003", paused=True, paused_at=1, last_error="boom", consecutive_failures=3), 1)
    listed = json.loads(cron_cli(fake_api, project, "list", "--json").stdout)
    assert listed[0]["paused"] is True and listed[0]["lastError"] == "boom"
    proc = daemon(fake_api, project)
    try:
        read_until(proc, "task 4e510003 not run (paused)")
    finally:
        stop(proc)
    assert fake_api.requests == []
    assert [r["status"] for r in history(fake_api, project)] == ["paused"]
    resumed = cron_cli(fake_api, project, "resume", "4e510003")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(cron_cli(fake_api, project, "list", "--json").stdout)[0]["paused"] is False


def test_max_turns_of_a_task_stops_the_run_and_records_an_error(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "4e510004", "loop forever")
    tasks_file = project / ".claude" / "scheduled_tasks.json"
    data = json.loads(tasks_file.read_text())
    data["tasks"][0]["maxTurns"] = 1
    tasks_file.write_text(json.dumps(data))
    from fake_api import tool_reply

    fake_api.set_default(tool_reply(("Glob", {"pattern": "*"})))
    proc = daemon(fake_api, project)
    try:
        read_until(proc, "task 4e510004 failed (error)")
    finally:
        stop(proc)
    [run] = history(fake_api, project, "4e510004")
    assert run["status"] == "error" and "max-turns" in run["error"] and run["requests"] == 1


def test_without_credentials_the_daemon_exits_1_with_one_line_and_leaves_the_lock_alone(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "4e510005", "check")
    env = state_env(fake_api, project)
    env.pop("ANTHROPIC_API_KEY")
    done = subprocess.run([sys.executable, "-m", "agent", "daemon", "--cwd", str(project)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot serve" in done.stderr
    assert not (project / ".claude" / "scheduled_tasks.lock").exists()


def test_bad_usage_exits_2(fake_api, tmp_path):
    done = subprocess.run([sys.executable, "-m", "agent", "daemon", "--grace", "-1"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2


def test_sigterm_past_the_grace_period_records_the_run_interrupted(fake_api, tmp_path):
    project = project_with_due_task(tmp_path, "4e510006", "slow")
    fake_api.set_default(stalled_reply())
    log_file = tmp_path / "logs" / "daemon.log"
    proc = daemon(fake_api, project, "--grace", "0.3", "--log-file", str(log_file))
    try:
        read_until(proc, "running scheduled task 4e510006")
        fake_api.wait_for_requests(1, timeout=20)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "letting the running task finish" in out
    [run] = history(fake_api, project)
    assert run["status"] == "interrupted"
    logged = log_file.read_text()
    assert "running scheduled task 4e510006" in logged and "interrupted" in logged


def test_sighup_reloads_settings(fake_api, tmp_path):
    project = project_with_task(tmp_path, "4e510007", "check", age_ms=60_000, last_fired_ago_ms=None)
    (project / ".claude" / "scheduled_tasks.json").write_text('{"tasks": []}')
    proc = daemon(fake_api, project)
    try:
        read_until(proc, "holding the project lock")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        out = read_until(proc, "settings reloaded")
    finally:
        stop(proc)
    assert "SIGHUP" in out


def test_the_daemon_checks_for_gaps_at_start_up_and_alerts_each_once(fake_api, tmp_path):
    import sqlite3

    from test_notify import Receiver

    now = int(time.time() * 1000)
    # the last full hour of local time, where */30 matches (at :15 and :45 UTC in a +05:45 zone)
    this_hour = datetime.fromtimestamp(now / 1000, local_zone()).replace(minute=0, second=0, microsecond=0)
    hour = int(this_hour.timestamp() * 1000) - 3_600_000
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    task = {"id": "4e510008", "cron": "*/30 * * * *", "prompt": "check", "createdAt": hour - 1,
            "recurring": True, "lastFiredAt": now - 1000}
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": [task]}))
    path = history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")})
    RunHistory(path).close()
    sqlite3.connect(path, isolation_level=None).execute(
        "UPDATE meta SET value = ? WHERE key = 'recordingSince'", (str(hour - 3_600_000),))
    receiver = Receiver()
    write_settings(project, {"cron": {"notify": {"webhook": receiver.url}}})
    trust_folder(project, tmp_path / "state")  # a project's cron.notify applies only in a trusted folder
    try:
        proc = daemon(fake_api, project)
        try:
            out = read_until(proc, "gap: task 4e510008 has")
            deadline = time.monotonic() + 15
            while len(receiver.bodies) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop(proc)
    finally:
        receiver.close()
    assert "no agent process has recorded runs in this project" in out  # nothing in the history at all
    # the last full hour's two slots (:00 and :30), maybe one more of this hour, alerted each once
    slots = [b["expectedAt"] for b in receiver.bodies]
    assert {hour, hour + 1_800_000} <= set(slots) and len(set(slots)) == len(slots)
    assert all(b["event"] == "gap" and b["taskId"] == "4e510008" for b in receiver.bodies)
    assert "did not run when due" in receiver.bodies[0]["text"]


def test_a_missed_one_shot_is_recorded_skipped_with_the_reason(fake_api, tmp_path):
    project = project_with_task(tmp_path, "4e510009", "send the report", age_ms=600_000)
    proc = daemon(fake_api, project)
    try:
        read_until(proc, "missed one-shot 4e510009")
        deadline = time.monotonic() + 15
        while not history(fake_api, project) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop(proc)
    [run] = history(fake_api, project)
    assert run["status"] == "skipped" and "missed one-shot" in run["error"] and fake_api.requests == []


def test_a_second_daemon_says_who_holds_the_lock_while_it_waits(fake_api, tmp_path):
    project = project_with_task(tmp_path, "4e51000a", "check", age_ms=60_000)
    (project / ".claude" / "scheduled_tasks.json").write_text('{"tasks": []}')
    first = daemon(fake_api, project)
    try:
        read_until(first, "holding the project lock")
        second = daemon(fake_api, project)
        try:
            out = read_until(second, "another session holds the project lock")
        finally:
            stop(second)
    finally:
        stop(first)
    assert f"pid {first.pid}" in out


def test_a_task_created_by_a_scheduled_run_names_that_run_in_history(fake_api, tmp_path):
    from fake_api import tool_reply

    project = project_with_due_task(tmp_path, "4e51000c", "set up the nightly report")
    write_settings(project, {"permissions": {"allow": ["CronCreate"]}})
    trust_folder(project, tmp_path / "state")  # a project's allow rules apply once it is trusted
    fake_api.script(tool_reply(("CronCreate", {"cron": "0 2 * * *", "prompt": "nightly report", "durable": True})),
                    text_reply("scheduled the nightly report"))
    proc = daemon(fake_api, project)
    try:
        read_until(proc, "task 4e51000c done")
    finally:
        stop(proc)
    [run] = history(fake_api, project)
    tasks = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    [created] = [t for t in tasks if t["prompt"] == "nightly report"]
    assert created["createdByRun"] == run["runId"]
