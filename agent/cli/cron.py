"""`agent cron ...`: list, add, delete, preview and watch scheduled tasks from a shell.

Every command here works on the durable tasks of one project (`.claude/scheduled_tasks.json`); session
tasks live inside a running chat and are listed there with /cron. None of these commands imports the
model SDK, so they stay fast enough for scripts and shell prompts.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from agent.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Parser, UsageError, project_dir
from agent.cli.cron_branches import BRANCH_COMMANDS, add_branch_parsers, run_branch_command
from agent.cli.cron_export import add_export_parser, cmd_export
from agent.cli.cron_history import (
    add_history_parsers,
    cmd_history,
    cmd_resume,
    cmd_show,
    cmd_status,
    run_states,
)
from agent.cli.cron_run import add_run_parser

CRON_EPILOG = """\
examples:
  agent cron add --cron "*/30 * * * *" --prompt "check the deploy"
  agent cron add --cron "15 9 * * 1-5" --prompt "summarise new issues" --once
  agent cron add --after ID --prompt "review what ID found"   runs each time ID finishes well
  agent cron next "0 9 * * 1-5" --count 3
  agent cron watch --json          fire tasks here, one JSON object per fire
  agent cron history --since 7d --status error
  agent cron show RUN              one recorded run in full
  agent cron resume ID             a task paused after repeated failures fires again
  agent cron status                lock holder, next fires, expected fires with no record
  agent cron add --cron "0 3 * * *" --prompt "fix lint" --worktree   each run on its own branch
  agent cron branches [ID]         run branches (task/ID/STAMP) with their run's status
  agent cron prune --older-than 14d   delete old run branches
  agent cron export --format systemd -o DIR   tasks as systemd timers (or crontab, kubernetes, github-actions)
  agent cron run ID                one run of a task as the daemon does it (what exported jobs call)
