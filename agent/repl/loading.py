"""What the chat loads once its prompt is on the screen: the workspace trust question, the session (in a
worker thread: pydantic, tools, stores), a resumed session's history, the scheduler with its run history,
the model client (the SDK), and the MCP servers' questions and reports.

Separate from the application because it is the start-up order, which matters: nothing from the project
is honoured before the trust question, the scheduler starts only once the session does, and whatever
fails is said in one line while what did start keeps working (`/help` and `/exit` always do).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from agent.repl.startup import build_session

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from agent.cron.scheduler import CronScheduler, FiredTask
    from agent.cron.task import CronTask
    from agent.engine.custom_commands import CommandSet
    from agent.engine.queue import CommandQueue
    from agent.engine.session import AgentSession
    from agent.repl.asking import PermissionAsker
    from agent.repl.chat_conversation import ChatConversation
    from agent.repl.question import QuestionBox
    from agent.repl.render import Renderer
    from agent.repl.scheduled_runs import ChatScheduledRuns
    from agent.runs.recorder import RunRecorder

log = logging.getLogger(__name__)


class LoadHost(Protocol):
    """What start-up fills in on the chat (`agent.repl.app.Repl`) and what it calls there."""

    args: argparse.Namespace
    project: Path
    renderer: Renderer
    questions: QuestionBox
    queue: CommandQueue
    reported_problems: set[str]
    session: AgentSession | None
    scheduler: CronScheduler | None
    recorder: RunRecorder | None
    runs: ChatScheduledRuns | None
    model_name: str | None
    chat: ChatConversation
    asker: PermissionAsker

    def is_busy(self) -> bool: ...

    def stop_turn(self) -> None: ...

    def invalidate(self) -> None: ...

    def on_fire(self, fired: FiredTask) -> None: ...

    def custom_commands(self, *, warn: bool = True) -> CommandSet: ...

    def spawn(self, job: Coroutine[Any, Any, Any], name: str | None = None) -> None: ...


async def load_chat(host: LoadHost, ready: asyncio.Event) -> None:
    """Everything in start-up order, then `ready` is set (also after a failure: /help and /exit work)."""
    try:
        await _load_in_order(host)
    except Exception as exc:  # unexpected: say it in one line and keep what did start
        log.debug("start-up failed", exc_info=True)
        host.renderer.error(f"Start-up failed: {type(exc).__name__}: {exc}")
    finally:
        ready.set()
        host.invalidate()


async def _load_in_order(host: LoadHost) -> None:
    from agent.repl.trust_question import ask_workspace_trust

    renderer = host.renderer
    await ask_workspace_trust(host.project, host.questions, renderer)  # before anything is honoured
    host.session, problem = await asyncio.to_thread(build_session, host.args, host.project, host.reported_problems)
    if host.session is not None:  # a sandboxed command's new host is asked about here
        host.session.network.set_asker(host.asker.network_question(), asyncio.get_running_loop())
    if problem:
        renderer.error(problem)
    session = host.session
    session.hook_notify = renderer.warn
    route_mcp_reports(session, renderer)
    for warning in session.warnings(untrusted_keys=False):  # the question covered the rest
        renderer.warn(warning)
    if host.chat.resume_from is not None:
        problem = await asyncio.to_thread(host.chat.load_resumed)
        host.chat.show_resumed(host.chat.resumed)
        if problem:
            renderer.warn(problem)
    await start_scheduler(host)
    host.custom_commands()  # problems with .claude/commands files, shown once
    problem = await asyncio.to_thread(_load_model_client, host, session)
    if problem:
        renderer.error(problem)
    if session.mcp.awaiting:  # after start-up: the prompt does not wait for the answers
        from agent.repl.mcp_question import ask_mcp_approvals

        host.spawn(ask_mcp_approvals(session, host.questions, renderer), name="mcp-approval")


def _load_model_client(host: LoadHost, session: AgentSession) -> str | None:
    """In a worker thread: the model's name, then the conversation (importing the SDK). The name is set
    here, not on the loop, so the toolbar does not show it at the very next redraw, well before the client
    is there. The error text, if any."""
    host.model_name = session.model
    return host.chat.load_client()


def route_mcp_reports(session: AgentSession, renderer: Renderer) -> None:
    """MCP servers report (died, restarting, reconnected) from their own thread: drawn on this loop."""
    loop = asyncio.get_running_loop()

    def report(line: str) -> None:
        loop.call_soon_threadsafe(renderer.warn, line)
    session.mcp.report = report
    for state in session.mcp.states.values():
        if state.status == "failed" and state.spec.problem:
            renderer.warn(state.spec.problem)
    for line in session.mcp.problems:
        renderer.warn(line)


async def start_scheduler(host: LoadHost) -> None:
    """The in-process scheduler and the run history of its fires; a scheduler that cannot start is said."""
    from agent.cron.scheduler import CronScheduler
    from agent.repl.scheduled_runs import ChatScheduledRuns
    from agent.runs.recorder import RunRecorder

    session = host.session
    assert session is not None
    recorder = RunRecorder.for_session(session, source="chat")
    runs = ChatScheduledRuns(recorder, host.renderer, host.stop_turn, session.cron, retry_later=host.on_fire)
    scheduler = CronScheduler(host.project, host.on_fire, host.is_busy, session_store=session.session_store,
                              file_store=session.file_store, on_missed=lambda tasks: report_missed(host, tasks),
                              on_commit=runs.live.queue)  # each fire recorded `queued` as it is committed
    try:
        await scheduler.start()
    except Exception as exc:
        log.debug("scheduler failed to start", exc_info=True)
        host.renderer.error(f"The scheduler could not start ({exc}); scheduled tasks will not run.")
        return
    host.scheduler = scheduler
    host.recorder = recorder
    host.runs = runs


def report_missed(host: LoadHost, tasks: list[CronTask]) -> None:
    """One-shot tasks that fell due while no session ran: said, and the model asks before running them."""
    from agent.cron.missed import missed_notification
    from agent.cron.zone import local_zone
    from agent.engine.queue import Priority, QueuedPrompt

    count = f"{len(tasks)} one-shot tasks were" if len(tasks) > 1 else "A one-shot task was"
    host.renderer.warn(f"{count} due while no session ran ({', '.join(t.id for t in tasks)}); removed "
                       "from the schedule. Asking the model to check with you before running anything.")
    host.queue.put(QueuedPrompt(missed_notification(tasks, local_zone()), Priority.NEXT, source="missed"))


__all__ = ["LoadHost", "load_chat", "report_missed", "route_mcp_reports", "start_scheduler"]
