"""/bashes: the background shells of this session (Bash run_in_background), and /bashes kill ID.
/agents: the subagent types the Task tool offers."""

from __future__ import annotations

import time

from agent.repl.commands.base import Command, CommandContext, split_args


async def bashes(ctx: CommandContext, args: str) -> None:
    shells = ctx.session.ctx.shells
    action, shell_id = split_args(args)
    if shells is None or not list(shells):
        ctx.renderer.info("No background shells. The model starts one with Bash run_in_background.")
        return
    if action == "kill":
        from agent.tools.base import ToolError

        try:
            shell = await shells.kill(shell_id)
        except ToolError as exc:
            ctx.renderer.error(str(exc))
            return
        ctx.renderer.info(f"Killed {shell.id}: {shell.command}")
        return
    if action:
        ctx.renderer.error(f"Unknown /bashes argument {action!r}: use /bashes or /bashes kill ID.")
        return
    now = time.time()
    rows = [(shell.id, shell.status, f"{int(now - shell.started)}s", shell.command) for shell in shells]
    ctx.renderer.table(("id", "status", "age", "command"), rows, title="Background shells")


BASHES_COMMAND = Command("bashes", "list the background shells the model started; /bashes kill ID stops one",
                         bashes, usage="[kill ID]")


async def agents(ctx: CommandContext, args: str) -> None:
    rows = []
    for kind in ctx.session.agent_types.values():
        tools = ", ".join(kind.tools) if kind.tools else "all"
        where = str(kind.path) if kind.path else kind.source
        rows.append((kind.name, kind.description, tools, kind.model or "inherit", where))
    ctx.renderer.table(("name", "description", "tools", "model", "from"), rows, title="Subagent types")
    ctx.renderer.info("Add one as .claude/agents/NAME.md (or ~/.claude/agents/) with front matter name, "
                      "description, tools, model; it is read when the session starts.")


AGENTS_COMMAND = Command("agents", "list the subagent types the model can hand work to (Task)", agents)
