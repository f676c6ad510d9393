"""MCP servers: configuration in Claude Code's formats, the trust and approval gate, the running servers
and their tools (`mcp__<server>__<tool>`). Sits below the engine: the session builds it and adds its tools.

The SDK (`mcp`) is imported only when a server connects, so a session without servers pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.mcp.approval import APPROVED, ASK, DENIED, UNTRUSTED, project_verdict, remember_answer, remembered
from agent.mcp.config import McpConfig, McpConfigError, ServerSpec, load_config
from agent.mcp.manager import McpManager, ServerState
from agent.mcp.tools import McpTool, tool_name

__all__ = [
    "McpConfig", "McpConfigError", "McpManager", "McpTool", "ServerSpec", "ServerState",
    "load_config", "open_mcp", "remember_answer", "tool_name",
]

WHY_OFF = {
    UNTRUSTED: "the folder is not trusted (agent trust), so servers of its .mcp.json do not start",
    DENIED: "turned off (disabledMcpjsonServers or a 'deny' answer)",
    ASK: "not approved yet: approve it in the chat, or add it to enabledMcpjsonServers",
}


def open_mcp(project_dir: Path, settings: Any, env: Mapping[str, str], *, extra: list[str] | None = None,
             strict: bool = False, report: Callable[[str], None] | None = None) -> McpManager:
    """The session's servers, gated, not yet started (`start()` connects them in the background)."""
    config = load_config(project_dir, env, extra=extra, strict=strict)
    memory = remembered(project_dir, env)
    disabled: dict[str, str] = {}
    awaiting: set[str] = set()
    for spec in config.servers.values():
        if spec.scope != "project":
            continue
        verdict = project_verdict(spec.name, trusted=bool(settings.trusted), settings=settings.raw, memory=memory)
        if verdict != APPROVED:
            disabled[spec.name] = WHY_OFF[verdict]
            if verdict == ASK:
                awaiting.add(spec.name)
    manager = McpManager(list(config.servers.values()), cwd=project_dir, env=env, report=report,
                         disabled=disabled)
    manager.problems, manager.awaiting = config.problems, awaiting
    return manager