"""


def build_cron_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="agent cron",
        description="Inspect and edit this project's durable scheduled tasks (.claude/scheduled_tasks.json).",
        epilog=CRON_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cwd", type=Path, default=None, help="project folder (default: current folder)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    p_list = sub.add_parser("list", help="list durable tasks with their next fire")
    p_list.add_argument("--json", action="store_true", help="one JSON array instead of a table")

    p_add = sub.add_parser("add", help="add a durable task and print its id")
    p_add.add_argument("--cron", metavar="EXPR",
                       help='5-field local-time cron, e.g. "*/30 * * * *" (optional with --after)')
    p_add.add_argument("--after", action="append", default=[], metavar="ID",
                       help="fire when task ID has finished a successful run (repeat, or comma-separate, "
                       "to wait for each); its answer is passed on as data")
    p_add.add_argument("--prompt", required=True, metavar="TEXT", help="the prompt to run when it fires")
    p_add.add_argument("--once", action="store_true", help="fire once at the next match, then delete")
    p_add.add_argument("--worktree", action="store_true", help="run each fire in its own git worktree, on a "
                       "branch task/ID/STAMP (the project must be a git repository)")

    p_delete = sub.add_parser("delete", help="delete a task by id")
    p_delete.add_argument("id", help="the 8-character task id (see agent cron list)")

    p_next = sub.add_parser("next", help="describe a cron expression and print its next fire times")
    p_next.add_argument("expr", metavar="EXPR", help='5-field cron expression, quoted: "0 9 * * 1-5"')
    p_next.add_argument("--count", type=int, default=5, metavar="N", help="how many fire times (default 5)")
    p_next.add_argument("--from", dest="start", metavar="ISO-8601", help="start time (default: now)")

    p_watch = sub.add_parser("watch", help="run the scheduler here with no model and print each fire")
    p_watch.add_argument("--json", action="store_true", help="one JSON object per fire")
    extra = [*add_history_parsers(sub), *add_branch_parsers(sub), add_export_parser(sub), add_run_parser(sub)]
    for p_sub in (p_list, p_add, p_delete, p_next, p_watch, *extra):
        # `agent cron watch --cwd DIR` as well as `agent cron --cwd DIR watch`; SUPPRESS keeps the
        # subcommand from overwriting a --cwd given before it with its own default.
        p_sub.add_argument("--cwd", type=Path, default=argparse.SUPPRESS, help="project folder")
    return parser


def run_cron_cli(argv: Sequence[str]) -> int:
    try:
        args = build_cron_parser().parse_args(list(argv))
        project = project_dir(args.cwd, "agent cron")
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.command in ("history", "show"):  # the run history only: no task file, no pydantic
        return _run_history_command(args, project)
    if args.command in BRANCH_COMMANDS:  # git and the run history
        return run_branch_command(args, project)
    if args.command == "run":  # the model: the engine, the SDK
        from agent.cli.cron_run import cmd_run

        return cmd_run(args, project)
    return _run_task_command(args, project)


def _run_history_command(args: argparse.Namespace, project: Path) -> int:
    try:
        return {"history": cmd_history, "show": cmd_show}[args.command](args, project)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.Error as exc:
        print(f"agent cron: the run history cannot be read ({exc})", file=sys.stderr)
        return EXIT_FAILURE


def _run_task_command(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.expr import CronError
    from agent.cron.store import TaskFileError, TaskLimitError

    try:
        handler = {"list": _cmd_list, "add": _cmd_add, "delete": _cmd_delete, "next": _cmd_next,
                   "watch": _cmd_watch, "resume": cmd_resume, "status": cmd_status,
                   "export": cmd_export}[args.command]
        return handler(args, project)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except (CronError, ValueError) as exc:
        print(f"agent cron: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (TaskFileError, TaskLimitError) as exc:
        print(f"agent cron: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except sqlite3.Error as exc:
        print(f"agent cron: the run history cannot be read ({exc})", file=sys.stderr)
        return EXIT_FAILURE


def _service(project: Path):
    from agent.cron.service import CronService
    from agent.cron.store import FileTaskStore, SessionTaskStore

    return CronService(FileTaskStore(project), SessionTaskStore())


def _local_time(ms: int | None) -> str:
    if ms is None:
        return "never"
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _cmd_list(args: argparse.Namespace, project: Path) -> int:
    scheduled, problems = _service(project).list_with_problems()
    for problem in problems:
        print(f"agent cron: warning: {problem}", file=sys.stderr)
    states = _run_states_or_warn(project)
    if args.json:
        rows = [
            {"id": s.task.id, "cron": s.task.cron, "humanSchedule": s.human_schedule, "prompt": s.task.prompt,
             "recurring": s.task.recurring, "nextFireAt": s.next_fire_ms,
             "paused": bool(states.get(s.task.id) and states[s.task.id].paused),
             "lastError": states[s.task.id].last_error if s.task.id in states else None,
             "isolation": (s.task.model_extra or {}).get("isolation"), "after": _after_list(s.task),
             "overLimit": s.over_limit}
            for s in scheduled
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not scheduled:
        print("No scheduled tasks. Add one with: agent cron add --cron EXPR --prompt TEXT")
        return EXIT_OK
    table = [("ID", "SCHEDULE", "NEXT FIRE", "KIND", "PROMPT")]
    known = {s.task.id for s in scheduled}
    for s in scheduled:
        prompt = " ".join(s.task.prompt.split())
        prompt = prompt[:60] + ("…" if len(prompt) > 60 else "")
        kind = ("recurring" if s.task.recurring else "once") + (
            "+worktree" if (s.task.model_extra or {}).get("isolation") else "")
        state = states.get(s.task.id)
        if state is not None and state.paused:
            kind, prompt = "PAUSED", f"{prompt}  [last error: {state.last_error}; agent cron resume {s.task.id}]"
        when = "when upstream ends" if s.next_fire_ms is None and _after_list(s.task) else _local_time(s.next_fire_ms)
        if s.over_limit:
            kind, when = "OVER LIMIT", "never (over the 50-task limit)"
        missing = [i for i in _after_list(s.task) if i not in known]
        schedule = s.human_schedule + (f" (missing: {', '.join(missing)})" if missing else "")
        table.append((s.task.id, schedule, when, kind, prompt))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    return EXIT_OK


def _after_list(task) -> list[str]:
    """The ids a task follows (`after`), [] when none or malformed."""
    from agent.cron.chains import ChainError, after_of

    try:
        return list(after_of(task))
    except ChainError:
        return []


def _run_states_or_warn(project: Path) -> dict:
    try:
        return run_states(project)
    except sqlite3.Error as exc:
        print(f"agent cron: warning: run history unreadable ({exc}); paused state not shown", file=sys.stderr)
        return {}


def _cmd_add(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.worktree import ISOLATION_FIELD, WORKTREE

    after = [i.strip().lower() for item in args.after for i in item.split(",") if i.strip()]
    if args.cron is None and not after:
        raise UsageError("agent cron add: give --cron EXPR, or --after ID (or both)")
    extra = {ISOLATION_FIELD: WORKTREE} if args.worktree else None
    scheduled = _service(project).create(args.cron, args.prompt, recurring=not args.once, durable=True,
                                         extra=extra, after=after or None)
    print(scheduled.task.id)
    kind = ("recurring" if scheduled.task.recurring else "once") + (", in its own worktree" if args.worktree else "")
    nxt = "" if scheduled.next_fire_ms is None and after else f", next fire {_local_time(scheduled.next_fire_ms)}"
    print(f"Scheduled {scheduled.task.id}: {scheduled.human_schedule} ({kind}){nxt}", file=sys.stderr)
    return EXIT_OK


def _cmd_delete(args: argparse.Namespace, project: Path) -> int:
    removed = _service(project).delete(args.id.strip().lower())
    if removed is None:
        print(f"agent cron: no task with id {args.id} (see agent cron list)", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Deleted {removed.task.id}: {removed.human_schedule}: {removed.task.prompt}")
    for follower in _service(project).list():
        if removed.task.id in _after_list(follower.task):
            print(f"agent cron: warning: task {follower.id} follows {removed.task.id}; it no longer fires "
                  "by that chain (delete it, or add it again with other --after ids)", file=sys.stderr)
    return EXIT_OK


def _cmd_next(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.expr import describe_cron, next_fire, validate_cron

    if args.count < 1 or args.count > 10_000:
        raise UsageError("agent cron next: --count must be between 1 and 10000")
    start = _parse_start(args.start)
    expr = validate_cron(args.expr, now=start)
    print(describe_cron(args.expr))
    when = start
    for _ in range(args.count):
        fire = next_fire(expr, when)
        if fire is None:
            break
        print(fire.isoformat())
        when = fire
    return EXIT_OK


def _parse_start(text: str | None) -> datetime:
    """The time to list fires after: in the local zone with its DST rules, as the scheduler reads a cron
    (a fixed offset listed the fires after a clock change an hour off), or at the offset given."""
    from agent.cron.zone import local_zone

    if text is None:
        return datetime.now(local_zone())
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"agent cron next: --from {text!r} is not an ISO-8601 time "
                         "(e.g. 2026-11-23T09:00 or 2026-11-23T09:00+01:00)") from None
    if not 1970 <= start.year < 9000:  # the range task times may have (agent.cron.task.MAX_EPOCH_MS)
        raise UsageError(f"agent cron next: --from {text!r} is outside the years 1970 to 8999")
    return start if start.tzinfo else start.replace(tzinfo=local_zone())


def _cmd_watch(args: argparse.Namespace, project: Path) -> int:
    return run_watch(project, as_json=args.json)


def _warn_untrusted(project: Path, prog: str) -> None:
    """One line on stderr when an untrusted folder's settings had keys ignored (its env kill switch, say)."""
    from agent.settings import SettingsError, load_settings
    from agent.settings.gate import ignored_warning

    try:
        ignored = load_settings(project).ignored
    except SettingsError:
        return  # the scheduler reports the file itself
    if ignored:
        print(f"{prog}: warning: {ignored_warning(project, ignored)}", file=sys.stderr, flush=True)


