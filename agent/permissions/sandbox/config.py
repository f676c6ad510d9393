"""The `sandbox` settings block, in Claude Code's names, read from the merged Settings. Pure.

    {"sandbox": {"enabled": true, "autoAllowBashIfSandboxed": true, "excludedCommands": ["docker"],
                 "allowUnsandboxedCommands": true, "failIfUnavailable": false,
                 "network": {"allowedDomains": ["pypi.org"]},
                 "filesystem": {"allowWrite": ["~/.cache/pip"], "denyRead": ["~/secrets"]}}}

`enabled` left out means: off in the chat and `agent -p` (as Claude Code), on for scheduled runs wherever a
backend exists. A value of the wrong type is not guessed at: it is reported (`problems`) and the safe
reading is used (the sandbox stays as strict as it would be without the key). Which keys a project file
may set in a folder the user has not trusted is decided where settings are loaded, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SandboxSettings"]


@dataclass(frozen=True)
class SandboxSettings:
    enabled: bool | None = None  # None: the default for the kind of run (on for scheduled runs)
    auto_allow: bool = True  # autoAllowBashIfSandboxed
    excluded_commands: tuple[str, ...] = ()
    allow_unsandboxed: bool = True  # allowUnsandboxedCommands: dangerouslyDisableSandbox may be asked for
    fail_if_unavailable: bool = False
    allowed_domains: tuple[str, ...] = ()
    allow_write: tuple[str, ...] = ()
    deny_read: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_settings(cls, settings: Any) -> SandboxSettings:
        """From a Settings object (or a plain dict of the whole settings)."""
        raw = settings.get("sandbox") if hasattr(settings, "get") else None
        return cls.from_block(raw)

    @classmethod
    def from_block(cls, block: Any) -> SandboxSettings:
        problems: list[str] = []
        if block is None:
            return cls()
        if not isinstance(block, Mapping):
            return cls(problems=('"sandbox" must be an object; ignored',))
        network = _section(block, "network", problems)
        filesystem = _section(block, "filesystem", problems)
        return cls(
            enabled=_flag(block, "enabled", None, problems),
            auto_allow=_flag(block, "autoAllowBashIfSandboxed", True, problems, unsafe_default=False),
            excluded_commands=_strings(block, "excludedCommands", problems),
            allow_unsandboxed=_flag(block, "allowUnsandboxedCommands", True, problems, unsafe_default=False),
            fail_if_unavailable=_flag(block, "failIfUnavailable", False, problems, unsafe_default=True),
            allowed_domains=_strings(network, "allowedDomains", problems, "sandbox.network."),
            allow_write=_strings(filesystem, "allowWrite", problems, "sandbox.filesystem."),
            deny_read=_strings(filesystem, "denyRead", problems, "sandbox.filesystem."),
            problems=tuple(problems),
        )

    def active(self, *, scheduled: bool) -> bool:
        """Whether commands of this kind of run should be sandboxed (before asking if a backend exists)."""
        return self.enabled if self.enabled is not None else scheduled


def _section(block: Mapping[str, Any], key: str, problems: list[str]) -> Mapping[str, Any]:
    value = block.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f'"sandbox.{key}" must be an object; ignored')
        return {}
    return value


def _flag(block: Mapping[str, Any], key: str, default: bool | None, problems: list[str], *,
          unsafe_default: bool | None = None) -> Any:
    """A boolean key. A wrong type falls back to `unsafe_default` when given (the stricter reading)."""
    value = block.get(key)
    if value is None or isinstance(value, bool):
        return default if value is None else value
    fallback = default if unsafe_default is None else unsafe_default
    problems.append(f'"sandbox.{key}" must be true or false, not {value!r}; read as {fallback}')
    return fallback


def _strings(block: Mapping[str, Any], key: str, problems: list[str], prefix: str = "sandbox.") -> tuple[str, ...]:
    value = block.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        problems.append(f'"{prefix}{key}" must be a list of non-empty strings; ignored')
        return ()
    return tuple(item.strip() for item in value)
