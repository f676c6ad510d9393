"""MCP server configuration in Claude Code's formats, and where each scope lives.

- project scope: `.mcp.json` at the project root, `{"mcpServers": {name: server}}` (committed, shared);
- user scope: top-level `mcpServers` of Claude Code's `~/.claude.json` (read) and of our own
  `agent-mcp.json` in the user's config folder (`$CLAUDE_CONFIG_DIR` or `~/.claude`; read and written);
- local scope: `projects[<abs project path>].mcpServers` in the same two files;
- `--mcp-config FILE_OR_JSON` (`-p`, repeatable), with `--strict-mcp-config` the only source.

`agent mcp add` writes our own file, never `~/.claude.json`: Claude Code rewrites that file (OAuth session,
caches) while it runs, so a second writer could lose the user's login or our change.

A server is `{"command", "args", "env"}` (stdio; `"type": "stdio"` optional) or `{"type": "http"|"sse", "url",
"headers"}`. `${VAR}` and `${VAR:-default}` are expanded in command, args, env, url and headers; a variable
that is unset and has no default leaves the server unusable (it is reported, never started half-configured).
On a name clash local wins over project, project over user (Claude Code's order); `--mcp-config` over all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.jsonfile import MIB, JSONFileError, load_json, read_regular_file
from agent.settings import SettingsRuleError

PROJECT_FILE = ".mcp.json"
OUR_FILE = "agent-mcp.json"
SCOPES = ("local", "project", "user")
TRANSPORTS = ("stdio", "http", "sse")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_CONFIG_BYTES = 16 * MIB  # ~/.claude.json grows with Claude Code's caches
# The model credential never reaches a server: not in a stdio server's environment (unless its own
# config sets it) and never through `${VAR}` in a committed `.mcp.json` (a header to a remote URL, say).
CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


class McpConfigError(SettingsRuleError):
    """A config file, server entry or `--mcp-config` value cannot be used; the message names it and what to
    fix. A settings rule error to the faces: bad input, exit status 2."""


@dataclass
class ServerSpec:
    """One configured server, variables expanded. `problem` set: configured but unusable (reported)."""

    name: str
    scope: str  # local | project | user | dynamic (--mcp-config)
    transport: str = "stdio"
    command: str = ""
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    source: str = ""
    problem: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # as written (unexpanded), for `agent mcp get`


def config_dir(env: Mapping[str, str]) -> Path:
    base = env.get("CLAUDE_CONFIG_DIR")
    return Path(base) if base else Path(env.get("HOME") or Path.home()) / ".claude"


def claude_json_path(env: Mapping[str, str]) -> Path:
    """Claude Code's own state file: `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`."""
    base = env.get("CLAUDE_CONFIG_DIR")
    return Path(base) / ".claude.json" if base else Path(env.get("HOME") or Path.home()) / ".claude.json"


def our_config_path(env: Mapping[str, str]) -> Path:
    return config_dir(env) / OUR_FILE


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or "__" in name:
        raise McpConfigError(f"invalid MCP server name {name!r}: use letters, digits, '-' and single '_' "
                             "(tools are named mcp__<server>__<tool>)")
    return name


