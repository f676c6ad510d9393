"""/mcp: the session's MCP servers, their status and tools; `/mcp approve NAME` starts a project server."""

from __future__ import annotations

from agent.repl.commands.base import Command, CommandContext, split_args

__all__ = ["MCP_COMMAND", "mcp_rows"]


def mcp_rows(manager) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    from agent.mcp.prompts import prompt_command

    rows = []
    for state in manager.states.values():
        status = state.status + (f": {state.error}" if state.error else "")
        names = [tool.name for tool in state.tools]
        names += ["/" + prompt_command(state.name, p.name) for p in state.prompts]
        rows.append((state.name, f"{state.spec.transport}, {state.spec.scope}", status, ", ".join(names) or "-"))
    return rows


async def mcp(ctx: CommandContext, args: str) -> None:
    manager = ctx.session.mcp
    action, name = split_args(args)
    if action == "approve":
        if name not in manager.states or manager.states[name].spec.scope != "project":
            ctx.renderer.error(f"No project MCP server named {name!r}; /mcp lists them.")
            return
        from agent.repl.mcp_question import approve

        approve(ctx.session, name, ctx.renderer)
        return
    if action:
        ctx.renderer.error("Usage: /mcp, or /mcp approve NAME (a server of .mcp.json).")
        return
    for line in manager.problems:
        ctx.renderer.warn(line)
    if not manager.states:
        ctx.renderer.info("No MCP servers configured. Add one from a shell: agent mcp add NAME -- COMMAND ARGS...")
        return
    ctx.renderer.table(("Server", "Transport, scope", "Status", "Tools and prompts"), mcp_rows(manager),
                       no_wrap=(0,))


MCP_COMMAND = Command("mcp", "list MCP servers, their status and tools (/mcp approve NAME starts one)", mcp,
                      usage="[approve NAME]")
