"""`agent cron export`: one scheduled task as files for crontab, systemd, Kubernetes or GitHub Actions.

Each renderer is a function of an `ExportTask` and an `ExportContext` (paths, zone, time, image) and
returns `(file name, text)` pairs: same input, same bytes. Every job runs `agent cron run ID` in the
project folder: one run exactly as `agent daemon` makes it (the prompt from the tasks file wrapped as
scheduled data, retry, maxTurns, maxTokensPerRun, the time limit, budgets, breaker, alerts, history),
so the permission rules of the project's `.claude/settings.json` (which travels with the repository)
apply. Each job also carries the limits its target has: Kubernetes `activeDeadlineSeconds`,
`startingDeadlineSeconds` and `backoffLimit`, systemd `RuntimeMaxSec=`, GitHub Actions `timeout-minutes`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import yaml

from agent.cron.expr import CronExpr, describe_cron
from agent.export.calendar import ExportError, normalized_cron, systemd_calendar
from agent.export.quote import comment_text, cron_escape, sh_quote, sh_word, systemd_quote
from agent.export.utc import utc_schedule

__all__ = ["K8S_PROJECT_DIR", "K8S_SECRET", "ExportContext", "ExportTask", "agent_args", "render"]

K8S_PROJECT_DIR = "/project"  # where the image holds the project checkout
K8S_SECRET = ("agent-anthropic", "api-key")  # Secret name and key holding ANTHROPIC_API_KEY
K8S_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
K8S_SKIP_DEADLINE_S = 60  # catchUp "skip": a start later than this after the slot is dropped
MAX_START_DEADLINE_S = 3600  # as the daemon: a run may start at most the task's interval, at most 1 h, late
START_MARGIN_S = 120  # start-up, the record, alerts: the target's limit is the run's own plus this
GHA_SETUP_S = 300  # checkout and installing agent, before the run starts
EXIT_RECORDED = (1, 2, 3)  # `agent cron run` ended and recorded the run: the target must not run it again


@dataclass(frozen=True)
class ExportTask:
    """What an export needs from one durable task (task fields and policy already resolved)."""

    id: str
    expr: CronExpr
    prompt: str
    max_turns: int | None = None
    catch_up: str = "latest"
    isolation: bool = False
    jitter_s: int = 0  # the most a fire is delayed here; targets with jitter get it as their own
    min_interval_s: int = 60  # the shortest time between two fires
    timeout_s: int = 1800  # the run's own time limit (timeoutS, cron.runTimeoutS)
    retry_attempts: int = 2  # retries of a transient failure (cron.retry.attempts)
    starting_deadline_s: int | None = None  # startingDeadlineS, when set

    @property
    def limit_s(self) -> int:
        """The target's wall-clock limit: the run's own, plus the margin for start-up and recording."""
        return self.timeout_s + START_MARGIN_S


@dataclass(frozen=True)
class ExportContext:
    """Where and how the jobs run: absolute paths on this machine, the zone, the time of the export."""

    project: str
    agent_argv: tuple[str, ...]
    zone: tzinfo
    zone_name: str
    now: datetime
    env_file: str = ""
    log_dir: str = ""
    image: str | None = None


def agent_args(task: ExportTask) -> list[str]:
    """`agent` arguments after the executable: `cron run ID` (the limits and the prompt are the task's own)."""
    return ["cron", "run", task.id]


# A job on another machine (a pod, a runner) starts with an empty trust store: it trusts its own checkout
# first, so the repository's allow rules apply there as they do in the daemon of a user who trusts it.
# Exporting is that user's decision; crontab and systemd jobs run here, with this user's trust store.
TRUST_CHECKOUT = "agent trust . >/dev/null"


def _unit_name(task: ExportTask) -> str:
    return f"agent-task-{task.id}"


def _header(task: ExportTask, ctx: ExportContext, what: str, *, here: bool = True) -> list[str]:
    where = f" of {ctx.project}" if here else ""  # a job elsewhere need not know this machine's paths
    return [f"{what} task {task.id}{where} (agent cron export; edit the task, then export again)",
            f"schedule: {task.expr.text} in {ctx.zone_name} ({describe_cron(task.expr)})",
            f"prompt: {comment_text(task.prompt)}"]


# -- crontab ----------------------------------------------------------------------------------------------

def render_crontab(tasks: list[ExportTask], ctx: ExportContext) -> list[tuple[str, str]]:
    """One crontab for all tasks: CRON_TZ, then per task a comment and one line."""
    lines = [f"# agent cron export: {len(tasks)} task(s) of {ctx.project}",
             "# Add to your crontab (crontab -e), or: (crontab -l; cat crontab) | crontab -",
             "# CRON_TZ needs cronie (Fedora, Arch, ...); other crons use the machine's zone.",
             f"# The key is read from {ctx.env_file} (ANTHROPIC_API_KEY=...); output is appended to the logs.",
             "# No jitter: cron starts every job on the minute.",
             f"CRON_TZ={ctx.zone_name}"]
    for task in tasks:
        _, schedule, prompt = _header(task, ctx, "")
        lines += ["", f"# task {task.id}: {schedule}", f"# {prompt}"]
        log = f"{ctx.log_dir}/{_unit_name(task)}.log"
        agent = " ".join(sh_quote(word) for word in ctx.agent_argv)
        args = " ".join(sh_word(word) for word in agent_args(task))
        command = (f"cd {sh_quote(ctx.project)} && mkdir -p {sh_quote(ctx.log_dir)} && "
                   f"{{ set -a && . {sh_quote(ctx.env_file)} && set +a && {agent} {args}; }} "
                   f">> {sh_quote(log)} 2>&1")
        lines.append(f"{normalized_cron(task.expr)} {cron_escape(command)}")
    return [("crontab", "\n".join(lines) + "\n")]


def _refuse_isolation(task: ExportTask, target: str) -> None:
    if task.isolation:
        raise ExportError(f"it runs in its own git worktree (isolation), whose branch a {target} pod would lose "
                          "when it ends: export it to github-actions (a pull request per run), to systemd or "
                          "crontab (the branch stays in this repository), or keep it in agent daemon")


# -- systemd ----------------------------------------------------------------------------------------------

def _systemd_value(text: str) -> str:
    """A path in a unit file: specifiers escaped; one line."""
    if "\n" in text:
        raise ExportError(f"the path {text!r} has a newline, which a unit file cannot hold")
    return text.replace("%", "%%")


def render_systemd(task: ExportTask, ctx: ExportContext) -> list[tuple[str, str]]:
    calendars = systemd_calendar(task.expr, ctx.zone, ctx.zone_name, ctx.now)
    name = _unit_name(task)
    head = "".join(f"# {line}\n" for line in _header(task, ctx, "Scheduled"))
    exec_start = " ".join(systemd_quote(word) for word in (*ctx.agent_argv, *agent_args(task)))
    service = (f"{head}[Unit]\nDescription=agent scheduled task {task.id} ({describe_cron(task.expr)})\n\n"
               f"[Service]\nType=exec\nWorkingDirectory={_systemd_value(ctx.project)}\n"
               f"EnvironmentFile={_systemd_value(ctx.env_file)}\nExecStart={exec_start}\n"
               f"RuntimeMaxSec={task.limit_s}\n")
    timer_lines = [f"OnCalendar={calendar}" for calendar in calendars]
    timer_lines.append(f"Persistent={'true' if task.catch_up == 'latest' else 'false'}")
    timer_lines.append("AccuracySec=1s")
    if task.jitter_s:  # systemd's own jitter in place of agent's; fixed per unit, as agent's is per task
        timer_lines += [f"RandomizedDelaySec={task.jitter_s}", "FixedRandomDelay=true"]
    timer = (f"{head}# Enable with: systemctl --user enable --now {name}.timer\n"
             f"[Unit]\nDescription=Timer for agent scheduled task {task.id}\n\n"
             "[Timer]\n" + "\n".join(timer_lines) + "\n\n[Install]\nWantedBy=timers.target\n")
    return [(f"{name}.service", service), (f"{name}.timer", timer)]


# -- YAML -------------------------------------------------------------------------------------------------

class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings as literal blocks where YAML allows it."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and _literal_ok(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _literal_ok(value: str) -> bool:
    return all(line.isprintable() and line == line.rstrip() for line in value.split("\n"))


_Dumper.add_representer(str, _str)


def _yaml(header: list[str], document: dict[str, Any]) -> str:
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=10_000)
    return "".join(f"# {line}\n" for line in header) + body