def read_json_file(path: Path, *, cap: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    """A JSON object from `path`; {} when absent. Raises McpConfigError when unusable."""
    try:
        raw = read_regular_file(path, cap)
    except JSONFileError as exc:
        raise McpConfigError(f"cannot read {path}: {exc.reason}") from None
    if raw is None or not raw.strip():
        return {}
    try:
        data = load_json(raw)
    except JSONFileError as exc:
        raise McpConfigError(f"{path} is not valid JSON ({exc.reason}); fix or remove it") from None
    if not isinstance(data, dict):
        raise McpConfigError(f"{path} must hold a JSON object")
    return data


def expand(text: str, env: Mapping[str, str], missing: list[str]) -> str:
    """`${VAR}` and `${VAR:-default}` from `env`; names of unset variables without a default go to `missing`."""
    def one(match: re.Match[str]) -> str:
        value = env.get(match.group(1))
        if value is None or (value == "" and match.group(2) is not None):
            if match.group(2) is None:
                missing.append(match.group(1))
                return ""
            return match.group(2)
        return value
    return _VAR.sub(one, text)


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise McpConfigError(f"{what} must be a list of strings")
    return value


def _string_map(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise McpConfigError(f"{what} must be an object of strings")
    return {str(k): v for k, v in value.items()}


def parse_server(name: str, entry: Any, scope: str, source: str, env: Mapping[str, str]) -> ServerSpec:
    """One server entry; a malformed one comes back with `problem` set rather than raising."""
    spec = ServerSpec(name=name, scope=scope, source=source, raw=entry if isinstance(entry, dict) else {})
    try:
        check_name(name)
        if not isinstance(entry, dict):
            raise McpConfigError("must be an object")
        kind = entry.get("type", "stdio" if "command" in entry else None)
        if kind not in TRANSPORTS:
            raise McpConfigError(f"type must be one of {', '.join(TRANSPORTS)} (got {kind!r})")
        spec.transport, missing = kind, []
        if kind == "stdio":
            if not isinstance(entry.get("command"), str) or not entry["command"]:
                raise McpConfigError("a stdio server needs a \"command\"")
            spec.command = expand(entry["command"], env, missing)
            spec.args = [expand(a, env, missing) for a in _strings(entry.get("args", []), "args")]
            spec.env = {k: expand(v, env, missing) for k, v in _string_map(entry.get("env", {}), "env").items()}
        else:
            if not isinstance(entry.get("url"), str) or not entry["url"]:
                raise McpConfigError(f"an {kind} server needs a \"url\"")
            spec.url = expand(entry["url"], env, missing)
            headers = _string_map(entry.get("headers", {}), "headers")
            spec.headers = {k: expand(v, env, missing) for k, v in headers.items()}
        if missing:
            raise McpConfigError(f"environment variables not set: {', '.join(sorted(set(missing)))}")
    except McpConfigError as exc:
        spec.problem = f"{source}: server {name!r}: {exc}"
    return spec


def servers_in(data: Mapping[str, Any], scope: str, source: str, env: Mapping[str, str]) -> list[ServerSpec]:
    servers = data.get("mcpServers", {})
    if not isinstance(servers, dict):
        return [ServerSpec(name="?", scope=scope, source=source, problem=f"{source}: mcpServers must be an object")]
    return [parse_server(str(name), entry, scope, source, env) for name, entry in servers.items()]


def project_key(project_dir: Path) -> str:
    return str(Path(os.path.realpath(project_dir)))


def _user_files(env: Mapping[str, str]) -> list[Path]:
    return [claude_json_path(env), our_config_path(env)]  # ours last: it wins a clash


def scope_servers(scope: str, project_dir: Path, env: Mapping[str, str]) -> tuple[list[ServerSpec], list[str]]:
    """The servers of one scope and the problems reading its files (one line each)."""
    found: list[ServerSpec] = []
    problems: list[str] = []
    files = [(project_dir / PROJECT_FILE, None)] if scope == "project" else [(p, scope) for p in _user_files(env)]
    if scope == "project":
        env = {k: v for k, v in env.items() if k not in CREDENTIAL_VARS}
    for path, kind in files:
        try:
            data = read_json_file(path)
        except McpConfigError as exc:
            problems.append(str(exc))
            continue
        if kind == "local":
            projects = data.get("projects")
            entry = projects.get(project_key(project_dir)) if isinstance(projects, dict) else None
            data = entry if isinstance(entry, dict) else {}
        found += servers_in(data, scope, str(path), env)
    return found, problems


def dynamic_servers(values: list[str], env: Mapping[str, str]) -> list[ServerSpec]:
    """`--mcp-config` values: each a file or a JSON string. Raises McpConfigError (a usage error)."""
    found: list[ServerSpec] = []
    for value in values:
        if value.lstrip().startswith("{"):
            try:
                data = load_json(value.encode())
            except JSONFileError as exc:
                raise McpConfigError(f"--mcp-config: not valid JSON ({exc.reason})") from None
            source = "--mcp-config"
        else:
            path = Path(value).expanduser()
            if not path.is_file():
                raise McpConfigError(f"--mcp-config: no such file: {value}")
            data, source = read_json_file(path), str(path)
        if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
            raise McpConfigError(f"--mcp-config {value}: expected {{\"mcpServers\": {{...}}}}")
        found += servers_in(data, "dynamic", source, env)
    return found


@dataclass
class McpConfig:
    """Every configured server, one per name (the winning scope), and the problems met reading them."""

    servers: dict[str, ServerSpec] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def load_config(project_dir: Path, env: Mapping[str, str], *, extra: list[str] | None = None,
                strict: bool = False) -> McpConfig:
    config = McpConfig()
    specs: list[ServerSpec] = []
    if not strict:
        for scope in ("user", "project", "local"):  # later wins
            found, problems = scope_servers(scope, project_dir, env)
            specs += found
            config.problems += problems
    specs += dynamic_servers(extra or [], env)
    for spec in specs:
        config.servers[spec.name] = spec
    return config
