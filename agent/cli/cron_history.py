"""`agent cron history|show|resume|status`: what scheduled runs did, and the circuit breaker.

They read the project's run history (`agent.cron.history`) and import neither the SDK nor the engine,
so `agent cron history` answers fast even with 100,000 runs recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import datetime
from pathlib import Path

from agent.cli.common import EXIT_FAILURE, EXIT_OK, UsageError

__all__ = ["add_history_parsers", "cmd_history", "cmd_resume", "cmd_show", "cmd_status", "parse_since", "run_states"]

GAP_SLOTS_SHOWN = 5
_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def add_history_parsers(sub: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    from agent.cron.policy import RUN_STATUSES

    p_history = sub.add_parser("history", help="recorded runs of scheduled tasks, newest first")
    p_history.add_argument("id", nargs="?", help="only this task's runs")
    p_history.add_argument("--since", metavar="AGE", help="only runs started within AGE (30m, 12h, 7d, 2w) "
                           "or since a date (2026-11-20)")
    p_history.add_argument("--status", choices=[s for s in RUN_STATUSES], help="only runs with this status")
    p_history.add_argument("--limit", type=int, default=50, metavar="N", help="at most N runs (default 50; 0: all)")
    p_history.add_argument("--json", action="store_true", help="one JSON array of runs")
    p_history.add_argument("--prune", action="store_true", help="apply the retention now (cron.history.keepDays, "
                           "default 30; keepRunsPerTask, default 1000): delete older runs and their transcripts")
    p_history.add_argument("--dry-run", action="store_true", help="with --prune: say what would go, delete nothing")

    p_show = sub.add_parser("show", help="one recorded run in full")
    p_show.add_argument("run", help="the run id (see agent cron history), or a unique start of it")
    p_show.add_argument("--json", action="store_true", help="the run as a JSON object")

    p_resume = sub.add_parser("resume", help="resume a task paused after repeated failures")
    p_resume.add_argument("id", help="the 8-character task id")

    p_status = sub.add_parser("status", help="who fires the tasks, what fires next, and expected fires that "
                              "left no record (the last 7 days)")
    p_status.add_argument("--all", action="store_true", help="list every missed slot (default: the last "
                          f"{GAP_SLOTS_SHOWN} of each task)")
    p_status.add_argument("--json", action="store_true", help="one JSON object, every missed slot included")
    return [p_history, p_show, p_resume, p_status]


def parse_since(text: str | None, now_ms: int) -> int | None:
    """`7d` -> 7 days ago; `2026-11-20` (local) -> that moment. None when not given."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text.lower())
    if match:
        return now_ms - int(match[1]) * _UNITS_MS[match[2]]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"agent cron history: --since {text!r} is neither an age (30m, 12h, 7d, 2w) nor a date "
                         "(2026-11-20)") from None
    return int((when if when.tzinfo else when.astimezone()).timestamp() * 1000)


def _history(project: Path):
    """The project's run history, its records of dead processes settled first; None before any run."""
    from agent.cron.history import RunHistory, history_path
    from agent.cron.orphans import settle_orphans

    path = history_path(project, os.environ)
    if not path.exists():
        return None
    db = RunHistory(path)
    settle_orphans(db, time.time_ns() // 1_000_000)
    return db


def run_states(project: Path) -> dict:
    """task id -> TaskState for `agent cron list`; {} when nothing was recorded yet."""
    db = _history(project)
    if db is None:
        return {}
    try:
        return db.states()
    finally:
        db.close()


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(record) -> str:
    if record.ended_at is None:
        return "running"
    seconds = max(0, record.ended_at - record.started_at) / 1000
    return f"{seconds:.1f}s" if seconds < 60 else f"{seconds / 60:.1f}m"


def _one_line(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat[:width] + ("…" if len(flat) > width else "")


def cmd_prune(args: argparse.Namespace, project: Path) -> int:
    from agent.runs.retention import TRANSCRIPTS, prune, retention_of
    from agent.settings import SettingsError, load_settings, project_state_dir

    try:
        keep_days, keep_runs = retention_of(load_settings(project).get("cron"))
    except SettingsError as exc:
        print(f"agent cron history: settings unreadable ({exc}); fix them before pruning", file=sys.stderr)
        return EXIT_FAILURE
    db = _history(project)
    if db is None:
        print("No recorded runs yet: nothing to prune.")
        return EXIT_OK
    pruned = prune(db, project_state_dir(project, os.environ) / TRANSCRIPTS, time.time_ns() // 1_000_000,
                   keep_days, keep_runs, dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"dryRun": args.dry_run, "keepDays": keep_days, "keepRunsPerTask": keep_runs,
                          "runs": pruned.runs, "transcripts": pruned.files, "bytes": pruned.bytes_freed}))
        return EXIT_OK
    print(pruned.summary()[0].upper() + pruned.summary()[1:] + ".")
    return EXIT_OK


