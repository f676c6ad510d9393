"""`agent cron run ID`: one run as the daemon does it (wrapped prompt, retry, limits, budget, breaker,
history), its record as one JSON line, exit 0 ok / 1 failed / 3 skipped or paused."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from fake_api import overloaded_reply, stalled_reply, text_reply
from test_daemon_e2e import project_with_task
from test_daemon_history_e2e import history, state_env, write_settings

from agent.cron.history import RunHistory, TaskState, history_path


def cron_run(api, project: Path, task_id: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "cron", "run", task_id, "--cwd", str(project)],
                          env=state_env(api, project), capture_output=True, text=True, timeout=timeout)


def test_a_run_prints_its_record_as_one_json_line_and_is_in_the_history(fake_api, tmp_path):
    project = project_with_task(tmp_path, "c7a00001", "check the deploy", age_ms=3_600_000,
                                last_fired_ago_ms=600_000)
    before = (project / ".claude" / "scheduled_tasks.json").read_text()
    fake_api.set_default(text_reply("deploy fine"))
    started = int(time.time() * 1000)
    done = cron_run(fake_api, project, "c7a00001")
    ended = int(time.time() * 1000)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    record = json.loads(line)
    assert record["status"] == "ok" and record["result"] == "deploy fine" and record["source"] == "cron-run"
    # the cron slot: the minute the child read its clock in, between `started` and `ended` (this holds however
    # slowly the child exits; "within 61 s of the end" did not when it read the clock in a minute's last second)
    assert record["scheduledAt"] % 60_000 == 0 and started - started % 60_000 <= record["scheduledAt"] <= ended
    assert [r["runId"] for r in history(fake_api, project)] == [record["runId"]]
    prompt = fake_api.requests[0].turn_prompt()
    assert "check the deploy" in prompt and prompt != "check the deploy"  # wrapped as scheduled data
    assert (project / ".claude" / "scheduled_tasks.json").read_text() == before  # the file is not written


def test_a_transient_failure_is_retried_as_the_daemon_does(fake_api, tmp_path):
    project = project_with_task(tmp_path, "c7a00002", "check", age_ms=3_600_000, last_fired_ago_ms=600_000)
    write_settings(project, {"cron": {"retry": {"attempts": 2, "backoffS": 0.05}}})
    fake_api.script(overloaded_reply(), text_reply("fine the second time"))
    done = cron_run(fake_api, project, "c7a00002")
    record = json.loads(done.stdout)
    assert done.returncode == 0 and record["attempts"] == 2


def test_a_failed_run_exits_1_and_a_timeout_is_recorded(fake_api, tmp_path):
    project = project_with_task(tmp_path, "c7a00003", "slow", age_ms=3_600_000, last_fired_ago_ms=600_000)
    tasks_file = project / ".claude" / "scheduled_tasks.json"
    data = json.loads(tasks_file.read_text())
    data["tasks"][0]["timeoutS"] = 1
    tasks_file.write_text(json.dumps(data))
    fake_api.set_default(stalled_reply())
    done = cron_run(fake_api, project, "c7a00003")
    record = json.loads(done.stdout)
    assert done.returncode == 1 and record["status"] == "timeout"


def test_a_paused_task_exits_3_and_runs_nothing(fake_api, tmp_path):
    project = project_with_task(tmp_path, "c7a00004", "check", age_ms=3_600_000, last_fired_ago_ms=600_000)
    db = RunHistory(history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")}))
    db.set_state(TaskState("c7a00004", paused=True, paused_at=1, last_error="boom", consecutive_failures=3), 1)
    db.close()
    done = cron_run(fake_api, project, "c7a00004")
    assert done.returncode == 3 and json.loads(done.stdout)["status"] == "paused" and fake_api.requests == []


def test_an_unknown_task_is_a_usage_error(fake_api, tmp_path):
    project = project_with_task(tmp_path, "c7a00005", "check", age_ms=3_600_000, last_fired_ago_ms=600_000)
    done = cron_run(fake_api, project, "nosuch00")
    assert done.returncode == 2 and "no durable task nosuch00" in done.stderr and done.stdout == ""


def test_the_exported_crontab_line_run_under_env_i_records_its_run_in_the_history(fake_api, tmp_path):
    import shlex

    from export_support import cron_command

    project = project_with_task(tmp_path, "c7a00006", "check the deploy", age_ms=3_600_000,
                                last_fired_ago_ms=600_000)
    fake_api.set_default(text_reply("deploy fine, from cron"))
    env = state_env(fake_api, project, XDG_CONFIG_HOME=str(tmp_path / "config"))
    exported = subprocess.run([sys.executable, "-m", "agent", "cron", "export", "--format", "crontab",
                               "--timezone", "UTC", "--cwd", str(project)], env=env, capture_output=True, text=True,
                              timeout=60)
    assert exported.returncode == 0, exported.stderr
    [line] = [x for x in exported.stdout.splitlines() if x and not x.startswith(("#", "CRON_TZ="))]
    # what cron's environment lacks, the env file the job sources gives (as the export's header says)
    wanted = ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "NO_PROXY", "HOME", "XDG_STATE_HOME", "PYTHONPATH", "PATH")
    env_file = tmp_path / "config" / "agent" / "env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text("".join(f"{k}={shlex.quote(env[k])}\n" for k in wanted if k in env))
    ran = subprocess.run(["env", "-i", "/bin/sh", "-c", cron_command(line)], capture_output=True, text=True,
                         timeout=120)
    assert ran.returncode == 0, ran.stderr
    [run] = history(fake_api, project)
    assert run["taskId"] == "c7a00006" and run["status"] == "ok" and run["source"] == "cron-run"
    assert run["result"] == "deploy fine, from cron"
    logs = list((tmp_path / "state" / "agent" / "logs").glob("agent-task-c7a00006.log"))
    assert logs and json.loads(logs[0].read_text().splitlines()[-1])["runId"] == run["runId"]


def test_the_exported_workflow_trusts_its_checkout_so_the_repository_s_allow_rules_apply(fake_api, tmp_path):
    """A runner starts with an empty trust store: without the workflow's trust step the repository's
    `Edit` rule is ignored (the write is denied); with it, the run writes as the daemon of a user who
    trusts the folder would."""
    import os

    import yaml
    from fake_api import tool_reply

    project = project_with_task(tmp_path, "c7a00007", "write the report", age_ms=3_600_000,
                                last_fired_ago_ms=600_000)
    tasks_file = project / ".claude" / "scheduled_tasks.json"
    tasks_file.write_text(tasks_file.read_text().replace("* * * * *", "*/10 * * * *"))  # GitHub's 5-minute floor
    write_settings(project, {"permissions": {"allow": ["Edit"]}})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "agent").write_text(f'#!/bin/sh\nexec {sys.executable} -m agent "$@"\n')
    (bin_dir / "agent").chmod(0o755)
    env = state_env(fake_api, project, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    exported = subprocess.run([sys.executable, "-m", "agent", "cron", "export", "--format", "github-actions",
                               "--timezone", "UTC", "--cwd", str(project)], env=env, capture_output=True,
                              text=True, timeout=60)
    assert exported.returncode == 0, exported.stderr
    steps = {step.get("name"): step.get("run") for step in
             yaml.safe_load(exported.stdout)["jobs"]["run"]["steps"]}
    report = project / "report.txt"

    def run_steps(*names: str) -> dict:
        fake_api.script(tool_reply(("Write", {"file_path": str(report), "content": "all fine\n"})),
                        text_reply("written"))
        for name in names:
            subprocess.run(["bash", "-e", "-c", steps[name]], cwd=project, env=env, capture_output=True,
                           text=True, timeout=120)
        return history(fake_api, project)[0]

    assert run_steps("Run the task")["status"] == "denied" and not report.exists()
    assert run_steps("Trust the checkout (its .claude/settings.json rules apply)", "Run the task")["status"] == "ok"
    assert report.read_text() == "all fine\n"
