"""/cron history, /cron resume, /cron status: the run history and the circuit breaker in the chat.

The same data as `agent cron history|resume|status`, read through the chat's `RunRecorder` (worker
threads, so the prompt never waits on the database).
"""

from __future__ import annotations

from typing import Any

from agent.repl.commands.base import CommandContext
from agent.repl.render import format_local_time, shorten

__all__ = ["resume_task", "run_states", "show_history"]

HISTORY_ROWS = 20


def _recorder(ctx: CommandContext) -> Any:
    recorder = getattr(ctx.host, "recorder", None)
    if recorder is None:
        from agent.engine.runs import RunRecorder

        recorder = RunRecorder.for_session(ctx.session, source="chat")
    return recorder


async def run_states(ctx: CommandContext) -> dict[str, Any]:
    """task id -> TaskState; {} when the history cannot be read (a warning is logged)."""
    return await _recorder(ctx).query("states", default={})


async def show_history(ctx: CommandContext, args: str) -> None:
    task_id = args.strip().lower() or None
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