def run_watch(project: Path, *, as_json: bool) -> int:
    """Run the scheduler in the foreground until Ctrl-C or SIGTERM, printing every fire."""
    import asyncio
    import logging
    import signal

    from agent.cron.scheduler import CronScheduler, FiredTask

    logging.basicConfig(level=logging.WARNING, format="agent cron watch: %(message)s", stream=sys.stderr)
    _warn_untrusted(project, "agent cron watch")

    def on_fire(fired: FiredTask) -> None:
        if as_json:
            print(json.dumps({
                "id": fired.task.id, "prompt": fired.task.prompt, "cron": fired.task.cron,
                "dueAt": fired.due_ms, "firedAt": fired.fired_ms, "owner": fired.owner,
                "durable": fired.durable, "recurring": fired.task.recurring, "final": fired.final,
                "pid": os.getpid(),
            }, ensure_ascii=False), flush=True)
        else:
            late = fired.fired_ms - fired.due_ms
            print(f"{_local_time(fired.fired_ms)}  {fired.task.id}  fired ({late} ms after due)  "
                  f"{fired.task.prompt}", flush=True)

    def on_owner_change(owner: bool) -> None:
        state = "holds the project lock: firing durable tasks" if owner else "does not hold the project lock"
        if not as_json:
            print(f"agent cron watch: this process {state}", file=sys.stderr, flush=True)

    def on_lock_wait(message: str) -> None:
        print(f"agent cron watch: {message}", file=sys.stderr, flush=True)  # stderr even with --json

    async def serve() -> None:
        scheduler = CronScheduler(project, on_fire, on_owner_change=on_owner_change, on_lock_wait=on_lock_wait)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await scheduler.start()
        if not as_json:
            print(f"agent cron watch: watching {scheduler.file_store.path} (Ctrl-C to stop)",
                  file=sys.stderr, flush=True)
        try:
            await stop.wait()
        finally:
            await scheduler.stop()

    asyncio.run(serve())
    return EXIT_OK