# -- Kubernetes -------------------------------------------------------------------------------------------

def k8s_escape(text: str) -> str:
    """Kubernetes expands `$(VAR)` in command and args; `$$` is a literal `$`."""
    return text.replace("$", "$$")


def render_kubernetes(task: ExportTask, ctx: ExportContext) -> list[tuple[str, str]]:
    _refuse_isolation(task, "Kubernetes")
    if not ctx.image:
        raise ExportError(f"--format kubernetes needs --image IMAGE: an image with agent and the project in "
                          f"{K8S_PROJECT_DIR}")
    deadline = K8S_SKIP_DEADLINE_S if task.catch_up == "skip" else min(
        max(K8S_SKIP_DEADLINE_S, task.min_interval_s), MAX_START_DEADLINE_S)
    if task.starting_deadline_s is not None:
        deadline = max(1, task.starting_deadline_s)
    name = _unit_name(task)
    container = {
        "name": "agent", "image": ctx.image, "workingDir": K8S_PROJECT_DIR,
        "command": ["sh", "-c"], "args": [k8s_escape(f"{TRUST_CHECKOUT} && exec {_run_command(task)}")],
        "env": [{"name": "ANTHROPIC_API_KEY",
                 "valueFrom": {"secretKeyRef": {"name": K8S_SECRET[0], "key": K8S_SECRET[1]}}}],
        "resources": K8S_RESOURCES,
    }
    document = {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "agent", "agent-task-id": task.id}},
        "spec": {
            "schedule": normalized_cron(task.expr), "timeZone": ctx.zone_name,
            "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": deadline,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {
                "activeDeadlineSeconds": task.limit_s,
                # A pod that died (evicted, OOM-killed) is tried again, as often as the task retries; a run
                # that `agent cron run` ended was recorded and already retried as the daemon would.
                "backoffLimit": task.retry_attempts,
                "podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {
                    "containerName": "agent", "operator": "In", "values": list(EXIT_RECORDED)}}]},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "agent", "agent-task-id": task.id}},
                    "spec": {"restartPolicy": "Never", "containers": [container]}}}},
        },
    }
    header = [*_header(task, ctx, "Kubernetes CronJob for", here=False),
              f"key: kubectl create secret generic {K8S_SECRET[0]} --from-literal={K8S_SECRET[1]}=...",
              "no jitter: Kubernetes starts jobs on the minute"]
    return [(f"{name}.yaml", _yaml(header, document))]


