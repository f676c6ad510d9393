"""Which servers of the project's `.mcp.json` may start: the workspace-trust gate, then approval.

A `.mcp.json` comes with the repository, and each stdio server in it is a program; so a project server
starts only when the folder is trusted (`agent trust`) AND the server is approved: named in
`enabledMcpjsonServers`, covered by `enableAllProjectMcpServers` (settings; in an untrusted folder the
project's own settings files cannot set these, see agent.settings.gate), or approved in the chat's
question, which is remembered for this project in our own user file (`agent-mcp.json`, never in the
project). `disabledMcpjsonServers` and a "deny" answer win over approval. Headless, nobody is asked:
an unapproved server stays off, and the run says how to approve it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.mcp.config import claude_json_path, our_config_path, project_key, read_json_file
from agent.mcp.store import update_our_config

APPROVED, DENIED, ASK, UNTRUSTED = "approved", "denied", "ask", "untrusted"


def _names(value: Any) -> set[str]:
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def _project_entry(path: Path, project_dir: Path) -> dict[str, Any]:
    try:
        data = read_json_file(path)
    except ValueError:
        return {}
    projects = data.get("projects")
    entry = projects.get(project_key(project_dir)) if isinstance(projects, dict) else None
    return entry if isinstance(entry, dict) else {}


def remembered(project_dir: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The user's answers for this project: ours, and those Claude Code keeps in `~/.claude.json`."""
    ours = _project_entry(our_config_path(env), project_dir)
    theirs = _project_entry(claude_json_path(env), project_dir)
    merged: dict[str, Any] = dict(ours)
    for key in ("enabledMcpjsonServers", "disabledMcpjsonServers"):
        names = _names(ours.get(key)) | _names(theirs.get(key))
        if names:
            merged[key] = sorted(names)
    return merged


def project_verdict(name: str, *, trusted: bool, settings: Mapping[str, Any], memory: Mapping[str, Any]) -> str:
    """approved | denied | ask | untrusted, for one server of `.mcp.json`."""
    if not trusted:
        return UNTRUSTED
    if name in _names(settings.get("disabledMcpjsonServers")) | _names(memory.get("disabledMcpjsonServers")):
        return DENIED
    if settings.get("enableAllProjectMcpServers") is True:
        return APPROVED
    if name in _names(settings.get("enabledMcpjsonServers")) | _names(memory.get("enabledMcpjsonServers")):
        return APPROVED
    return ASK


def remember_answer(project_dir: Path, env: Mapping[str, str], name: str, approve: bool) -> None:
    """The chat's answer, kept for this project in our user file."""
    key = "enabledMcpjsonServers" if approve else "disabledMcpjsonServers"
    other = "disabledMcpjsonServers" if approve else "enabledMcpjsonServers"

    def change(data: dict[str, Any]) -> None:
        entry = data.setdefault("projects", {}).setdefault(project_key(project_dir), {})
        entry[key] = sorted(_names(entry.get(key)) | {name})
        entry[other] = sorted(_names(entry.get(other)) - {name})
    update_our_config(env, change)
