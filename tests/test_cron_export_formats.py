"""`agent cron export` renderers: golden files per format, same input same bytes, and hostile prompts
arriving intact through each target's own unquoting (cron's %, sh, systemd, Kubernetes, GitHub)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from agent.export.calendar import ExportError
from agent.export.formats import agent_args, render, render_crontab
from tests.export_support import ISOLATED, TASKS, context, cron_command, k8s_expand, systemd_words

GOLDEN = Path(__file__).parent / "data" / "export"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def all_files(fmt: str) -> list[tuple[str, str]]:
    if fmt == "crontab":
        return render_crontab(TASKS, context())
    tasks = [*TASKS, ISOLATED] if fmt == "github-actions" else TASKS
    return [file for task in tasks for file in render(fmt, task, context())[0]]


@pytest.mark.parametrize("fmt", ["crontab", "systemd", "kubernetes", "github-actions"])
def test_each_format_matches_its_golden_files_byte_for_byte(fmt: str) -> None:
    files = all_files(fmt)
    folder = GOLDEN / fmt
    if UPDATE:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, text in files:
            (folder / name).write_bytes(text.encode())
    assert sorted(name for name, _ in files) == sorted(p.name for p in folder.iterdir())
    for name, text in files:
        assert text.encode() == (folder / name).read_bytes(), f"{fmt}/{name} differs from the golden file"


@pytest.mark.parametrize("fmt", ["crontab", "systemd", "kubernetes", "github-actions"])
def test_the_same_input_gives_the_same_bytes(fmt: str) -> None:
    assert all_files(fmt) == all_files(fmt)


def fake_agent(folder: Path) -> Path:
    """An `agent` that writes its arguments as JSON to stdout."""
    script = folder / "agent"
    script.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_a_hostile_prompt_survives_cron_and_the_shell(tmp_path: Path) -> None:
    project = tmp_path / "it's a 100% project"
    project.mkdir()
    (tmp_path / "env").write_text("ANTHROPIC_API_KEY=sk-test\n")
    ctx = context(project=str(project), agent_argv=(str(fake_agent(tmp_path)),), env_file=str(tmp_path / "env"),
                  log_dir=str(tmp_path / "logs"))
    text = render_crontab(TASKS, ctx)[0][1]
    lines = [line for line in text.splitlines() if line and not line.startswith(("#", "CRON_TZ="))]
    assert len(lines) == len(TASKS)
    for task, line in zip(TASKS, lines, strict=True):
        assert "\n" not in line
        subprocess.run(["/bin/sh", "-c", cron_command(line)], check=True, timeout=30)
        log = tmp_path / "logs" / f"agent-task-{task.id}.log"
        assert json.loads(log.read_text().splitlines()[-1]) == agent_args(task)


def test_every_job_runs_agent_cron_run_and_never_puts_the_prompt_on_a_command_line() -> None:
    for fmt in ("crontab", "systemd", "kubernetes", "github-actions"):
        for name, text in all_files(fmt):
            commands = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
            assert "second line" not in "\n".join(commands), f"{fmt}/{name} carries the prompt"
    assert agent_args(TASKS[0]) == ["cron", "run", "1a2b3c4d"]


def test_each_target_carries_the_run_time_limit() -> None:
    from dataclasses import replace

    task = replace(TASKS[1], timeout_s=600, retry_attempts=4)
    service = dict(render("systemd", task, context())[0])["agent-task-5e6f7a8b.service"]
    assert "Type=exec\n" in service and "RuntimeMaxSec=720\n" in service  # the run's 600 s plus 120 s
    job = yaml.safe_load(render("kubernetes", task, context())[0][0][1])["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 720 and job["backoffLimit"] == 4
    rule = job["podFailurePolicy"]["rules"][0]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [1, 2, 3]
    workflow = yaml.safe_load(render("github-actions", task, context())[0][0][1])
    assert workflow["jobs"]["run"]["timeout-minutes"] == 17  # 720 s of run and 300 s of setting up


def exec_start(unit: str) -> str:
    return next(line for line in unit.splitlines() if line.startswith("ExecStart="))[len("ExecStart="):]


def test_a_hostile_prompt_survives_systemd_unquoting() -> None:
    service = dict(render("systemd", TASKS[0], context())[0])["agent-task-1a2b3c4d.service"]
    assert systemd_words(exec_start(service)) == ["/usr/local/bin/agent", *agent_args(TASKS[0])]
    assert all("\n" not in line or False for line in service.splitlines())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_accepts_the_units_without_warnings(tmp_path: Path) -> None:
    ctx = context(project=str(tmp_path), agent_argv=("/bin/true",), env_file=str(tmp_path / "env"))
    (tmp_path / "env").write_text("")
    for task in TASKS:
        for name, text in render("systemd", task, ctx)[0]:
            (tmp_path / name).write_text(text)
    run = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.glob("agent-task-*"))],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "agent-task" not in run.stderr, run.stderr  # no "Ignoring unknown escape sequences" and the like


def test_a_hostile_prompt_survives_yaml_and_kubernetes_expansion() -> None:
    document = yaml.safe_load(render("kubernetes", TASKS[0], context())[0][0][1])
    container = document["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["sh", "-c"]
    [script] = [k8s_expand(arg) for arg in container["args"]]
    # the pod trusts its own checkout first (its trust store starts empty), then runs the task by id only
    assert script == f"agent trust . >/dev/null && exec agent {' '.join(agent_args(TASKS[0]))}"


def test_the_cronjob_has_the_fields_kubernetes_needs() -> None:
    document = yaml.safe_load(render("kubernetes", TASKS[1], context())[0][0][1])
    assert (document["apiVersion"], document["kind"]) == ("batch/v1", "CronJob")
    spec = document["spec"]
    assert spec["schedule"] == "0 8-18/2 * * *" and spec["timeZone"] == "Europe/Berlin"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 60  # catchUp skip: a late start is dropped
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["image"] == "registry.example/agent-project:1"
    assert container["env"] == [{"name": "ANTHROPIC_API_KEY",
                                 "valueFrom": {"secretKeyRef": {"name": "agent-anthropic", "key": "api-key"}}}]
    assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]["cpu"]
    latest = yaml.safe_load(render("kubernetes", TASKS[0], context())[0][0][1])
    assert latest["spec"]["startingDeadlineSeconds"] == 3600  # catchUp latest: the interval, at most an hour


_DISCOVERY = {  # just enough API discovery for kubectl to map the CronJob kind, as a cluster would
    "/api": {"kind": "APIVersions", "versions": ["v1"]},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{
        "name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}}]},
    "/apis/batch/v1": {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "batch/v1", "resources": [
        {"name": "cronjobs", "singularName": "cronjob", "namespaced": True, "kind": "CronJob",
         "verbs": ["create", "get", "list"]}]},
}


class _Discovery(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        document = _DISCOVERY.get(self.path.split("?")[0])
        body = json.dumps(document).encode()
        self.send_response(200 if document else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) if document else 0))
        self.end_headers()
        if document:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def kubeconfig(tmp_path: Path):
    """A kubeconfig for a loopback server that answers kubectl's discovery requests (and nothing else)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Discovery)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "namespace": "default", "user": "u"}}],
        "users": [{"name": "u", "user": {}}]}))
    yield path
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.id)
def test_kubectl_reads_the_cronjob_as_written(tmp_path: Path, kubeconfig: Path, task) -> None:
    text = render("kubernetes", task, context())[0][0][1]
    (tmp_path / "job.yaml").write_text(text)
    run = subprocess.run(["kubectl", "create", "--dry-run=client", "--validate=false", "-o", "json",
                          "--cache-dir", str(tmp_path / "kube-cache"),
                          "-f", str(tmp_path / "job.yaml")], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": str(kubeconfig)})
    assert run.returncode == 0, run.stderr
    created = json.loads(run.stdout)
    expected = yaml.safe_load(text)
    expected["metadata"]["namespace"] = "default"
    assert created == expected  # Go's YAML reader sees what we wrote, the hostile prompt included


def workflow(task) -> dict:
    return yaml.safe_load(render("github-actions", task, context(image=None))[0][0][1])


def test_the_workflow_run_step_runs_the_task_from_the_checkout(tmp_path: Path) -> None:
    steps = workflow(TASKS[0])["jobs"]["run"]["steps"]
    run = next(step for step in steps if step.get("name") == "Run the task")
    assert run["env"] == {"ANTHROPIC_API_KEY": "${{ secrets.ANTHROPIC_API_KEY }}"}
    assert "${{" not in run["run"]
    fake_agent(tmp_path)
    env = {**os.environ, **run["env"], "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", run["run"]], env=env, capture_output=True, text=True, timeout=30)
    assert json.loads(done.stdout) == agent_args(TASKS[0])


