"""BashOutput and KillShell: follow up on a command Bash started with `run_in_background: true`."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from agent.tools.background import BackgroundShells
from agent.tools.base import Tool, ToolContext, ToolError, ToolResult


def _shells(ctx: ToolContext) -> BackgroundShells:
    if ctx.shells is None:
        raise ToolError("There are no background shells in this session.")
    return ctx.shells


class BashOutputInput(BaseModel):
    bash_id: str = Field(description="The ID of the background shell to retrieve output from")
    filter: str | None = Field(
        None, description="Optional regular expression to filter the output lines. Only lines matching this "
        "regex will be included in the result. Any lines that do not match will no longer be available to read.",
    )


class BashOutputTool(Tool):
    name = "BashOutput"
    read_only = True
    Input = BashOutputInput
    description = (
        "Retrieves output from a running or completed background bash shell (started with Bash "
        "run_in_background: true).\n\n"
        "- Returns only the output printed since the last call, with the shell's status (running, completed, "
        "failed, killed) and its exit code once it has ended.\n"
        "- The optional filter is a regular expression: only matching lines are returned (the rest are consumed).\n"
        "- Use /bashes in the chat to list shells."
    )

    def key_argument(self, args: BaseModel) -> str:
        return str(args.bash_id)  # type: ignore[attr-defined]

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, BashOutputInput)
        pattern = None
        if args.filter:
            try:
                pattern = re.compile(args.filter)
            except re.error as exc:
                raise ToolError(f"filter is not a valid regular expression: {exc}.") from None
        shell = _shells(ctx).get(args.bash_id)
        text, dropped = shell.take_output()
        if pattern is not None:
            text = "\n".join(line for line in text.splitlines() if pattern.search(line))
        parts = [f"<status>{shell.status}</status>"]
        if shell.proc.returncode is not None:
            parts.append(f"<exit_code>{shell.proc.returncode}</exit_code>")
        if dropped:
            parts.append(f"<note>{dropped:,} bytes of earlier output were dropped unread</note>")
        if text.strip():
            parts.append(f"<stdout>\n{text.rstrip()}\n</stdout>")
        parts.append(f"<timestamp>{_now()}</timestamp>")
        return ToolResult("\n\n".join(parts), summary=f"{shell.id} {shell.status}")


class KillShellInput(BaseModel):
    shell_id: str = Field(description="The ID of the background shell to kill")


class KillShellTool(Tool):
    name = "KillShell"
    read_only = True  # it only stops a shell this session's model started itself: never worth a question
    Input = KillShellInput
    description = (
        "Kills a running background bash shell by its ID, with every process it started. Returns a success "
        "or failure status. Use it to stop a server or watcher you no longer need."
    )

    def key_argument(self, args: BaseModel) -> str:
        return str(args.shell_id)  # type: ignore[attr-defined]

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, KillShellInput)
        shells = _shells(ctx)
        shell = shells.get(args.shell_id)
        if shell.proc.returncode is not None:
            raise ToolError(f"Shell {shell.id} is not running (status: {shell.status}).")
        await shells.kill(shell.id)
        return ToolResult(f"Successfully killed shell: {shell.id} ({shell.command})", summary=f"killed {shell.id}")


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
