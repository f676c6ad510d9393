"""The workspace-trust gate: what a project's own settings files may set.

A repository brings `.claude/settings.json` (committed) and may bring `.claude/settings.local.json`;
both are written by whoever wrote the repository. `load_settings` passes every project file through
`gate_project_settings` before merging it, so this module is the one place that decides:

- in a folder the user has not trusted (`agent trust`, or "trust" in the chat's question), the keys in
  `UNTRUSTED_PROJECT_IGNORES` are dropped: each can run a program, move a credential or widen what the
  agent may do without asking. They are named in `Settings.ignored`, so every face can say so;
- whatever the trust, `NEVER_FROM_PROJECT_ENV` and `NEVER_FROM_PROJECT_MODES` are dropped: a project
  never sets the credentials, the state location or bypass mode. They are named in `Settings.refused`.

The user's own `~/.claude/settings.json` never passes through here: it is theirs. Hooks and MCP servers
(coming) read their keys from the merged `Settings`, so they get the gated view without further checks.
Only the standard library is used (settings load on the fast path of every command).
"""

from __future__ import annotations

import copy
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "NEVER_FROM_PROJECT_ENV",
    "NEVER_FROM_PROJECT_MODES",
    "UNTRUSTED_PROJECT_IGNORES",
    "GateResult",
    "GatedKey",
    "effective_env",
    "gate_project_settings",
    "ignored_warning",
    "outside_warning",
    "refused_warning",
    "resolves_inside",
    "trust_command",
]


def _always(_value: Any) -> bool:
    return True


def _not_false(value: Any) -> bool:
    return value is not False


def _truthy(value: Any) -> bool:
    return bool(value)


@dataclass(frozen=True)
class GatedKey:
    """One key of a project settings file that an untrusted folder may not set."""

    path: tuple[str, ...]
    why: str
    widens: Callable[[Any], bool] = _always  # False for a value that only narrows (kept: it is safe)
    by_child: bool = False  # report each child (`env.ANTHROPIC_BASE_URL`) rather than the key

    @property
    def name(self) -> str:
        return ".".join(self.path)


# Honoured from a project file only once the user trusts the folder. Each entry says why it is here.
UNTRUSTED_PROJECT_IGNORES: tuple[GatedKey, ...] = (
    GatedKey(("env",), "variables for the agent and its model client: ANTHROPIC_BASE_URL would send your key "
             "to another server", by_child=True),
    GatedKey(("cron", "notify"), "`command` runs a program and `webhook` posts run details to a URL, on every "
             "failed scheduled run", by_child=True),
    GatedKey(("hooks",), "hooks run programs around tool calls and prompts"),
    GatedKey(("enabledMcpjsonServers",), "starts the named MCP servers of .mcp.json, which are programs"),
    GatedKey(("enableAllProjectMcpServers",), "starts every MCP server of .mcp.json", _truthy),
    GatedKey(("apiKeyHelper",), "a program whose output is sent as your credential"),
    GatedKey(("statusLine",), "Claude Code runs its command to draw the status line"),
    GatedKey(("otelHeadersHelper",), "Claude Code runs this program for telemetry headers"),
    GatedKey(("awsAuthRefresh",), "Claude Code runs this program to refresh cloud credentials"),
    GatedKey(("awsCredentialExport",), "Claude Code runs this program to export cloud credentials"),
    GatedKey(("permissions", "defaultMode"), "a mode wider than default (acceptEdits) edits without asking; "
             "plan and default only narrow, so they stay", lambda mode: mode not in ("default", "plan")),
    GatedKey(("permissions", "allow"), "rules that run tools without asking: a committed Bash(curl:*) and a "
             "prompt planted in a file would send your files out with no question", _truthy),
    GatedKey(("permissions", "additionalDirectories"), "lets the tools read and write outside the project"),
    GatedKey(("sandbox", "enabled"), "turning the sandbox off removes the boundary", lambda v: v is False),
    GatedKey(("sandbox", "autoAllowBashIfSandboxed"), "runs sandboxed commands without asking", _not_false),
    GatedKey(("sandbox", "excludedCommands"), "commands that run outside the sandbox", _truthy),
    GatedKey(("sandbox", "allowUnsandboxedCommands"), "lets a command leave the sandbox", _not_false),
    GatedKey(("sandbox", "network", "allowedDomains"), "hosts sandboxed commands may reach", _truthy),
    GatedKey(("sandbox", "filesystem", "allowWrite"), "places sandboxed commands may write", _truthy),
)

