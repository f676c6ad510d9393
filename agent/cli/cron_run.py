"""`agent cron run ID`: one task, once, exactly as `agent daemon` runs a fire, for other schedulers.

Exported jobs (crontab, systemd, Kubernetes, GitHub Actions) run this rather than `agent -p`, so a run
started by cron gets what the daemon gives: the prompt wrapped as scheduled data, the task's retry,
maxTurns, maxTokensPerRun and time limit, the daily budgets, the circuit breaker, alerts, and its record
in the run history of the state folder (`agent cron history`). The run is recorded for the most recent
slot of the task's cron (the one the external scheduler fires for), and is skipped when a run of the
same task is still going in another process. The tasks file is not written: the external scheduler,
not agent, decides when the task fires.

Prints the run record as one JSON line (the `agent cron history --json` shape). Exit status: 0 ok,
1 failed (error, timeout, denied, no answer, interrupted), 2 bad usage, 3 skipped or paused.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from agent.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, builtin_names

__all__ = ["EXIT_SKIPPED", "add_run_parser", "cmd_run"]

log = logging.getLogger(__name__)

EXIT_SKIPPED = 3
SOURCE = "cron-run"
_WINDOWS_MS = (3_600_000, 86_400_000, 31 * 86_400_000, 400 * 86_400_000)


def add_run_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p_run = sub.add_parser("run", help="run one durable task once, as agent daemon would (for exported jobs); "
                           "prints its run record as one JSON line; exit 0 ok, 1 failed, 3 skipped or paused")
    p_run.add_argument("id", help="the 8-character task id (see agent cron list)")
    p_run.add_argument("--verbose", action="store_true", help="log the run's events to stderr")
    return p_run


def latest_slot_ms(cron: str, now_ms: int, tz) -> int | None:
    """The most recent match of `cron` at or before now (the slot an external scheduler fires for)."""
    from agent.cron.gaps import expected_slots

    for window in _WINDOWS_MS:
        slots = expected_slots(cron, now_ms - window, now_ms, tz)
        if slots:
            return slots[-1]
    return None


def cmd_run(args: argparse.Namespace, project: Path) -> int:
    from agent.cron.store import TaskFileError
    from agent.engine.llm import LLMError
    from agent.engine.session import AgentSession, SessionOptions
    from agent.permissions.rules import PermissionConfigError
    from agent.settings import SettingsError

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="agent cron run: %(message)s", force=True)
    task_id = args.id.strip().lower()
    try:
        session = AgentSession(project, SessionOptions(headless=True))
        tasks = session.file_store.load().tasks
    except (SettingsError, PermissionConfigError, TaskFileError) as exc:
        print(f"agent cron run: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    task = next((t for t in tasks if t.id == task_id), None)
    if task is None:
        print(f"agent cron run: no durable task {task_id} in {session.file_store.path} (see agent cron list)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        session.llm()
    except LLMError as exc:
        print(f"agent cron run: cannot run: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    from agent.cli.headless import wait_for_mcp

    session.mcp.report = lambda line: print(f"agent cron run: {line}", file=sys.stderr, flush=True)
    for line in wait_for_mcp(session):  # the run gets the MCP servers a fire gets (bounded: MCP_TIMEOUT)
        print(f"agent cron run: warning: {line}", file=sys.stderr)
    import asyncio

    record = asyncio.run(_run(session, task, verbose=args.verbose))
    print(json.dumps(record.to_json(), ensure_ascii=False), flush=True)
    if record.status == "ok":
        return EXIT_OK
    return EXIT_SKIPPED if record.status in ("skipped", "paused") else EXIT_FAILURE


async def _run(session, task, *, verbose: bool):
    import socket

    from agent.cron.fires import FiredTask
    from agent.cron.orphans import process_is_gone
    from agent.cron.zone import local_zone
    from agent.runs.recorder import RunRecorder
    from agent.runs.scheduled import ScheduledRunner

    recorder = RunRecorder.for_session(session, source=SOURCE)
    say = (lambda text: print(f"agent cron run: {text}", file=sys.stderr)) if verbose else (lambda _text: None)
    runner = ScheduledRunner(session, recorder, say=say, builtin_commands=builtin_names())
    now = recorder.now_ms()
    slot = latest_slot_ms(task.cron, now, local_zone()) if task.recurring else None
    fired = FiredTask(task, True, slot or now, now, False, not task.recurring)
    try:
        await recorder.settle_orphans()
        [queued] = (await recorder.queue([fired])).values()
        here = socket.gethostname()
        running = [r for r in await recorder.query("open_runs", default=[])
                   if r.task_id == task.id and r.run_id != queued.run_id and not process_is_gone(r, here)]
        if running:
            reason = f"its previous run ({running[0].run_id}, pid {running[0].pid}) is still going"
            return await recorder.record_blocked(task, fired.due_ms, "skipped", reason, queued)
        return await runner.run(fired, record=queued)
    finally:
        if recorder.notifier is not None:
            await recorder.notifier.drain()
        await session.aclose()


