"""Running a subagent (the Task tool): a separate conversation with its own history, the tools its type
allows (never Task itself), the session's permission policy and whoever answers the parent's questions.
Its tokens and cost are added to the parent's turn, so the chat, `-p` and a scheduled run's record count
them; its permission denials reach the parent's events (a scheduled run records them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.engine.events import (  # session below: an AgentSession (it imports this module)
    Event,
    PermissionDenied,
    SubagentProgress,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
    UsageReport,
)

PROGRESS_EVENTS = (ToolCallStarted, ToolCallFinished, UsageReport, TurnFinished)  # what the chat shows of it

if TYPE_CHECKING:
    from agent.tools.base import ToolContext
    from agent.tools.subagents import AgentType

SUBAGENT_NOTE = (
    "You are a subagent: another agent gave you the task below. Work on it on your own with your tools, then "
    "end with one final message that is your complete answer; it is all the other agent will see."
)


async def run_subagent(session: Any, kind: AgentType, prompt: str, ctx: ToolContext) -> str:
    from datetime import datetime

    from agent.engine.conversation import Conversation
    from agent.engine.prompts import build_system_prompt

    parent: Any = ctx.parent
    # never Task (no agents of agents) nor TodoWrite (the list on screen and in the run's record is the parent's)
    wanted = kind.tools or session.tools.names()
    names = [n for n in wanted if n not in ("Task", "TodoWrite") and session.tools.get(n)]
    tools = session.tools.restricted(names)
    system = build_system_prompt(session.project_dir, tools.names(), now=datetime.now().astimezone(),
                                 headless=session.options.headless)
    system += f"\n\n{SUBAGENT_NOTE}" + (f"\n\n{kind.prompt}" if kind.prompt else "")
    llm = session.llm_for(kind.model) if kind.model else session.llm()  # a model of its own is closed after

    def forward(event: Event) -> None:
        if parent is None:
            return
        if isinstance(event, PermissionDenied):
            parent.emit_event(event)
        elif isinstance(event, PROGRESS_EVENTS) and ctx.tool_use_id:
            parent.emit_event(SubagentProgress(ctx.tool_use_id, kind.name, event))

    conversation = Conversation(llm, tools, ctx, session.policy, system_prompt=system,
                                asker=getattr(parent, "asker", None), max_turns=session.options.max_turns,
                                emit=forward)
    if parent is not None:
        conversation.share_questions_with(parent)
    try:
        turn = await conversation.run_turn(prompt, run_id=ctx.run.run_id,
                                           source="cron" if ctx.run.scheduled else None)
    finally:
        if kind.model:
            await llm.aclose()
        spent = conversation.turn_so_far  # also when cancelled: what it used is still spent
        if parent is not None and spent is not None:
            parent.account_subagent(spent.usage, spent.cost_usd)
    if turn.is_error:
        return f"The agent stopped with an error: {turn.error}\n\n{turn.result_text}".strip()
    return turn.result_text
