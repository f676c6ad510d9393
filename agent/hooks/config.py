"""Pure: the `hooks` settings block in Claude Code's format, and which commands an event runs.

    "hooks": {"PreToolUse": [{"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "...",
                                                                   "timeout": 30}]}]}

A matcher is a tool name, a `|` list or a regular expression matched against the whole subject (the tool
name; for SessionStart the source, for PreCompact the trigger, for Notification its type); `*`, "" or
no matcher match everything. Events without a subject (UserPromptSubmit, Stop, SessionEnd) ignore it.
Entries that are not usable are skipped and named in `problems`, never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

EVENTS = ("PreToolUse", "PostToolUse", "UserPromptSubmit", "Stop", "SessionStart", "SessionEnd",
          "Notification", "PreCompact")
DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class HookCommand:
    command: str
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class HookGroup:
    matcher: str
    commands: tuple[HookCommand, ...]

    def matches(self, subject: str | None) -> bool:
        if self.matcher in ("", "*") or subject is None:
            return True
        try:
            return re.fullmatch(self.matcher, subject) is not None
        except re.error:
            return self.matcher == subject


@dataclass
class HookConfig:
    groups: dict[str, list[HookGroup]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(self.groups.values())

    def commands_for(self, event: str, subject: str | None = None) -> list[HookCommand]:
        """The commands `event` runs for `subject`, each once (Claude Code runs identical commands once)."""
        seen: dict[str, HookCommand] = {}
        for group in self.groups.get(event, []):
            if group.matches(subject):
                for command in group.commands:
                    seen.setdefault(command.command, command)
        return list(seen.values())


def parse_hooks(raw: Any) -> HookConfig:
    """The `hooks` value of the merged settings as a HookConfig."""
    config = HookConfig()
    if raw is None:
        return config
    if not isinstance(raw, dict):
        config.problems.append('"hooks" must be an object of event names')
        return config
    for event, groups in raw.items():
        if event not in EVENTS:
            config.problems.append(f"hooks: unknown or unsupported event {event!r} (skipped)")
            continue
        if not isinstance(groups, list):
            config.problems.append(f"hooks.{event} must be a list")
            continue
        for index, group in enumerate(groups):
            parsed = _group(group, f"hooks.{event}[{index}]", config.problems)
            if parsed is not None:
                config.groups.setdefault(event, []).append(parsed)
    return config


def _group(raw: Any, where: str, problems: list[str]) -> HookGroup | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("hooks"), list):
        problems.append(f'{where} must be an object with a "hooks" list')
        return None
    matcher = raw.get("matcher", "")
    if not isinstance(matcher, str):
        problems.append(f"{where}.matcher must be a string")
        return None
    commands = []
    for index, hook in enumerate(raw["hooks"]):
        command = _command(hook, f"{where}.hooks[{index}]", problems)
        if command is not None:
            commands.append(command)
    return HookGroup(matcher, tuple(commands)) if commands else None


def _command(raw: Any, where: str, problems: list[str]) -> HookCommand | None:
    if not isinstance(raw, dict) or raw.get("type") != "command":
        problems.append(f'{where}: only {{"type": "command"}} hooks are supported (skipped)')
        return None
    command, timeout = raw.get("command"), raw.get("timeout", DEFAULT_TIMEOUT_S)
    if not isinstance(command, str) or not command.strip():
        problems.append(f"{where}.command must be a non-empty string")
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        problems.append(f"{where}.timeout must be a positive number of seconds")
        return None
    return HookCommand(command, float(timeout))
