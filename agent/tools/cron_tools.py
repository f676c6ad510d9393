"""CronCreate, CronDelete and CronList: the model's view of the scheduler, on `CronService`.

Input and output fields are Claude Code's, so models that know that tool use these without surprises.
Results are JSON objects (the output fields) with a `message` sentence for the model to relay.

Scheduling must not replicate itself: a run the scheduler started (a fired task) may not create durable
tasks unless an allow rule names CronCreate, and any one run creates at most `cron.maxDurablePerRun`
durable tasks (default 5), so a prompt carrying injected text cannot fill the tasks file.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from agent.cron.chains import ChainError, after_of
from agent.cron.expr import CronError
from agent.cron.service import CronService, ScheduledTask
from agent.cron.store import TaskFileError, TaskLimitError
from agent.cron.worktree import ISOLATION_FIELD
from agent.tools.base import DEFAULT_MAX_DURABLE_PER_RUN, Tool, ToolContext, ToolError, ToolResult

__all__ = ["CronCreate", "CronDelete", "CronList", "max_durable_per_run"]

log = logging.getLogger(__name__)

ALLOW_HINT = 'add "CronCreate" to permissions.allow in .claude/settings.json'

CRON_CREATE_DESCRIPTION = """\
Schedule a prompt to run later in this project, once or on a recurring schedule.

