"""The chat's question for a server of the project's `.mcp.json` that is not approved yet.

Asked only in a trusted folder (an untrusted one never starts project servers), once per server, after
the session has started: the prompt does not wait. "Approve" remembers the server for this project and
starts it; "Deny" remembers that too; Esc leaves it off this time and asks again next time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.repl.question import Option

if TYPE_CHECKING:
    from agent.engine.session import AgentSession
    from agent.repl.question import QuestionBox
    from agent.repl.render import Renderer

__all__ = ["approve", "ask_mcp_approvals", "mcp_options"]


def mcp_options() -> list[Option]:
    return [Option("approve", "Yes, use this MCP server (remembered for this project)"),
            Option("deny", "No, do not start it (remembered; /mcp approve NAME changes that)")]


def _body(session: AgentSession, name: str) -> str:
    spec = session.mcp.states[name].spec
    what = spec.url if spec.transport != "stdio" else " ".join([spec.command, *spec.args])
    return (f"  The project's .mcp.json asks to start this {spec.transport} server:\n    {what}\n"
            "  An MCP server is a program (or a service) that gets to offer tools to the model.\n")


def approve(session: AgentSession, name: str, renderer: Renderer) -> None:
    from agent.mcp import remember_answer

    try:
        remember_answer(session.project_dir, session.env, name, True)
    except OSError as exc:
        renderer.warn(f"Could not remember the approval ({exc}); starting {name} for this session only.")
    session.mcp.enable(name)
    renderer.info(f"Starting MCP server {name} (/mcp shows its status).")


async def ask_mcp_approvals(session: AgentSession, questions: QuestionBox, renderer: Renderer) -> None:
    from agent.mcp import remember_answer

    for name in sorted(session.mcp.awaiting):
        choice = await questions.ask(f"New MCP server found in .mcp.json: {name}", mcp_options(),
                                     detail=str(session.project_dir), body=_body(session, name))
        if choice is None or choice.answer not in ("approve", "deny"):
            renderer.info(f"MCP server {name} stays off for now; you will be asked again next time.")
            continue
        if choice.answer == "approve":
            approve(session, name, renderer)
            continue
        try:
            remember_answer(session.project_dir, session.env, name, False)
        except OSError as exc:
            renderer.warn(f"Could not remember the answer: {exc}")
        session.mcp.awaiting.discard(name)
        session.mcp.states[name].error = "turned off by your answer (/mcp approve NAME starts it)"
        renderer.info(f"MCP server {name} will not start (/mcp approve {name} changes that).")