def test_the_workflow_has_least_permissions_and_no_pull_request_without_isolation() -> None:
    document = workflow(TASKS[0])
    assert document["permissions"] == {"contents": "read"}
    assert not any("pull request" in str(step.get("name", "")) for step in document["jobs"]["run"]["steps"])
    assert document["on"]["schedule"] == [{"cron": "30 8 * * 1-5"}]  # 09:30 CET is 08:30 UTC


def test_an_isolated_task_runs_on_its_own_branch_and_opens_a_pull_request() -> None:
    document = workflow(ISOLATED)
    assert document["permissions"] == {"contents": "write", "pull-requests": "write"}
    names = [step.get("name") for step in document["jobs"]["run"]["steps"]]
    assert names.index("Start the run's branch") < names.index("Run the task") < names.index(
        "Open a pull request from the run's branch")
    steps = {step.get("name"): step for step in document["jobs"]["run"]["steps"]}
    assert 'branch="task/9c0d1e2f/' in steps["Start the run's branch"]["run"]
    assert "gh pr create" in steps["Open a pull request from the run's branch"]["run"]


def test_the_workflow_uses_the_image_as_its_container_when_given() -> None:
    document = yaml.safe_load(render("github-actions", TASKS[1], context())[0][0][1])
    assert document["jobs"]["run"]["container"] == {"image": "registry.example/agent-project:1"}
    assert not any("setup-python" in str(step.get("uses")) for step in document["jobs"]["run"]["steps"])