- `cron` is a standard 5-field expression in the user's LOCAL time zone: minute hour day-of-month month \
day-of-week ("*/30 * * * *" every 30 minutes, "15 9 * * 1-5" weekdays at 9:15). Items: *, */N, N, N-M, \
N-M/S and comma lists; day-of-week 0-7 with 0 and 7 = Sunday; no names, no seconds.
- `recurring` (default true) fires on every match until deleted; recurring tasks expire after 7 days \
(they fire one last time, then are deleted). `recurring: false` fires once at the next match, then is \
deleted: use it for reminders ("in 20 minutes", "tomorrow at 9").
- `durable` (default false) keeps the task in .claude/scheduled_tasks.json so it survives restarts. Set \
it only when the user asks for the task to outlive this session; otherwise the task lives in memory and \
ends with the session.
- Unless the user names an exact time, pick an off minute (e.g. 7, 23, 41) rather than :00 or :30, \
where everyone's jobs pile up. Fires are also spread by a small deterministic delay.
- `after` (optional): ids of tasks (see CronList) this one follows. It then fires each time every task it \
names has finished a successful run since it last ran, and receives their final answers as data. With \
`after`, `cron` may be left out (the task then fires only after them); a cycle or an unknown id is refused.
- The prompt runs as a new turn between other turns, as if the user had sent it; write it so it makes \
sense on its own later. At most 50 tasks at a time.
"""

CRON_DELETE_DESCRIPTION = "Delete a scheduled task by its 8-character id (see CronList). It stops firing at once."

CRON_LIST_DESCRIPTION = "List the scheduled tasks of this session and this project: id, schedule, prompt, next fire."


class CronCreateInput(BaseModel):
    cron: str | None = Field(default=None, description='5-field cron expression in local time, e.g. '
                             '"*/30 * * * *"; required unless `after` is given')
    prompt: str = Field(description="The prompt to run each time the task fires")
    recurring: bool = Field(default=True, description="true: fire on every match; false: fire once, then delete")
    durable: bool = Field(default=False, description="true: persist to .claude/scheduled_tasks.json and "
                          "survive restarts; false (default): in-memory only, ends with this session")
    isolation: Literal["worktree"] | None = Field(
        default=None, description='"worktree": every run works in its own git worktree on a new branch '
        "task/<id>/<time>, and its changes are committed there instead of in the user's checkout (the "
        "project must be a git repository). Omit it to run in the project folder itself")
    after: list[str] | None = Field(default=None, description="ids of tasks this one follows: it fires when "
                                    "each has finished a successful run, and gets their answers as data")


class CronDeleteInput(BaseModel):
    id: str = Field(description="The task id returned by CronCreate or shown by CronList")


class CronListInput(BaseModel):
    pass


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="seconds")


def _job(s: ScheduledTask) -> dict[str, Any]:
    return {
        "id": s.task.id,
        "cron": s.task.cron,
        "humanSchedule": s.human_schedule,
        "prompt": s.task.prompt,
        "recurring": s.task.recurring,
        "durable": s.durable,
        "nextFireAt": _iso(s.next_fire_ms),
        **({"after": list(after)} if (after := _after(s.task)) else {}),
    }


def _after(task: Any) -> tuple[str, ...]:
    try:
        return after_of(task)
    except ChainError:
        return ()


def max_durable_per_run(cron_settings: object) -> int:
    """`cron.maxDurablePerRun` from settings: a whole number >= 0; anything else means the default."""
    if cron_settings is None:
        return DEFAULT_MAX_DURABLE_PER_RUN
    value = cron_settings.get("maxDurablePerRun") if isinstance(cron_settings, dict) else cron_settings
    if value is None:
        return DEFAULT_MAX_DURABLE_PER_RUN
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    log.warning("settings: cron.maxDurablePerRun must be a whole number >= 0, not %r; using %d",
                value, DEFAULT_MAX_DURABLE_PER_RUN)
    return DEFAULT_MAX_DURABLE_PER_RUN


def _check_may_create(args: CronCreateInput, ctx: ToolContext) -> None:
    """Raise ToolError when this run may not create this task; the text tells the model why."""
    scheduled_blocked = ctx.run.scheduled and "CronCreate" not in ctx.allow_rule_tools
    # A headless run ends with its turn, unless it is kept open (stream-json input): its session tasks fire.
    one_shot = ctx.headless and not ctx.extra.get("session_tasks_fire")
    if scheduled_blocked and (args.durable or one_shot):
        kind = "durable tasks" if args.durable else "tasks (a session-only task would end with this run)"
        raise ToolError(
            f"Not created: this run was started by the scheduler (a scheduled task firing), not by the user, "
            f"and a scheduled run cannot create {kind}, so a scheduled prompt cannot copy itself into more "
            f"schedules. The user can allow it ({ALLOW_HINT}); otherwise tell the user what you wanted to "
            "schedule and let them add it."
        )
    if one_shot and not args.durable:
        raise ToolError(
            "This is a one-shot headless run (agent -p): the process exits when the turn ends, so a "
            "session-only task would never fire. Call CronCreate again with durable: true to store it "
            "in .claude/scheduled_tasks.json, where a running agent session or `agent daemon` fires it."
        )
    limit = ctx.max_durable_per_run
    if args.durable and ctx.run.durable_created >= limit:
        raise ToolError(
            f"Not created: this run already created {ctx.run.durable_created} durable task"
            f"{'s' if ctx.run.durable_created != 1 else ''}, the most one run may create (settings "
            f"cron.maxDurablePerRun = {limit}). Do not retry; tell the user which tasks were not created."
        )


def _service(ctx: ToolContext) -> CronService:
    if ctx.cron is None:
        raise ToolError("Scheduling is not available in this session.")
    return ctx.cron


def _extra(args: CronCreateInput, ctx: ToolContext) -> dict[str, Any]:
    """Our fields of a new task: the run that made it and, when asked for, its isolation."""
    extra: dict[str, Any] = {"createdByRun": ctx.run.run_id}
    if args.isolation is not None:
        extra[ISOLATION_FIELD] = args.isolation
    return extra


class CronCreate(Tool):
    name = "CronCreate"
    description = CRON_CREATE_DESCRIPTION
    Input = CronCreateInput

    def key_argument(self, args: CronCreateInput) -> str:
        schedule = args.cron or f"after {', '.join(args.after or [])}"
        return f"{schedule} {args.prompt}"[:80]

    async def run(self, args: CronCreateInput, ctx: ToolContext) -> ToolResult:
        _check_may_create(args, ctx)
        try:
            created = _service(ctx).create(args.cron, args.prompt, recurring=args.recurring,
                                           durable=args.durable, extra=_extra(args, ctx), after=args.after)
        except ChainError as exc:
            raise ToolError(f"Not created: {exc}. Use CronList to see the tasks and their ids.") from None
        except CronError as exc:
            raise ToolError(f"Invalid cron expression {args.cron!r}: {exc}") from None
        except (TaskLimitError, TaskFileError, ValueError) as exc:
            raise ToolError(str(exc)) from None
        if created.durable:
            ctx.run.durable_created += 1
        kind = ("recurring job" if created.task.recurring else "one-shot task") + (
            " (each run in its own git worktree)" if args.isolation else "")
        where = ("Durable (saved in .claude/scheduled_tasks.json)." if created.durable
                 else "Session-only (in memory, ends when this session exits).")
        tail = ("Auto-expires after 7 days." if created.task.recurring
                else "It will fire once, then be deleted.")
        if args.after:
            tail += f" It fires when {', '.join(args.after)} finished a successful run."
        out = {k: v for k, v in _job(created).items() if k not in ("cron", "prompt")}
        out["message"] = (f"Scheduled {kind} {created.task.id} ({created.human_schedule}). {where} {tail} "
                          f"Next fire: {out['nextFireAt']}. Use CronDelete to cancel.")
        return ToolResult(json.dumps(out, ensure_ascii=False),
                          summary=f"{created.task.id}: {created.human_schedule}")


class CronDelete(Tool):
    name = "CronDelete"
    description = CRON_DELETE_DESCRIPTION
    Input = CronDeleteInput

    def key_argument(self, args: CronDeleteInput) -> str:
        return args.id

    async def run(self, args: CronDeleteInput, ctx: ToolContext) -> ToolResult:
        try:
            removed = _service(ctx).delete(args.id.strip().lower())
        except TaskFileError as exc:
            raise ToolError(str(exc)) from None
        if removed is None:
            raise ToolError(f"No scheduled task with id {args.id!r}. Use CronList to see the ids.")
        out = {"id": removed.task.id, "deleted": True,
               "message": f"Deleted {removed.task.id} ({removed.human_schedule}); it will not fire again."}
        return ToolResult(json.dumps(out, ensure_ascii=False), summary=f"deleted {removed.task.id}")


class CronList(Tool):
    name = "CronList"
    description = CRON_LIST_DESCRIPTION
    Input = CronListInput
    read_only = True

    async def run(self, args: CronListInput, ctx: ToolContext) -> ToolResult:
        try:
            scheduled, problems = _service(ctx).list_with_problems()
        except TaskFileError as exc:
            raise ToolError(str(exc)) from None
        out: dict[str, Any] = {"jobs": [_job(s) for s in scheduled]}
        if problems:
            out["warnings"] = problems
        n = len(scheduled)
        return ToolResult(json.dumps(out, ensure_ascii=False), summary=f"{n} task{'s' if n != 1 else ''}")
