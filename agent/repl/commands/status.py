"""/status, the cost line printed on exit, and what Ctrl-D warns about.

`/status` answers "what is this session talking to and what does it run": model, endpoint (the base
URL only: never a key, nor a user:password or query part of the URL), permission mode, project folder,
which process fires the project's durable tasks, how many tasks are scheduled, and whether the folder is
trusted (what its settings files may not set meanwhile).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.repl.commands.base import Command, CommandContext, SessionStats
from agent.repl.formatting import format_cost

if TYPE_CHECKING:
    from agent.cron.task import CronTask

__all__ = ["SANDBOX_COMMAND", "STATUS_COMMAND", "StatusFacts", "cost_line", "session_tasks_warning", "status_rows"]


@dataclass(frozen=True)
class StatusFacts:
    model: str
    endpoint: str
    mode: str
    project: str
    fired_by: str  # who fires durable tasks, in words
    session_tasks: int
    durable_tasks: int
    problems: tuple[str, ...] = ()  # the tasks file could not be read, ...
    trust: str = ""  # the folder's workspace trust, and what its settings files may not set here


def status_rows(facts: StatusFacts) -> list[tuple[str, str]]:
    total = facts.session_tasks + facts.durable_tasks
    return [
        ("Model", facts.model),
        ("Endpoint", facts.endpoint),
        ("Permission mode", facts.mode),
        ("Project", facts.project),
        ("Durable tasks fired by", facts.fired_by),
        ("Scheduled tasks", f"{total} ({facts.session_tasks} this session only, {facts.durable_tasks} durable)"),
        *([("Workspace trust", facts.trust)] if facts.trust else []),
    ]


def cost_line(stats: SessionStats) -> str:
    """`Session cost: $0.0123 · 1,234 input + 567 output tokens · 3 requests`: printed on exit."""
    usage = stats.usage
    cache = usage.cache_read_tokens + usage.cache_write_tokens
    cached = (f" (cache: {usage.cache_read_tokens:,} read, {usage.cache_write_tokens:,} written)"
              if cache else "")
    requests = f"{stats.requests} request" + ("" if stats.requests == 1 else "s")
    return (f"Session cost: {format_cost(stats.cost_usd if stats.cost_known else None)} · "
            f"{usage.input_tokens:,} input + {usage.output_tokens:,} output tokens{cached} · {requests}")


def session_tasks_warning(tasks: Iterable[CronTask]) -> str | None:
    """`2 session loops will stop`: what leaving ends (session-only tasks); None when nothing."""
    tasks = list(tasks)
    loops = sum(1 for t in tasks if t.recurring)
    once = len(tasks) - loops
    parts = []
    if loops:
        parts.append(f"{loops} session loop" + ("" if loops == 1 else "s"))
    if once:
        parts.append(f"{once} one-shot session task" + ("" if once == 1 else "s"))
    if not parts:
        return None
    they = "it lives" if len(tasks) == 1 else "they live"
    return f"{' and '.join(parts)} will stop ({they} only in this session)"


async def status(ctx: CommandContext, args: str) -> None:
    facts = await asyncio.to_thread(gather_facts, ctx)  # reads the lock and tasks files
    for problem in facts.problems:
        ctx.renderer.warn(problem)
    ctx.renderer.table(("", ""), status_rows(facts), title="Status")


def gather_facts(ctx: CommandContext) -> StatusFacts:
    session = ctx.session
    tasks, problems = session.cron.list_with_problems()
    durable = sum(1 for t in tasks if t.durable)
    return StatusFacts(
        model=session.model,
        endpoint=_endpoint(ctx),
        mode=session.policy.mode.value,
        project=str(session.project_dir),
        fired_by=_fired_by(ctx),
        session_tasks=len(tasks) - durable,
        durable_tasks=durable,
        problems=tuple(problems),
        trust=_trust(ctx),
    )


def _trust(ctx: CommandContext) -> str:
    from agent.repl.trust_question import trust_row

    settings = ctx.session.settings
    row = trust_row(ctx.session.project_dir, settings.trusted, settings.ignored)
    refused = f"; never from project files: {', '.join(settings.refused)}" if settings.refused else ""
    return row + refused


def _endpoint(ctx: CommandContext) -> str:
    from agent.engine.llm.endpoint import DEFAULT_BASE_URL, display_url

    # The model client reads the same variable from the same environment (LLM.from_env(session.env)).
    return display_url(ctx.session.env.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL)


def _fired_by(ctx: CommandContext) -> str:
    from agent.cron.lock import other_holder
    from agent.cron.lock_owner import holder_text
    from agent.cron.scheduler import cron_disabled

    if cron_disabled(ctx.session.env):
        return "nobody: scheduled tasks are turned off (AGENT_DISABLE_CRON)"
    scheduler: Any = getattr(ctx.host, "scheduler", None)
    if scheduler is not None and scheduler.is_owner:
        return f"this session (PID {os.getpid()})"
    holder = other_holder(ctx.session.project_dir)
    if holder is not None:
        return f"another process: {holder_text(holder)}"
    if scheduler is None:
        return "nobody: this session's scheduler is not running"
    if not (ctx.session.project_dir / ".claude").is_dir():
        return "this session, once a durable task exists (no .claude folder yet)"
    return "nobody yet: this session takes over within a few seconds"


STATUS_COMMAND = Command("status", "model, endpoint, permission mode, project, who fires tasks, trust",
                         status)


async def sandbox(ctx: CommandContext, args: str) -> None:
    from agent.permissions.sandbox.report import sandbox_rows

    rows = await asyncio.to_thread(sandbox_rows, ctx.session.sandbox)  # probes the backends once
    ctx.renderer.table(("", ""), rows, title="Sandbox")


SANDBOX_COMMAND = Command("sandbox", "show the OS sandbox Bash commands run in: backend, writable, hidden, network",
                          sandbox)