def test_isolation_is_refused_in_kubernetes_whose_pod_would_lose_the_branch() -> None:
    with pytest.raises(ExportError, match="own git worktree"):
        render("kubernetes", ISOLATED, context())


def test_isolation_runs_on_this_machine_in_crontab_and_systemd_as_in_the_daemon() -> None:
    assert "agent cron run 9c0d1e2f" in render_crontab([ISOLATED], context())[0][1]
    service = dict(render("systemd", ISOLATED, context())[0])["agent-task-9c0d1e2f.service"]
    assert '"cron" "run" "9c0d1e2f"' in service


def test_the_timer_keeps_catch_up_and_puts_systemd_jitter_in_place_of_ours() -> None:
    latest = dict(render("systemd", TASKS[0], context())[0])["agent-task-1a2b3c4d.timer"]
    skip = dict(render("systemd", TASKS[1], context())[0])["agent-task-5e6f7a8b.timer"]
    assert "Persistent=true" in latest and "Persistent=false" in skip
    assert "RandomizedDelaySec=900\nFixedRandomDelay=true" in latest
    assert "OnCalendar=Mon..Fri *-*-* 09:30:00 Europe/Berlin" in latest
    assert "OnCalendar=*-*-* 08,10,12,14,16,18:00:00 Europe/Berlin" in skip
