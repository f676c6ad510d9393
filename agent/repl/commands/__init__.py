"""Slash commands typed at the REPL prompt: `/help`, `/loop 5m check the build`, `/cron delete ID`, ...

Importing this package is cheap (no pydantic, no SDK): the prompt's completer needs the command names
before the session has loaded. Handlers import what they need when they run.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence

from agent.repl.commands.base import (
    Command,
    CommandContext,
    Handler,
    ReplHost,
    SessionStats,
    split_args,
    task_id_of,
)
from agent.repl.commands.basic import SESSION_COMMANDS, help_command
from agent.repl.commands.mcp import MCP_COMMAND
from agent.repl.commands.memory import MEMORY_COMMANDS
from agent.repl.commands.schedule import SCHEDULE_COMMANDS
from agent.repl.commands.status import SANDBOX_COMMAND, STATUS_COMMAND
from agent.repl.commands.tools_cmds import AGENTS_COMMAND, BASHES_COMMAND


class CommandRegistry:
    """Commands by name and alias."""

    def __init__(self, commands: Iterable[Command] = ()) -> None:
        self.commands: list[Command] = []
        self._by_name: dict[str, Command] = {}
        for command in commands:
            self.add(command)

    def add(self, command: Command) -> None:
        self.commands.append(command)
        for name in (command.name, *command.aliases):
            self._by_name[name] = command

    def get(self, name: str) -> Command | None:
        return self._by_name.get(name.lower())

    def names(self) -> list[str]:
        return [c.name for c in self.commands]

    def all_names(self) -> list[str]:
        """Names and aliases: what a custom command file may not take."""
        return list(self._by_name)

    def suggestions(self, name: str) -> list[str]:
        """Known names close to a mistyped one (prefix matches first)."""
        name = name.lower()
        prefixed = [n for n in self._by_name if n.startswith(name)] if name else []
        close = difflib.get_close_matches(name, list(self._by_name), n=3, cutoff=0.5)
        return list(dict.fromkeys([*prefixed, *close]))[:3]

    def unknown_message(self, name: str) -> str:
        close = self.suggestions(name)
        hint = f" Did you mean {', '.join('/' + c for c in close)}?" if close else ""
        return f"Unknown command /{name}.{hint} /help lists the commands."

    def resolve(self, line: str) -> tuple[Command | None, str, str]:
        """`/loop 5m x` -> (the /loop command, "loop", "5m x"); the command is None when unknown."""
        name, args = split_args(line.strip()[1:])
        return self.get(name), name, args

    async def dispatch(self, ctx: CommandContext, line: str) -> bool:
        """Run the command on `line`; False (after saying so) when there is no such command."""
        command, name, args = self.resolve(line)
        if command is None:
            ctx.renderer.error(self.unknown_message(name))
            return False
        await command.handler(ctx, args)
        return True


def default_registry(custom: Callable[[], Sequence[tuple[str, str]]] | None = None) -> CommandRegistry:
    """/help first, then the session and scheduling commands, /exit last. `custom` lists the custom
    commands (signature, summary) for /help."""
    registry = CommandRegistry()
    registry.add(help_command(lambda: registry.commands, custom))
    for command in (*SESSION_COMMANDS[:-1], *MEMORY_COMMANDS, *SCHEDULE_COMMANDS, STATUS_COMMAND, SANDBOX_COMMAND,
                    BASHES_COMMAND, AGENTS_COMMAND, MCP_COMMAND, SESSION_COMMANDS[-1]):
        registry.add(command)
    return registry


__all__ = [
    "Command",
    "CommandContext",
    "CommandRegistry",
    "Handler",
    "ReplHost",
    "SessionStats",
    "default_registry",
    "split_args",
    "task_id_of",
]
