"""Writing MCP server configuration: `agent mcp add` / `add-json` / `remove`, per scope.

project scope writes the project's `.mcp.json`; user and local scopes write our own `agent-mcp.json` in
the user's config folder (same shape as Claude Code's `~/.claude.json`: top-level `mcpServers` for user,
`projects[<path>].mcpServers` for local), created 0600. Writes are atomic (temp file, then rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.mcp.config import PROJECT_FILE, McpConfigError, our_config_path, project_key, read_json_file


def _write_json(path: Path, data: dict[str, Any], *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o600 if private else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update_our_config(env: Mapping[str, str], change: Callable[[dict[str, Any]], None]) -> Path:
    path = our_config_path(env)
    data = read_json_file(path)
    change(data)
    _write_json(path, data, private=True)
    return path


def _servers_of(data: dict[str, Any], scope: str, project_dir: Path) -> dict[str, Any]:
    if scope == "local":
        data = data.setdefault("projects", {}).setdefault(project_key(project_dir), {})
    servers = data.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise McpConfigError("mcpServers in the config file is not an object; fix the file")
    return servers


def scope_file(scope: str, project_dir: Path, env: Mapping[str, str]) -> Path:
    return project_dir / PROJECT_FILE if scope == "project" else our_config_path(env)


def add_server(scope: str, name: str, entry: dict[str, Any], project_dir: Path, env: Mapping[str, str]) -> Path:
    """Add (or replace) `name` in `scope`; the file written."""
    path = scope_file(scope, project_dir, env)
    data = read_json_file(path)
    _servers_of(data, scope, project_dir)[name] = entry
    _write_json(path, data, private=scope != "project")
    return path


def remove_server(scope: str, name: str, project_dir: Path, env: Mapping[str, str]) -> bool:
    path = scope_file(scope, project_dir, env)
    data = read_json_file(path)
    servers = _servers_of(data, scope, project_dir)
    if name not in servers:
        return False
    del servers[name]
    _write_json(path, data, private=scope != "project")
    return True