def cmd_history(args: argparse.Namespace, project: Path) -> int:
    if args.dry_run and not args.prune:
        raise UsageError("agent cron history: --dry-run goes with --prune")
    if args.prune:
        return cmd_prune(args, project)
    if args.limit < 0:
        raise UsageError("agent cron history: --limit must be 0 or more")
    now = time.time_ns() // 1_000_000
    since = parse_since(args.since, now)
    db = _history(project)
    runs = [] if db is None else db.runs(task_id=(args.id or "").lower() or None, since_ms=since,
                                         status=args.status, limit=args.limit or None)
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not runs:
        print("No recorded runs" + (" match" if args.id or since or args.status else " yet") + ".")
        return EXIT_OK
    table = [("RUN", "TASK", "STATUS", "STARTED", "TOOK", "TOKENS", "COST")]
    for r in runs:
        cost = "-" if r.cost_usd is None else f"${r.cost_usd:.4f}"
        table.append((r.run_id, r.task_id, r.status, _when(r.started_at), _duration(r),
                      f"{r.input_tokens + r.output_tokens:,}", cost))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(table[0])) + "  RESULT / ERROR"]
    for row, r in zip(table[1:], runs, strict=True):
        detail = r.error if r.status != "ok" else r.result
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + "  " + _one_line(detail, 60))
    print("\n".join(lines))
    return EXIT_OK