# -- GitHub Actions ---------------------------------------------------------------------------------------

def _prompt_env(task: ExportTask) -> dict[str, str]:
    # Base64, because GitHub evaluates ${{ ... }} anywhere in a workflow, a prompt included.
    return {"AGENT_PROMPT_B64": base64.b64encode(task.prompt.encode()).decode()}


def _run_command(task: ExportTask) -> str:
    return "agent " + " ".join(sh_quote(arg) for arg in agent_args(task))


def _pr_steps(task: ExportTask) -> tuple[dict[str, Any], dict[str, Any]]:
    branch = {"name": "Start the run's branch", "run": (
        f'branch="task/{task.id}/$(date -u +%Y%m%dT%H%M%SZ)"\n'
        'git switch -c "$branch"\n'
        'echo "AGENT_BRANCH=$branch" >> "$GITHUB_ENV"')}
    pull_request = {"name": "Open a pull request from the run's branch",
                    "env": {"GH_TOKEN": "${{ github.token }}", **_prompt_env(task)}, "run": (
        "git add -A\n"
        'if git diff --cached --quiet; then echo "No changes: no pull request."; exit 0; fi\n'
        'first_line="$(printf \'%s\' "$AGENT_PROMPT_B64" | base64 -d | head -n 1)"\n'
        'git -c user.name="github-actions[bot]" '
        '-c user.email="41898282+github-actions[bot]@users.noreply.github.com" '
        f'commit -q -m "agent task {task.id}, run $GITHUB_RUN_ID: $first_line"\n'
        'git push origin "$AGENT_BRANCH"\n'
        f'gh pr create --head "$AGENT_BRANCH" --base "$GITHUB_REF_NAME" --title "agent task {task.id}: $first_line" '
        f'--body "Scheduled run $GITHUB_RUN_ID of agent task {task.id}."')}
    return branch, pull_request


