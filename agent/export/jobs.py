"""Which durable tasks become exported jobs, and with what: the zone, the agent command, the per-task
interval, jitter and policy. `agent.cli.cron_export` only parses arguments and writes what this returns.

Only `.claude/scheduled_tasks.json` is read: session tasks live in a chat and are not exported. One-shot
tasks and tasks that follow others (`after`) have no counterpart in these schedulers and are skipped
with a note, or refused when named. A task that cannot be exported exactly is refused with the reason;
the others are still rendered.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

from agent.export.calendar import ExportError
from agent.export.formats import ExportContext, ExportTask, render, render_crontab
from agent.settings.gate import trust_command
from agent.settings.trust import is_trusted

_ZONEINFO_MARK = "zoneinfo/"
_INTERVAL_SAMPLE = 50  # fires looked at for the shortest interval of a schedule
# From a fixed start in UTC, so that the interval (and the jitter and deadline made from it) does not
# change with the day of the export or with a DST change among the sampled fires.
_INTERVAL_START = datetime(2001, 1, 1, tzinfo=timezone.utc)

__all__ = ["ExportRefused", "ExportResult", "export_jobs", "zone_name_here"]

Warn = Callable[[str], None]


class ExportRefused(ValueError):
    """The export as a whole cannot be made (a path the job files cannot carry)."""


@dataclass(frozen=True)
class ExportResult:
    files: list[tuple[str, str]]  # (file name, text)
    failed: int  # tasks named or found that were not exported


def zone_name_here(env: Mapping[str, str]) -> str | None:
    """This machine's IANA zone name, from what the scheduler reads (agent.cron.zone): $TZ, else the
    /etc/localtime link, else /etc/timezone; None if none of them names a zone."""
    if "TZ" in env:  # read as agent.cron.zone reads it: a name, a zone file's path, empty for UTC
        tz = env["TZ"].removeprefix(":")
        if not tz.startswith("/"):
            return tz or "UTC"  # a POSIX rule is returned as is: the caller finds it is no zone name
        return tz.split(_ZONEINFO_MARK, 1)[1] if _ZONEINFO_MARK in tz else None
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        target = ""
    if _ZONEINFO_MARK in target:
        return target.split(_ZONEINFO_MARK, 1)[1]
    try:
        return Path("/etc/timezone").read_text().strip() or None
    except OSError:
        return None


def agent_argv() -> tuple[str, ...]:
    found = shutil.which("agent")
    return (str(Path(found).resolve()),) if found else (str(Path(sys.executable).resolve()), "-m", "agent")


def _min_interval_s(expr: Any) -> int:
    from agent.cron.expr import next_fires

    fires = next_fires(expr, _INTERVAL_START, _INTERVAL_SAMPLE)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fires)]
    return int(min(gaps)) if gaps else 366 * 86400


def _export_task(task: Any, settings: dict[str, Any]) -> ExportTask:
    from agent.cron.expr import parse_cron
    from agent.cron.jitter import load_jitter_config
    from agent.cron.policy import resolve_policy

    extra = task.model_extra or {}
    policy = resolve_policy(settings.get("cron"), extra)
    jitter, _ = load_jitter_config(settings.get("cronJitter"))
    expr = parse_cron(task.cron)
    interval = _min_interval_s(expr)
    jitter_s = int(min(jitter.recurringFrac * interval, jitter.recurringCapMs / 1000))
    deadline = policy.starting_deadline_s
    return ExportTask(id=task.id, expr=expr, prompt=task.prompt, max_turns=policy.max_turns,
                      catch_up=policy.catch_up, isolation=extra.get("isolation") == "worktree",
                      jitter_s=jitter_s, min_interval_s=interval, timeout_s=math.ceil(policy.timeout_s),
                      retry_attempts=policy.retry_attempts,
                      starting_deadline_s=None if deadline is None else math.ceil(deadline))


def _not_exportable(task: Any) -> str | None:
    if not task.recurring:
        return "it is a one-shot task (it fires once and is deleted), which these schedulers have no form for"
    if (task.model_extra or {}).get("after"):
        return "it follows other tasks (after:), which these schedulers cannot express"
    if "\0" in task.prompt:
        return "its prompt holds a NUL character, which no command line can carry"
    return None


def _settings(project: Path, warn: Warn) -> dict[str, Any]:
    from agent.settings import SettingsError, load_settings

    try:
        return load_settings(project).raw
    except SettingsError as exc:
        warn(f"settings unreadable ({exc}); using the defaults for jitter and catch-up")
        return {}


def _select(tasks: list[Any], ids: list[str], warn: Warn) -> tuple[list[Any], int]:
    """The tasks to export, and how many named ones were refused."""
    if not ids:
        chosen = []
        for task in tasks:
            reason = _not_exportable(task)
            if reason:
                warn(f"task {task.id} not exported: {reason}")
            else:
                chosen.append(task)
        return chosen, 0
    by_id = {task.id: task for task in tasks}
    chosen, refused = [], 0
    for wanted in dict.fromkeys(i.strip().lower() for i in ids):
        task = by_id.get(wanted)
        reason = "no such durable task (session tasks are not exported; see agent cron list)" if task is None \
            else _not_exportable(task)
        if reason:
            warn(f"task {wanted} not exported: {reason}")
            refused += 1
        else:
            chosen.append(task)
    return chosen, refused


def export_jobs(project: Path, fmt: str, ids: list[str], *, zone: tzinfo, zone_name: str, image: str | None,
                warn: Warn) -> ExportResult:
    """Render the chosen durable tasks of `project` as `fmt` job files; each problem goes to `warn`."""
    from agent.cron.store import FileTaskStore
    from agent.settings import state_dir

    loaded = FileTaskStore(project).load()
    for problem in loaded.problems:
        warn(f"warning: {problem}")
    chosen, failed = _select(loaded.tasks, ids, warn)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    ctx = ExportContext(project=str(project), agent_argv=agent_argv(), zone=zone, zone_name=zone_name, now=now,
                        env_file=str(config / "agent" / "env"), log_dir=str(state_dir(os.environ) / "logs"),
                        image=image)
    for path in (ctx.project, ctx.env_file, ctx.log_dir, *ctx.agent_argv):
        if not path.isprintable():
            raise ExportRefused(f"the path {path!r} holds a newline or another control character, which the "
                                "job files cannot carry")
    settings = _settings(project, warn)
    tasks = [_export_task(task, settings) for task in chosen]
    files: list[tuple[str, str]] = []
    if fmt == "crontab":
        files, tasks = _crontab(tasks, ctx, warn)
        failed += len(chosen) - len(tasks)
    else:
        for task in tasks:
            try:
                rendered, note = render(fmt, task, ctx)
            except ExportError as exc:
                warn(f"task {task.id} not exported: {exc}")
                failed += 1
                continue
            files += rendered
            if note:
                warn(f"task {task.id}: {note}")
    if fmt in ("crontab", "systemd") and not is_trusted(project):
        warn(f"this folder is not trusted, so its allow rules will not apply to these jobs (they run here, "
             f"with your trust store); to trust it: {trust_command(project)}")
    if fmt in ("kubernetes", "github-actions") and (project / ".claude" / "settings.local.json").exists():
        warn("permission rules in .claude/settings.local.json and ~/.claude/settings.json stay on this machine; "
             "the exported jobs use the repository's .claude/settings.json")
    return ExportResult(files=files, failed=failed)


def _crontab(tasks: list[ExportTask], ctx: ExportContext, warn: Warn) -> tuple[list[tuple[str, str]], list[ExportTask]]:
    kept = []
    for task in tasks:
        try:
            render_crontab([task], ctx)
        except ExportError as exc:
            warn(f"task {task.id} not exported: {exc}")
            continue
        kept.append(task)
    return (render_crontab(kept, ctx) if kept else []), kept
