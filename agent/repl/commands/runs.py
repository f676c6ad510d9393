"""/cron history, /cron resume, /cron status: the run history, the circuit breaker and gaps in the chat.

The same data as `agent cron history|resume|status`, read through the chat's `RunRecorder` (worker
threads, so the prompt never waits on the database).
"""

from __future__ import annotations

from typing import Any

from agent.repl.commands.base import CommandContext
from agent.repl.formatting import format_local_time, shorten

__all__ = ["resume_task", "run_states", "show_history", "show_status"]

HISTORY_ROWS = 20


def _recorder(ctx: CommandContext) -> Any:
    recorder = getattr(ctx.host, "recorder", None)
    if recorder is None:
        from agent.runs.recorder import RunRecorder

        recorder = RunRecorder.for_session(ctx.session, source="chat")
    return recorder


async def run_states(ctx: CommandContext) -> dict[str, Any]:
    """task id -> TaskState; {} when the history cannot be read (a warning is logged)."""
    return await _recorder(ctx).query("states", default={})


async def show_history(ctx: CommandContext, args: str) -> None:
    task_id = args.strip().lower() or None
    await _recorder(ctx).settle_orphans()
    runs = await _recorder(ctx).query("runs", task_id=task_id, limit=HISTORY_ROWS, default=[])
    if not runs:
        ctx.renderer.info("No recorded runs" + (f" of {task_id}." if task_id else " yet."))
        return
    rows = []
    for r in runs:
        cost = "-" if r.cost_usd is None else f"${r.cost_usd:.4f}"
        detail = r.result if r.status == "ok" else r.error
        rows.append((r.run_id, r.task_id, r.status, format_local_time(r.started_at),
                     f"{r.input_tokens + r.output_tokens:,}", cost, shorten(" ".join((detail or "").split()), 60)))
    ctx.renderer.table(("Run", "Task", "Status", "Started", "Tokens", "Cost", "Result / error"), rows,
                       title=f"Recent runs ({len(rows)}, newest first)", no_wrap=(0, 1, 2, 3))
    ctx.renderer.info("Full detail: agent cron show <run>.")


async def resume_task(ctx: CommandContext, args: str) -> None:
    task_id = args.strip().lower()
    if not task_id:
        ctx.renderer.error("Usage: /cron resume <id> (the 8-character id /cron shows)")
        return
    if await _recorder(ctx).resume(task_id):
        ctx.renderer.success(f"Resumed {task_id}: it fires again at its next slot.")
    else:
        ctx.renderer.error(f"Task {task_id} is not paused.")


async def show_status(ctx: CommandContext) -> None:
    """Who holds the lock, and expected fires of durable tasks in the last 7 days that left no record."""
    import asyncio

    from agent.cron.lock import SchedulerLock, owner_is_alive
    from agent.cron.status import find_project_gaps
    from agent.cron.zone import local_zone

    recorder = _recorder(ctx)
    await recorder.settle_orphans()

    def gather() -> tuple[Any, bool, list]:
        holder = SchedulerLock(ctx.session.project_dir, "chat-status").holder()
        tasks, _ = ctx.session.cron.list_with_problems()
        db = recorder.history()
        gaps = find_project_gaps([s.task for s in tasks if s.durable], db, recorder.now_ms(), local_zone())
        return holder, holder is not None and owner_is_alive(holder), gaps

    holder, alive, gaps = await asyncio.to_thread(gather)
    if holder is None:
        ctx.renderer.info("Lock: nobody holds it; durable tasks fire only while a chat or agent daemon runs.")
    else:
        ctx.renderer.info(f"Lock: pid {holder.pid} ({'alive' if alive else 'dead: the next session takes over'}).")
    if not gaps:
        ctx.renderer.success("No gaps: every expected fire of a durable task in the last 7 days has a record.")
        return
    rows = [(g.task_id, format_local_time(g.slot_ms), g.reason) for g in gaps[-HISTORY_ROWS:]]
    ctx.renderer.table(("Task", "Expected", "Likely reason"), rows,
                       title=f"Expected fires with no record ({len(gaps)})", no_wrap=(0, 1))
