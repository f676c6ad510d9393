"""Where a conversation calls its hooks (agent.hooks), and what it does with their answers.

Kept out of the tool-use loop so that the loop reads as the loop: each function takes the conversation,
runs one event's hooks when it has any, and returns what the loop must act on. A conversation without
hooks (`conversation.hooks` None or empty) pays nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agent.hooks import HookOutcome

Conversation = Any  # agent.engine.conversation.Conversation (not imported: it imports this module)

STOP_CONTEXT = "Hook context"


def _runner(conversation: Conversation, event: str) -> Any:
    hooks = conversation.hooks
    return hooks if hooks is not None and hooks.has(event) else None


def _sync_ids(conversation: Conversation) -> None:
    hooks = conversation.hooks
    transcript = conversation.transcript
    hooks.cwd = conversation.ctx.project_dir
    if transcript is not None:
        hooks.session_id = str(getattr(transcript, "session_id", "") or "")
        hooks.transcript_path = str(getattr(transcript, "path", "") or "")


def context_block(outcome: HookOutcome, event: str) -> list[dict[str, Any]]:
    """Context hooks gave for the model, as a text block of the user message ([] when none)."""
    if not outcome.context:
        return []
    return [{"type": "text", "text": f"<{event.lower()}-hook-context>\n" + "\n".join(outcome.context)
             + f"\n</{event.lower()}-hook-context>"}]


def scheduled_fields(task_id: str | None) -> dict[str, Any]:
    return {"source": "scheduled", "task_id": task_id} if task_id else {}


async def session_started(conversation: Conversation, task_id: str | None) -> list[dict[str, Any]]:
    """SessionStart, once per conversation, before its first prompt: the context blocks it gave."""
    if conversation.session_started or conversation.hooks is None:
        return []
    conversation.session_started = True
    source = "scheduled" if task_id else conversation.session_source
    if _runner(conversation, "SessionStart") is None:
        return []
    _sync_ids(conversation)
    fields: dict[str, Any] = {"source": source, **({"task_id": task_id} if task_id else {})}
    outcome = await conversation.hooks.run("SessionStart", fields, subject=source)
    return context_block(outcome, "SessionStart")


async def session_ended(conversation: Conversation, reason: str) -> None:
    """SessionEnd, when a started session closes (`reason`: clear, logout, prompt_input_exit, other)."""
    if not conversation.session_started or _runner(conversation, "SessionEnd") is None:
        return
    conversation.session_started = False
    _sync_ids(conversation)
    await conversation.hooks.run("SessionEnd", {"reason": reason}, subject=reason)


async def prompt_submitted(conversation: Conversation, prompt: str, task_id: str | None) -> HookOutcome:
    """UserPromptSubmit: blocked (reason for the user), stop, or context to send with the prompt."""
    if _runner(conversation, "UserPromptSubmit") is None:
        return HookOutcome("UserPromptSubmit")
    _sync_ids(conversation)
    return await conversation.hooks.run("UserPromptSubmit", {"prompt": prompt, **scheduled_fields(task_id)})


async def before_tool(conversation: Conversation, name: str, tool_input: Any, tool_use_id: str) -> HookOutcome:
    if _runner(conversation, "PreToolUse") is None:
        return HookOutcome("PreToolUse")
    _sync_ids(conversation)
    fields = {"tool_name": name, "tool_input": tool_input, "tool_use_id": tool_use_id}
    return await conversation.hooks.run("PreToolUse", fields, subject=name)


async def after_tool(conversation: Conversation, name: str, tool_input: Any, tool_use_id: str,
                     content: str) -> str:
    """PostToolUse after a call that ran: the result content with the hooks' feedback for the model."""
    if _runner(conversation, "PostToolUse") is None:
        return content
    _sync_ids(conversation)
    fields = {"tool_name": name, "tool_input": tool_input, "tool_use_id": tool_use_id,
              "tool_response": {"content": content}}
    outcome = await conversation.hooks.run("PostToolUse", fields, subject=name)
    _note_stop(conversation, outcome)
    notes = [*([f"PostToolUse hook feedback: {outcome.reason}"] if outcome.blocked else []), *outcome.context]
    return content + "".join(f"\n\n{note}" for note in notes)


async def stop_requested(conversation: Conversation, active: bool) -> str | None:
    """Stop: the reason the model must go on (a hook blocked the stop), else None."""
    if _runner(conversation, "Stop") is None:
        return None
    _sync_ids(conversation)
    outcome = await conversation.hooks.run("Stop", {"stop_hook_active": active})
    _note_stop(conversation, outcome)
    if outcome.stop or not outcome.blocked:
        return None
    return outcome.reason or "A Stop hook asked you to continue."


async def before_compact(conversation: Conversation, trigger: str) -> None:
    if _runner(conversation, "PreCompact") is None:
        return
    _sync_ids(conversation)
    await conversation.hooks.run("PreCompact", {"trigger": trigger, "custom_instructions": ""}, subject=trigger)


def notify(conversation: Conversation, message: str, kind: str) -> None:
    """Notification, without holding up the question it announces."""
    if _runner(conversation, "Notification") is None:
        return
    _sync_ids(conversation)
    task = asyncio.ensure_future(conversation.hooks.run(
        "Notification", {"message": message, "notification_type": kind}, subject=kind))
    conversation.background.add(task)
    task.add_done_callback(conversation.background.discard)


def _note_stop(conversation: Conversation, outcome: HookOutcome) -> None:
    if outcome.stop and conversation.halted is None:
        conversation.halted = outcome.stop_reason or f"stopped by a {outcome.event} hook"
