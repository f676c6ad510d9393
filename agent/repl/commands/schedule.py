"""Scheduling commands: /loop and /cron.

`/loop` is parsed by code (`parse_loop`), never left to the model, and creates its task through
`CronService.create`: the same path as the CronCreate tool, so the limits and validation are the same.
"""

from __future__ import annotations

import time

from agent.repl.commands.base import Command, CommandContext, split_args, task_id_of
from agent.repl.commands.runs import resume_task, run_states, show_history, show_status
from agent.repl.formatting import format_local_time, format_until, shorten

LOOP_USAGE = "Usage: /loop [--durable] [--worktree] [interval] <prompt>, e.g. /loop 5m check the build"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def when_text(next_fire_ms: int | None, now_ms: int, units: int = 2) -> str:
    """`Nov 23 9:05 AM (in 4m 10s)`, or `never` for a task that will not fire again."""
    if next_fire_ms is None:
        return "never"
    return f"{format_local_time(next_fire_ms)} ({format_until(next_fire_ms, now_ms, units)})"


async def loop(ctx: CommandContext, args: str) -> None:
    from agent.cron import CronError, LoopError, TaskFileError, TaskLimitError, parse_loop
    from agent.cron.loop_spec import slot_taken_by_first_run, split_loop_flags
    from agent.cron.worktree import ISOLATION_FIELD, WORKTREE
    from agent.engine.queue import Priority, QueuedPrompt

    flags, rest = split_loop_flags(args)
    durable, worktree = "--durable" in flags, "--worktree" in flags
    if not rest.strip():
        ctx.renderer.error(LOOP_USAGE)
        return
    try:
        spec = parse_loop(rest)
        now_ms = _now_ms()
        taken = slot_taken_by_first_run(now_ms, *_first_slots(spec.cron, now_ms))
        extra = {ISOLATION_FIELD: WORKTREE} if worktree else {}
        if taken is not None:  # the run now stands in for a slot seconds away: the schedule starts after it
            extra["lastFiredAt"] = taken
        scheduled = ctx.session.cron.create(spec.cron, spec.prompt, recurring=True, durable=durable,
                                            extra=extra or None)
    except (LoopError, CronError, TaskFileError, TaskLimitError, ValueError) as exc:
        ctx.renderer.error(str(exc))
        return
    ctx.host.schedule_changed()
    task = scheduled.task
    where = "durable: kept in .claude/scheduled_tasks.json" if durable else "this session only"
    if worktree:
        where += f"; each run in its own git worktree, on a branch task/{task.id}/<time>"
    r = ctx.renderer
    default = ", the default when no interval is given" if spec.defaulted else ""
    r.success(f"Scheduled {task.id}: {scheduled.human_schedule.lower()} ({task.cron}{default}), {where}")
    if spec.note:
        r.info(f"  Note: {spec.note}")
    now = "after what is running or queued" if ctx.host.is_busy() else "now"
    instead = f" (it stands in for the {format_local_time(taken)} slot, too close to run twice)" if taken else ""
    r.info(f"  Next run: {when_text(scheduled.next_fire_ms, now_ms)}. Running it once {now}{instead}.")
    r.info(f"  Stop it with /cron delete {task.id}")
    ctx.queue.put(QueuedPrompt(spec.prompt, Priority.NEXT, source="loop", task=task))


def _first_slots(cron_text: str, now_ms: int) -> tuple[int | None, int | None]:
    """The schedule's next two matches after now (local time, no jitter), in epoch ms."""
    from datetime import datetime

    from agent.cron.expr import next_fires
    from agent.cron.zone import local_zone

    fires = next_fires(cron_text, datetime.fromtimestamp(now_ms / 1000, local_zone()), 2)
    ms = [int(fire.timestamp() * 1000) for fire in fires]
    return (ms[0], ms[1]) if len(ms) == 2 else (None, None)


async def cron(ctx: CommandContext, args: str) -> None:
    word, rest = split_args(args)
    if word in ("", "list", "ls"):
        await show_tasks(ctx)
    elif word in ("delete", "rm", "remove"):
        await delete_task(ctx, rest)
    elif word == "history":
        await show_history(ctx, rest)
    elif word == "resume":
        await resume_task(ctx, rest)
    elif word == "status":
        await show_status(ctx)
    else:
        ctx.renderer.error(f"Unknown /cron argument {word!r}. Use /cron to list tasks, /cron delete <id> "
                           "to remove one, /cron history [id], /cron resume <id>, /cron status.")


async def show_tasks(ctx: CommandContext) -> None:
    from agent.cron.lock import holder_message, other_holder

    states = await run_states(ctx)
    tasks, problems = ctx.session.cron.list_with_problems()
    for problem in problems:
        ctx.renderer.warn(problem)
    holder = other_holder(ctx.session.project_dir)
    if holder is not None:
        ctx.renderer.info(holder_message(holder))
    if not tasks:
        ctx.renderer.info("No scheduled tasks. Create one with /loop 5m <prompt>, or ask the model.")
        return
    now = _now_ms()
    rows = [
        (
            s.id,
            s.human_schedule if s.human_schedule == s.task.cron else f"{s.human_schedule} ({s.task.cron})",
            when_text(s.next_fire_ms, now, units=1),
            _repeats(s.task, states.get(s.id)),
            "durable" if s.durable else "session",
            shorten(s.task.prompt, 50),
        )
        for s in tasks
    ]
    ctx.renderer.table(("ID", "Schedule", "Next fire", "Repeats", "Kept", "Prompt"), rows,
                       title=f"Scheduled tasks ({len(tasks)})", no_wrap=(0, 2, 3, 4))
    ctx.renderer.info("Remove one with /cron delete <id>.")


def _repeats(task, state) -> str:
    if state is not None and state.paused:
        return f"PAUSED ({shorten(state.last_error or 'failed', 40)}; /cron resume {task.id})"
    return "recurring" if task.recurring else "once"


async def delete_task(ctx: CommandContext, task_id: str) -> None:
    from agent.cron import TaskFileError

    task_id = task_id.strip().lower()
    if not task_id:
        ctx.renderer.error("Usage: /cron delete <id> (the 8-character id /cron shows)")
        return
    try:
        removed = ctx.session.cron.delete(task_id)
    except TaskFileError as exc:
        ctx.renderer.error(str(exc))
        return
    dropped = ctx.queue.remove(lambda item: task_id_of(item) == task_id and item.source == "cron")
    if removed is None:
        ctx.renderer.error(f"No scheduled task {task_id}. /cron lists the tasks.")
        return
    ctx.host.schedule_changed()
    extra = f"; dropped {len(dropped)} waiting run(s)" if dropped else ""
    ctx.renderer.success(f"Deleted {task_id} ({removed.human_schedule.lower()}: "
                         f"{shorten(removed.task.prompt, 60)}){extra}")


SCHEDULE_COMMANDS = (
    Command("loop", "run a prompt now and then on a schedule (--worktree: each run on its own git branch)", loop,
            usage="[--durable] [interval] <prompt>"),
    Command("cron", "list scheduled tasks, delete one, show run history, resume a paused one", cron,
            usage="[delete <id> | history [id] | resume <id> | status]"),
)