def cmd_show(args: argparse.Namespace, project: Path) -> int:
    db = _history(project)
    record = None if db is None else db.get(args.run.strip().lower())
    if record is None:
        print(f"agent cron show: no run {args.run} (see agent cron history)", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(record.to_json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    cost = "unknown" if record.cost_usd is None else f"${record.cost_usd:.4f}"
    fields = [
        ("run", record.run_id), ("task", record.task_id), ("cron", record.cron), ("status", record.status),
        ("scheduled", _when(record.scheduled_at)), ("started", _when(record.started_at)),
        ("ended", _when(record.ended_at)), ("attempts", str(record.attempts)),
        ("requests", str(record.requests)),
        ("tokens", f"{record.input_tokens:,} in, {record.output_tokens:,} out"), ("cost", cost),
        ("process", f"pid {record.pid} on {record.host} ({record.source})"),
        ("transcript", record.transcript or "-"),
    ]
    if record.branch:  # isolation "worktree": where its changes are
        fields += [("branch", record.branch), ("commit", record.commit_id or "- (nothing committed)")]
    for name, value in fields:
        print(f"{name + ':':<12}{value}")
    print(f"{'prompt:':<12}{record.prompt}")
    if record.error:
        print(f"{'error:':<12}{record.error}")
    for denial in record.denials:
        print(f"{'denied:':<12}{denial.get('tool')}: {denial.get('reason')} (allow with {denial.get('rule')})")
    if record.result:
        print("result:")
        print(record.result)
    return EXIT_OK


def cmd_resume(args: argparse.Namespace, project: Path) -> int:
    import asyncio

    from agent.runs.notify import Notifier
    from agent.runs.recorder import RunRecorder
    from agent.settings import load_settings
    from agent.settings.gate import ignored_warning

    task_id = args.id.strip().lower()
    settings = load_settings(project)
    if settings.ignored:  # cron.notify of an untrusted folder: not called; say so, once
        print(f"agent cron: warning: {ignored_warning(project, settings.ignored)}", file=sys.stderr)
    cron = settings.get("cron")
    notify = cron.get("notify") if isinstance(cron, dict) else None
    notifier = Notifier(lambda: notify, str(project))
    recorder = RunRecorder(project, os.environ, source="cli", cron_settings=lambda: cron, notifier=notifier)

    async def resume() -> bool:
        resumed = await recorder.resume(task_id)
        await notifier.drain()
        return resumed

    if not asyncio.run(resume()):
        print(f"agent cron resume: task {task_id} is not paused", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Resumed {task_id}: it fires again at its next slot.")
    return EXIT_OK


def _holder_report(project: Path, now: int) -> dict | None:
    """The lock holder, whether its process lives, and whether its scheduler still ticks (heartbeat)."""
    from agent.cron.heartbeat import STALE_AFTER_MS, heartbeat_path, read_heartbeat
    from agent.cron.lock import SchedulerLock, owner_is_alive

    holder = SchedulerLock(project, "agent-cron-status").holder()
    if holder is None:
        return None
    report = {"pid": holder.pid, "sessionId": holder.session_id, "alive": owner_is_alive(holder),
              "acquiredAt": holder.acquired_at_ms, "lastTickAt": None, "notTickingS": None}
    beat = read_heartbeat(heartbeat_path(project, os.environ))
    if beat is not None and beat.pid == holder.pid:
        report["lastTickAt"] = beat.at_ms
        if report["alive"] and now - beat.at_ms > STALE_AFTER_MS:
            report["notTickingS"] = (now - beat.at_ms) // 1000
    return report


def cmd_status(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.service import CronService
    from agent.cron.status import find_project_gaps, gaps_by_task
    from agent.cron.store import FileTaskStore, SessionTaskStore
    from agent.cron.zone import local_zone

    now = time.time_ns() // 1_000_000
    scheduled, problems = CronService(FileTaskStore(project), SessionTaskStore()).list_with_problems()
    holder = _holder_report(project, now)
    db = _history(project)
    gaps = find_project_gaps([s.task for s in scheduled], db, now, local_zone())
    grouped = gaps_by_task(gaps)
    states = {} if db is None else db.states()
    report = {
        "lockHolder": holder,
        "next": [{"id": s.id, "nextFireAt": None if s.over_limit else s.next_fire_ms, "schedule": s.human_schedule,
                  "paused": bool(states.get(s.id) and states[s.id].paused), "overLimit": s.over_limit}
                 for s in scheduled],
        "gaps": [{"taskId": g.task_id, "expectedAt": g.slot_ms, "reason": g.reason} for g in gaps],
        "gapsByTask": [{"taskId": task_id, "count": len(found), "first": found[0].slot_ms,
                        "last": found[-1].slot_ms, "reason": found[-1].reason} for task_id, found in grouped.items()],
        "problems": problems,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return EXIT_OK
    for problem in problems:
        print(f"agent cron: warning: {problem}", file=sys.stderr)
    print(_lock_line(holder))
    for item in report["next"]:
        paused = "  PAUSED (agent cron resume " + item["id"] + ")" if item["paused"] else ""
        when = _when(item["nextFireAt"]) if item["nextFireAt"] is not None else item["schedule"]
        when = "never: over the 50-task limit" if item["overLimit"] else when
        print(f"Next: {item['id']}  {when}{paused}")
    if not gaps:
        print("Gaps: none: every expected fire in the last 7 days has a record.")
        return EXIT_OK
    print(f"Gaps: {len(gaps)} expected fire(s) in the last 7 days left no record:")
    for task_id, found in grouped.items():
        print(f"  {task_id}  {len(found)} missed, {_when(found[0].slot_ms)} to {_when(found[-1].slot_ms)}: "
              f"{found[-1].reason}")
        shown = found if args.all else found[-GAP_SLOTS_SHOWN:]
        if len(shown) < len(found):
            print(f"    ... {len(found) - len(shown)} earlier (agent cron status --all lists every slot)")
        for gap in shown:
            print(f"    {_when(gap.slot_ms)}" + (f"  {gap.reason}" if gap.reason != found[-1].reason else ""))
    return EXIT_OK


def _lock_line(holder: dict | None) -> str:
    if holder is None:
        return "Lock: nobody holds the project lock: durable tasks fire only while a chat or agent daemon runs."
    if not holder["alive"]:
        state = "DEAD (the next session takes over)"
    elif holder["notTickingS"] is not None:
        state = (f"holder alive but not ticking for {holder['notTickingS']} s (stopped, frozen or asleep: "
                 "nothing fires until it runs again)")
    else:
        state = "alive"
    return (f"Lock: held by pid {holder['pid']} (session {holder['sessionId']}), {state}, since "
            f"{_when(holder['acquiredAt'])}")
