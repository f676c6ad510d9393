"""The chat's view of the custom commands (`.claude/commands/*.md`): loaded fresh from the files each
time (they may change while the chat runs), with each problem shown once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.engine.custom_commands import CommandSet


class CustomCommands:
    def __init__(self, project: Path, env: Mapping[str, str], reserved: Callable[[], Iterable[str]],
                 warn: Callable[[str], None]) -> None:
        self.project, self.env, self._reserved, self._warn = project, env, reserved, warn
        self._shown: set[str] = set()

    def load(self, *, warn: bool = True) -> CommandSet:
        from agent.engine.custom_commands import load_commands

        commands = load_commands(self.project, self.env, list(self._reserved()))
        for warning in commands.warnings if warn else ():
            if warning not in self._shown:
                self._shown.add(warning)
                self._warn(warning)
        return commands

    def rows(self, signature: bool = True) -> list[tuple[str, str]]:
        """(signature or name, summary) of each command: for /help, or (names) for Tab completion, which
        runs on every key and so shows no warnings."""
        rows = []
        for command in self.load(warn=signature):
            hint = f" {command.argument_hint}" if signature and command.argument_hint else ""
            label = f"/{command.name}{hint}" if signature else command.name
            rows.append((label, f"{command.summary} ({command.scope})"))
        return rows
