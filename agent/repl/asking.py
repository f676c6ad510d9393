"""The questions a turn's tools ask the person at the chat: a tool call's permission (with the whole diff
of an Edit or Write) and a sandboxed command's new network host.

Separate from the application because asking has rules of its own: a question from a scheduled run
says which task asks, offers to delete that task and gives up after a time limit (nobody may be at the
terminal), and "yes, for this session" adds the rule to the session's policy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from agent.permissions.answers import PermissionAnswer
from agent.repl.commands import task_id_of
from agent.repl.question import permission_options, permission_title
from agent.repl.render import shorten
from agent.repl.tool_output import printable

if TYPE_CHECKING:
    from pathlib import Path

    from agent.engine.queue import QueuedPrompt
    from agent.engine.session import AgentSession
    from agent.repl.network_question import NetworkQuestion
    from agent.repl.question import QuestionBox
    from agent.repl.render import Renderer

log = logging.getLogger(__name__)

UNATTENDED_ANSWER_S = 60.0  # a question in a scheduled turn unanswered this long: nobody is at the terminal


def unattended_answer_s(env: Mapping[str, str]) -> float:
    """The time limit of a scheduled run's question; AGENT_UNATTENDED_ANSWER_S (seconds) is for tests."""
    try:
        value = float(env.get("AGENT_UNATTENDED_ANSWER_S", ""))
    except ValueError:
        return UNATTENDED_ANSWER_S
    return value if 0 < value < 86_400 else UNATTENDED_ANSWER_S


class AskHost(Protocol):
    """What the questions need from the chat (`agent.repl.app.Repl`)."""

    project: Path
    questions: QuestionBox
    renderer: Renderer
    session: AgentSession | None
    unattended_answer_s: float

    async def delete_scheduled_task(self, task_id: str) -> bool: ...


class PermissionAsker:
    """Asks in the prompt on behalf of the running turn; `scheduled` is the fire that turn runs, if any."""

    def __init__(self, host: AskHost, scheduled: Callable[[], QueuedPrompt | None]) -> None:
        self.host = host
        self.scheduled = scheduled

    async def ask(self, tool: Any, args: Any, decision: Any) -> PermissionAnswer:
        """The permission question, as a menu in the prompt (see agent.repl.question)."""
        host = self.host
        subject = tool.permission_subject(args) or tool.key_argument(args)
        rule = getattr(decision, "suggested_rule", None)
        scheduled = self.scheduled()
        task_id = task_id_of(scheduled) if scheduled is not None else None
        title, command = permission_title(tool.name, subject or "")
        asker = (f"Scheduled task {task_id or '?'} asks ({shorten(scheduled.text, 60)})"
                 if scheduled is not None else "")
        description = printable(str(getattr(args, "description", None) or "").strip())
        body = "" if getattr(decision, "conceal", False) else await self._change_body(tool, args)  # Read-denied
        host.renderer.waiting = True
        try:
            choice = await host.questions.ask(
                title, permission_options(rule, task_id), detail=printable(getattr(decision, "reason", "")), body=body,
                asker=asker, command=command, description=" ".join(description.split()),
                timeout=host.unattended_answer_s if scheduled is not None else None)
        finally:
            host.renderer.waiting = False
        if choice is None:  # the conversation tells the model (and the screen) that nobody answered
            return PermissionAnswer(False, unanswered=True)
        if choice.answer == "always" and rule and host.session is not None:
            host.session.policy.allow_for_session(rule)
        if choice.answer == "delete" and task_id:
            if await host.delete_scheduled_task(task_id):
                return PermissionAnswer(False, note=f"Stop this run: I deleted scheduled task {task_id}, so it "
                                                    "will not run again.")
            return PermissionAnswer(False)  # the deletion failed and said why on screen
        allowed = choice.answer in ("yes", "always")
        if allowed:  # a refusal is shown by the conversation's PermissionDenied event, with any note
            host.renderer.info(f"  {tool.name}: " + ("allowed once" if choice.answer == "yes"
                                                      else f"allowed for this session ({rule})"))
        return PermissionAnswer(allowed, note=choice.note, stop=choice.answer == "no")

    def network_question(self) -> NetworkQuestion:
        """The question about a sandboxed command's new host, asked the same way."""
        from agent.repl.network_question import NetworkQuestion

        def scheduled() -> tuple[str, float] | None:
            item = self.scheduled()
            if item is None:
                return None
            return (f"Scheduled task {task_id_of(item) or '?'} asks ({shorten(item.text, 60)})",
                    self.host.unattended_answer_s)

        return NetworkQuestion(self.host.questions, self.host.renderer, scheduled=scheduled)

    async def _change_body(self, tool: Any, args: Any) -> str:
        """An Edit or Write question's whole diff (ANSI, lines uncut: the question wraps them and pages
        what does not fit), shown between its title and its options; "" for other tools."""
        from agent.repl.diffs import question_body

        if tool.name not in ("Edit", "Write"):  # nothing to preview: ask at once
            return ""
        raw = args.model_dump() if hasattr(args, "model_dump") else dict(args or {})
        try:
            body = await asyncio.to_thread(question_body, tool.name, raw, self.host.project,
                                           color=self.host.renderer.color, width=None)
        except Exception:  # the question matters more than its diff
            log.exception("could not show the change for %s", tool.name)
            return ""
        return body.rstrip("\n")


__all__ = ["UNATTENDED_ANSWER_S", "AskHost", "PermissionAsker", "unattended_answer_s"]