# Never taken from a project file, trusted or not (the user's own settings and the shell may set them).
NEVER_FROM_PROJECT_ENV: Mapping[str, str] = {
    "ANTHROPIC_API_KEY": "a credential: yours comes from your shell or your own settings",
    "ANTHROPIC_AUTH_TOKEN": "a credential: yours comes from your shell or your own settings",
    "XDG_STATE_HOME": "would move transcripts, run history and the trust store (into the repository, say)",
    "HOME": "would move your own settings, commands and state",
    "CLAUDE_CONFIG_DIR": "would decide where your own settings and commands are read from",
}
NEVER_FROM_PROJECT_MODES: tuple[str, ...] = ("bypassPermissions",)  # only from your settings or the flag


@dataclass
class GateResult:
    data: dict[str, Any]
    ignored: list[str] = field(default_factory=list)  # dropped because the folder is not trusted
    refused: list[str] = field(default_factory=list)  # dropped whatever the trust


def _lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> tuple[Mapping[str, Any] | None, Any]:
    """The mapping that holds the key at `path` and its value; (None, None) when absent."""
    holder: Any = data
    for part in path[:-1]:
        holder = holder.get(part) if isinstance(holder, Mapping) else None
    if not isinstance(holder, Mapping) or path[-1] not in holder:
        return None, None
    return holder, holder[path[-1]]


def gate_project_settings(data: Mapping[str, Any], *, trusted: bool) -> GateResult:
    """A project file's settings with what it may not set removed (a copy), and what was removed."""
    result = GateResult(copy.deepcopy(dict(data)))
    kept = result.data
    perms = kept.get("permissions")
    if isinstance(perms, dict) and perms.get("defaultMode") in NEVER_FROM_PROJECT_MODES:
        result.refused.append(f"permissions.defaultMode {perms.pop('defaultMode')}")
    env = kept.get("env")
    if isinstance(env, dict):
        for name in [n for n in env if n in NEVER_FROM_PROJECT_ENV]:
            del env[name]
            result.refused.append(f"env.{name}")
    if trusted:
        return result
    for key in UNTRUSTED_PROJECT_IGNORES:
        holder, value = _lookup(kept, key.path)
        if holder is None or not key.widens(value):
            continue
        assert isinstance(holder, dict)
        del holder[key.path[-1]]
        if key.by_child and isinstance(value, Mapping) and value:
            result.ignored += [f"{key.name}.{child}" for child in value]
        elif not (key.by_child and isinstance(value, Mapping)):  # an empty mapping sets nothing
            result.ignored.append(key.name)
    return result


def effective_env(settings_env: Mapping[str, str], process_env: Mapping[str, str]) -> dict[str, str]:
    """The environment the agent and its model client use: the (gated) settings `env` under the
    process's own variables, which always win. The one place settings `env` meets the process."""
    return {**settings_env, **process_env}


def trust_command(project_dir: Path) -> str:
    return f"agent trust {shlex.quote(str(project_dir))}"


def ignored_warning(project_dir: Path, ignored: list[str]) -> str:
    """The one line a headless run prints when an untrusted folder's settings were ignored."""
    return (f"this folder is not trusted, so these settings from its .claude files were ignored: "
            f"{', '.join(ignored)}; to trust it: {trust_command(project_dir)}")


def refused_warning(refused: list[str]) -> str:
    return (f"ignored from the project's .claude settings (a project file may never set these; use your own "
            f"~/.claude/settings.json, the environment or the command line): {', '.join(refused)}")


def resolves_inside(path: Path, project_dir: Path) -> bool:
    """Whether `path`, symlinks followed, is inside `project_dir`. A memory or command file of the
    project that resolves elsewhere (a committed `CLAUDE.md -> ~/.ssh/id_rsa`) is not read."""
    real, root = Path(os.path.realpath(path)), Path(os.path.realpath(project_dir))
    return real == root or root in real.parents


def outside_warning(what: str, paths: list[Path], project_dir: Path) -> str:
    """One line for the project files that were not read because they resolve outside the project."""
    shown = ", ".join(f"{p.relative_to(project_dir) if p.is_relative_to(project_dir) else p} -> "
                      f"{os.path.realpath(p)}" for p in paths[:3])
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return f"{what} that resolve outside the project were not read (a link to a file elsewhere): {shown}{more}"
