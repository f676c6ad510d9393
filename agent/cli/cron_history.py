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

    p_show = sub.add_parser("show", help="one recorded run in full")
    p_show.add_argument("run", help="the run id (see agent cron history), or a unique start of it")
    p_show.add_argument("--json", action="store_true", help="the run as a JSON object")

    p_resume = sub.add_parser("resume", help="resume a task paused after repeated failures")
    p_resume.add_argument("id", help="the 8-character task id")

    p_status = sub.add_parser("status", help="who fires the tasks, what fires next, and expected fires that "
                              "left no record (the last 7 days)")
    p_status.add_argument("--json", action="store_true", help="one JSON object")
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
    from agent.cron.history import RunHistory, history_path

    path = history_path(project, os.environ)
    return RunHistory(path) if path.exists() else None


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


def cmd_history(args: argparse.Namespace, project: Path) -> int:
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
    if record.todos:
        from agent.tools.todos import render_todos

        done = sum(item.get("status") == "completed" for item in record.todos)
        print(f"todos:      {done} of {len(record.todos)} done")
        for line in render_todos(record.todos):
            print(f"  {line}")
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


def cmd_status(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.lock import SchedulerLock, owner_is_alive
    from agent.cron.service import CronService
    from agent.cron.status import find_project_gaps
    from agent.cron.store import FileTaskStore, SessionTaskStore
    from agent.cron.zone import local_zone

    now = time.time_ns() // 1_000_000
    scheduled, problems = CronService(FileTaskStore(project), SessionTaskStore()).list_with_problems()
    holder = SchedulerLock(project, "agent-cron-status").holder()
    alive = holder is not None and owner_is_alive(holder)
    db = _history(project)
    gaps = [] if db is None else find_project_gaps([s.task for s in scheduled], db, now, local_zone())
    states = {} if db is None else db.states()
    report = {
        "lockHolder": None if holder is None else {"pid": holder.pid, "sessionId": holder.session_id,
                                                   "alive": alive, "acquiredAt": holder.acquired_at_ms},
        "next": [{"id": s.id, "nextFireAt": None if s.over_limit else s.next_fire_ms, "schedule": s.human_schedule,
                  "paused": bool(states.get(s.id) and states[s.id].paused), "overLimit": s.over_limit}
                 for s in scheduled],
        "gaps": [{"taskId": g.task_id, "expectedAt": g.slot_ms, "reason": g.reason} for g in gaps],
        "problems": problems,
    }
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return EXIT_OK
    for problem in problems:
        print(f"agent cron: warning: {problem}", file=sys.stderr)
    if holder is None:
        print("Lock: nobody holds the project lock: durable tasks fire only while a chat or agent daemon runs.")
    else:
        state = "alive" if alive else "DEAD (the next session takes over)"
        print(f"Lock: held by pid {holder.pid} (session {holder.session_id}), {state}, since "
              f"{_when(holder.acquired_at_ms)}")
    for item in report["next"]:
        paused = "  PAUSED (agent cron resume " + item["id"] + ")" if item["paused"] else ""
        when = _when(item["nextFireAt"]) if item["nextFireAt"] is not None else item["schedule"]
        when = "never: over the 50-task limit" if item["overLimit"] else when
        print(f"Next: {item['id']}  {when}{paused}")
    if not gaps:
        print("Gaps: none: every expected fire in the last 7 days has a record.")
        return EXIT_OK
    print(f"Gaps: {len(gaps)} expected fire(s) left no record:")
    for gap in gaps:
        print(f"  {gap.task_id}  {_when(gap.slot_ms)}  {gap.reason}")
    return EXIT_OK