def render_github_actions(task: ExportTask, ctx: ExportContext) -> tuple[list[tuple[str, str]], str | None]:
    """The workflow file, and the daylight-saving note (None when DST does not move the runs)."""
    schedule = utc_schedule(task.expr, ctx.zone, ctx.zone_name, ctx.now)
    steps: list[dict[str, Any]] = [{"uses": "actions/checkout@v4"}]
    if not ctx.image:
        steps += [{"uses": "actions/setup-python@v5", "with": {"python-version": "3.12"}},
                  {"name": "Install agent", "env": {"AGENT_PACKAGE": "${{ vars.AGENT_PACKAGE }}"},
                   "run": 'python -m pip install "$AGENT_PACKAGE"'}]
    branch, pull_request = _pr_steps(task)
    if task.isolation:
        steps.append(branch)
    steps.append({"name": "Trust the checkout (its .claude/settings.json rules apply)", "run": TRUST_CHECKOUT})
    steps.append({"name": "Run the task", "env": {"ANTHROPIC_API_KEY": "${{ secrets.ANTHROPIC_API_KEY }}"},
                  "run": _run_command(task)})
    if task.isolation:
        steps.append(pull_request)
    job: dict[str, Any] = {"runs-on": "ubuntu-latest", "timeout-minutes": -(-(task.limit_s + GHA_SETUP_S) // 60)}
    if ctx.image:
        job["container"] = {"image": ctx.image}
    job["steps"] = steps
    permissions = {"contents": "write", "pull-requests": "write"} if task.isolation else {"contents": "read"}
    document = {
        "name": f"agent task {task.id}",
        "on": {"schedule": [{"cron": cron} for cron in schedule.crons], "workflow_dispatch": {}},
        "permissions": permissions,
        "concurrency": {"group": _unit_name(task), "cancel-in-progress": False},
        "jobs": {"run": job},
    }
    header = [*_header(task, ctx, "GitHub Actions workflow for", here=False),
              f"GitHub runs schedules in UTC: translated with {ctx.zone_name} at {_offset(schedule.offset)}.",
              *([schedule.dst_note] if schedule.dst_note else []),
              "No jitter of ours: GitHub itself may start scheduled runs late under load."]
    if not ctx.image:
        header.append("Set the repository variable AGENT_PACKAGE to agent's pip requirement (a wheel URL or "
                      "git+https://...).")
    elif task.isolation:
        header.append("The image needs git and gh (GitHub's CLI) for the pull request.")
    return [(f"{_unit_name(task)}.yml", _yaml(header, document))], schedule.dst_note


def _offset(offset: Any) -> str:
    minutes = int(offset.total_seconds() // 60)
    return f"UTC{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def render(fmt: str, task: ExportTask, ctx: ExportContext) -> tuple[list[tuple[str, str]], str | None]:
    """Files for one task in a per-task format, and a note for the user (or None). Not for crontab."""
    if fmt == "systemd":
        return render_systemd(task, ctx), None
    if fmt == "kubernetes":
        return render_kubernetes(task, ctx), None
    if fmt == "github-actions":
        return render_github_actions(task, ctx)
    raise ValueError(f"unknown per-task format {fmt!r}")
