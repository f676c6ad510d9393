"""MCP prompts as slash commands: `/mcp__<server>__<prompt> [args...]`, as in Claude Code.

The words after the name fill the prompt's arguments in order (quote a value with spaces); the prompt's
messages become the turn's prompt. An unknown one is a ToolError-like `PromptNotFound` the faces show.
"""

from __future__ import annotations

import shlex
from typing import Any

from agent.mcp.tools import tool_name


class PromptNotFound(Exception):
    """The message says which prompts exist."""


def prompt_command(server: str, prompt: str) -> str:
    return tool_name(server, prompt)  # same naming rule: mcp__server__prompt


def is_mcp_prompt_line(text: str) -> bool:
    return text.lstrip().startswith("/mcp__")


def find_prompt(manager: Any, command: str) -> tuple[str, Any] | None:
    for server, prompt in manager.prompts():
        if prompt_command(server, prompt.name) == command:
            return server, prompt
    return None


def prompt_arguments(prompt: Any, rest: str) -> dict[str, str]:
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise PromptNotFound(f"cannot read the arguments: {exc}") from None
    names = [arg.name for arg in (prompt.arguments or [])]
    if len(words) > len(names):
        raise PromptNotFound(f"/{prompt.name} takes at most {len(names)} argument(s): {' '.join(names) or 'none'}")
    missing = [a.name for a in (prompt.arguments or [])[len(words):] if a.required]
    if missing:
        raise PromptNotFound(f"missing argument(s): {', '.join(missing)}")
    return dict(zip(names, words, strict=False))


async def expand_prompt(manager: Any, text: str) -> str:
    """The prompt text of `/mcp__server__prompt args`; PromptNotFound when there is no such prompt."""
    command, _, rest = text.strip()[1:].partition(" ")
    found = find_prompt(manager, command)
    if found is None:
        known = ", ".join("/" + prompt_command(s, p.name) for s, p in manager.prompts()) or "none"
        raise PromptNotFound(f"Unknown MCP prompt /{command} (connected MCP prompts: {known}); /mcp shows servers.")
    server, prompt = found
    result = await manager.get_prompt(server, prompt.name, prompt_arguments(prompt, rest))
    parts = []
    for message in result.messages:
        content = message.content
        text_part = getattr(content, "text", None)
        if text_part is None and getattr(content, "type", "") == "resource":
            text_part = getattr(content.resource, "text", None)
        if text_part:
            parts.append(text_part)
    return "\n\n".join(parts) or f"(the MCP prompt /{command} gave no text)"
