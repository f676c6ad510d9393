"""`agent cron export`: durable tasks as crontab lines, systemd units, Kubernetes CronJobs or GitHub
Actions workflows (the rendering is in `export_formats`, the schedule translation in the cron core).

Only `.claude/scheduled_tasks.json` is read: session tasks live in a chat and are not exported. One-shot
tasks and tasks that follow others (`after`) have no counterpart in these schedulers and are skipped
with a note, or refused when named. A task that cannot be exported exactly is refused with the reason
(exit status 1); the others are still written.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
from collections.abc import Mapping
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any

from agent.cli.common import EXIT_FAILURE, EXIT_OK, UsageError

EXPORT_EPILOG = """\
examples:
  agent cron export --format crontab                       all recurring tasks, printed
  agent cron export 1a2b3c4d --format systemd -o ~/.config/systemd/user
  agent cron export --format kubernetes --image registry.example/agent-project:1 -o k8s/
  agent cron export --format github-actions -o .github/workflows
"""
FORMATS = ("crontab", "systemd", "kubernetes", "github-actions")
_ZONEINFO_MARK = "zoneinfo/"
_INTERVAL_SAMPLE = 50  # fires looked at for the shortest interval of a schedule
# From a fixed start in UTC, so that the interval (and the jitter and deadline made from it) does not
# change with the day of the export or with a DST change among the sampled fires.
_INTERVAL_START = datetime(2001, 1, 1, tzinfo=timezone.utc)


def add_export_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser("export", help="write durable tasks as crontab, systemd, Kubernetes or GitHub "
                            "Actions jobs", epilog=EXPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ids", nargs="*", metavar="ID", help="tasks to export (default: every recurring task)")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt", help="the target scheduler")
    parser.add_argument("--image", metavar="IMAGE", help="container image with agent (and for kubernetes the "
                        "project in /project); kubernetes needs it, github-actions uses it as the job container")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR", help="write the files into DIR (default: print)")
    parser.add_argument("--timezone", metavar="ZONE", help="IANA zone of the schedules (default: this machine's)")
    return parser


def zone_name_here(env: Mapping[str, str]) -> str | None:
    """This machine's IANA zone name, from what the scheduler reads (agent.cron.zone): $TZ, else the
    /etc/localtime link, else /etc/timezone; None if none of them names a zone."""
    tz = (env.get("TZ") or "").removeprefix(":")
    if tz and not tz.startswith("/"):
        return tz
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


def _zone(args: argparse.Namespace) -> tuple[tzinfo, str]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = args.timezone or zone_name_here(os.environ)
    if not name:
        raise UsageError("agent cron export: cannot tell this machine's time zone; pass --timezone Area/City")
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"agent cron export: unknown time zone {name!r}; pass --timezone Area/City") from None


def _agent_argv() -> tuple[str, ...]:
    found = shutil.which("agent")
    return (str(Path(found).resolve()),) if found else (str(Path(sys.executable).resolve()), "-m", "agent")


def _min_interval_s(expr: Any) -> int:
    from agent.cron.expr import next_fires

    fires = next_fires(expr, _INTERVAL_START, _INTERVAL_SAMPLE)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fires)]
    return int(min(gaps)) if gaps else 366 * 86400


def _export_task(task: Any, settings: dict[str, Any]) -> Any:
    from agent.cli.export_formats import ExportTask
    from agent.cron.expr import parse_cron
    from agent.cron.jitter import load_jitter_config
    from agent.cron.policy import resolve_policy

    extra = task.model_extra or {}
    policy = resolve_policy(settings.get("cron"), extra)
    jitter, _ = load_jitter_config(settings.get("cronJitter"))
    expr = parse_cron(task.cron)
    interval = _min_interval_s(expr)
    jitter_s = int(min(jitter.recurringFrac * interval, jitter.recurringCapMs / 1000))
    return ExportTask(id=task.id, expr=expr, prompt=task.prompt, max_turns=policy.max_turns,
                      catch_up=policy.catch_up, isolation=extra.get("isolation") == "worktree",
                      jitter_s=jitter_s, min_interval_s=interval)


def _not_exportable(task: Any) -> str | None:
    if not task.recurring:
        return "it is a one-shot task (it fires once and is deleted), which these schedulers have no form for"
    if (task.model_extra or {}).get("after"):
        return "it follows other tasks (after:), which these schedulers cannot express"
    if "\0" in task.prompt:
        return "its prompt holds a NUL character, which no command line can carry"
    return None


def _settings(project: Path) -> dict[str, Any]:
    from agent.settings import SettingsError, load_settings

    try:
        return load_settings(project).raw
    except SettingsError as exc:
        _warn(f"settings unreadable ({exc}); using the defaults for jitter and catch-up")
        return {}


def _warn(text: str) -> None:
    print(f"agent cron export: {text}", file=sys.stderr)


def _select(tasks: list[Any], ids: list[str]) -> tuple[list[Any], int]:
    """The tasks to export, and how many named ones were refused."""
    if not ids:
        chosen = []
        for task in tasks:
            reason = _not_exportable(task)
            if reason:
                _warn(f"task {task.id} not exported: {reason}")
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
            _warn(f"task {wanted} not exported: {reason}")
            refused += 1
        else:
            chosen.append(task)
    return chosen, refused


def cmd_export(args: argparse.Namespace, project: Path) -> int:
    from agent.cli.export_formats import ExportContext, render, render_crontab
    from agent.cron.export_calendar import ExportError
    from agent.cron.store import FileTaskStore
    from agent.settings import state_dir

    if args.fmt == "kubernetes" and not args.image:
        raise UsageError("agent cron export: --format kubernetes needs --image IMAGE (an image with agent and "
                         "the project in /project)")
    zone, zone_name = _zone(args)
    loaded = FileTaskStore(project).load()
    for problem in loaded.problems:
        _warn(f"warning: {problem}")
    chosen, failed = _select(loaded.tasks, args.ids)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    ctx = ExportContext(project=str(project), agent_argv=_agent_argv(), zone=zone, zone_name=zone_name, now=now,
                        env_file=str(config / "agent" / "env"), log_dir=str(state_dir(os.environ) / "logs"),
                        image=args.image)
    for path in (ctx.project, ctx.env_file, ctx.log_dir, *ctx.agent_argv):
        if not path.isprintable():
            raise UsageError(f"agent cron export: the path {path!r} holds a newline or another control "
                             "character, which the job files cannot carry")
    settings = _settings(project)
    tasks = [_export_task(task, settings) for task in chosen]
    for task in chosen:
        if (task.model_extra or {}).get("maxTokensPerRun") is not None:
            _warn(f"task {task.id}: maxTokensPerRun is not enforced by agent -p; the exported job runs without it")
    files: list[tuple[str, str]] = []
    if args.fmt == "crontab":
        files, tasks = _crontab(tasks, ctx, render_crontab)
        failed += len(chosen) - len(tasks)
    else:
        for task in tasks:
            try:
                rendered, note = render(args.fmt, task, ctx)
            except ExportError as exc:
                _warn(f"task {task.id} not exported: {exc}")
                failed += 1
                continue
            files += rendered
            if note:
                _warn(f"task {task.id}: {note}")
    if args.fmt in ("kubernetes", "github-actions") and (project / ".claude" / "settings.local.json").exists():
        _warn("permission rules in .claude/settings.local.json and ~/.claude/settings.json stay on this machine; "
              "the exported jobs use the repository's .claude/settings.json")
    _emit(files, args.output, args.fmt)
    return EXIT_FAILURE if failed else EXIT_OK


def _crontab(tasks: list[Any], ctx: Any, render_crontab: Any) -> tuple[list[tuple[str, str]], list[Any]]:
    from agent.cron.export_calendar import ExportError

    kept = []
    for task in tasks:
        try:
            render_crontab([task], ctx)
        except ExportError as exc:
            _warn(f"task {task.id} not exported: {exc}")
            continue
        kept.append(task)
    return (render_crontab(kept, ctx) if kept else []), kept


def _emit(files: list[tuple[str, str]], output: Path | None, fmt: str) -> None:
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for name, text in files:
            (output / name).write_bytes(text.encode())
            print(f"wrote {output / name}", file=sys.stderr)
        return
    if fmt == "kubernetes":
        sys.stdout.write("---\n".join(text for _, text in files))
        return
    for index, (name, text) in enumerate(files):
        if len(files) > 1:
            sys.stdout.write(f"{'' if index == 0 else chr(10)}# ==> {name} <==\n")
        sys.stdout.write(text)


__all__ = ["FORMATS", "add_export_parser", "cmd_export", "zone_name_here"]
