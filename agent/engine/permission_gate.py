"""Whether one tool call may run: the permission policy's decision, a PreToolUse hook's word on it, and,
when the answer is "ask", the user's answer (or a denial when nobody is there to ask).

Separate from running the call because this is where the engine meets the security boundary
(agent.permissions decides; this asks and reports): it fails closed (a check that raises means no),
asks one question at a time (concurrent calls, and a subagent shares its parent's turn at the terminal),
and turns every refusal into a `PermissionDenied` event and the error result the model reads.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from dataclasses import dataclass
from typing import Any

from agent.engine import hook_points
from agent.engine.events import PermissionDenied
from agent.engine.prompts import unattended_denial
from agent.permissions.answers import PermissionAnswer
from agent.tools.base import Tool, ToolContext, ToolResult

log = logging.getLogger(__name__)

Conversation = Any  # agent.engine.conversation.Conversation (not imported: it imports this module)


@dataclass(frozen=True)
class Refusal:
    """The call may not run: the error result the model gets instead; `stop` when the user said a plain
    no (no further call of this response, no further request)."""

    result: ToolResult
    stop: bool = False


class PermissionGate:
    """Asks the conversation's policy (read at each call: an isolated run swaps it) and its asker."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self._questions = asyncio.Lock()  # one question at a time, even for concurrent calls

    def share_questions_with(self, other: PermissionGate) -> None:
        """Ask one at a time together with `other` (a subagent's gate and its parent's)."""
        self._questions = other._questions

    async def check(self, tool: Tool, args: Any, ctx: ToolContext, tool_id: str,
                    hook_answer: str | None = None) -> Refusal | None:
        """None when the call may run. A PreToolUse hook's `allow` answers a question (never a deny rule);
        its `ask` turns an allow into a question."""
        policy = self.conversation.policy
        if policy is None:
            return None
        try:
            decision = policy.check(tool, args, ctx)
            if inspect.isawaitable(decision):
                decision = await decision
        except Exception as exc:  # a failed check must never mean "allowed"
            log.exception("permission check for %s failed", tool.name)
            return Refusal(ToolResult(f"Not run: the permission check failed ({exc}).", is_error=True,
                                      summary="denied"))
        behavior, reason = getattr(decision, "behavior", "allow"), getattr(decision, "reason", "") or ""
        if hook_answer == "allow" and behavior == "ask":
            return None
        if hook_answer == "ask" and behavior == "allow":
            behavior, reason = "ask", "a PreToolUse hook asks for approval"
        if behavior == "allow":
            return None
        if behavior == "ask" and self.conversation.asker is None:
            return self._unattended(tool, args, decision, tool_id, reason)
        if behavior == "ask":
            return await self._ask(tool, args, decision, tool_id)
        self.conversation.emit_event(PermissionDenied(tool_id, tool.name, reason or "denied by a rule"))
        return Refusal(ToolResult(f"Permission denied: {reason or 'a deny rule matches this call'}. Do not retry "
                                  "this call in another form.", is_error=True, summary="denied"))

    def _unattended(self, tool: Tool, args: Any, decision: Any, tool_id: str, reason: str) -> Refusal:
        """Nobody to ask (headless, scheduled): denied, naming the rule that would allow it."""
        subject = tool.permission_subject(args)
        rule = getattr(decision, "suggested_rule", None) or (f"{tool.name}({subject})" if subject else tool.name)
        self.conversation.emit_event(PermissionDenied(tool_id, tool.name, reason or "needs approval",
                                                      unattended=True, rule=rule))
        return Refusal(ToolResult(unattended_denial(tool.name, rule, reason), is_error=True,
                                  summary="denied: needs approval, nobody to ask"))

    async def _ask(self, tool: Tool, args: Any, decision: Any, tool_id: str) -> Refusal | None:
        conversation = self.conversation
        hook_points.notify(conversation, f"Claude needs your permission to use {tool.name}", "permission_prompt")
        async with self._questions:
            answer = PermissionAnswer.of(await conversation.asker(tool, args, decision))
        if answer.allowed:
            return None
        rule = getattr(decision, "suggested_rule", None)
        conversation.emit_event(PermissionDenied(tool_id, tool.name, answer.reason, rule=rule, note=answer.note,
                                                 no_answer=answer.unanswered, stopped=answer.stop))
        return Refusal(ToolResult(answer.refusal_text(), is_error=True, summary=answer.summary), stop=answer.stop)
