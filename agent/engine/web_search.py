"""WebSearch's request: the session's model with the server-side web search tool (`web_search_20250305`).
The API runs the searches and answers with server_tool_use, web_search_tool_result and cited text blocks;
they come back to the model as one tool result: the pages found, then the answer with its sources."""

from __future__ import annotations

import json
from typing import Any

from agent.tools.base import ToolContext, ToolError

SERVER_TOOL = "web_search_20250305"
MAX_SEARCHES = 5


def search_tool(allowed: list[str] | None, blocked: list[str] | None) -> dict[str, Any]:
    tool: dict[str, Any] = {"type": SERVER_TOOL, "name": "web_search", "max_uses": MAX_SEARCHES}
    if allowed:
        tool["allowed_domains"] = allowed
    if blocked:
        tool["blocked_domains"] = blocked
    return tool


async def run_web_search(session: Any, query: str, allowed: list[str] | None, blocked: list[str] | None,
                         ctx: ToolContext) -> tuple[str, int]:
    """(the tool result text, how many pages were found). `session` is the AgentSession."""
    from agent.engine.llm import LLMError
    from agent.engine.llm.endpoint import display_url

    llm = session.llm()
    try:
        response = await llm.stream_message(
            system="You are an assistant for performing a web search tool use.",
            messages=[{"role": "user", "content": f"Perform a web search for the query: {query}"}],
            tools=[search_tool(allowed, blocked)], max_tokens=4096)
    except LLMError as exc:
        if getattr(exc, "status", None) == 400 and (SERVER_TOOL in str(exc) or "web_search" in str(exc)):
            where = display_url(llm.base_url)
            raise ToolError(f"Web search is not offered by this API endpoint ({where}): it does not accept the "
                            f"server tool {SERVER_TOOL}. Use WebFetch on a known URL instead.") from None
        raise ToolError(f"Web search failed: {exc}") from None
    parent = ctx.parent
    if parent is not None:
        parent.account_subagent(response.usage, llm.cost_usd(response.usage))
    return format_results(query, response.content)


def format_results(query: str, content: list[dict[str, Any]]) -> tuple[str, int]:
    links: list[dict[str, str]] = []
    errors: list[str] = []
    answer: list[str] = []
    sources: dict[str, str] = {}
    for block in content:
        kind = block.get("type")
        if kind == "web_search_tool_result":
            found = block.get("content")
            if isinstance(found, dict):
                errors.append(str(found.get("error_code") or "unknown error"))
            for item in found if isinstance(found, list) else []:
                links.append({"title": str(item.get("title") or ""), "url": str(item.get("url") or "")})
        elif kind == "text":
            answer.append(block.get("text", ""))
            for cite in block.get("citations") or []:
                if cite.get("url"):
                    sources.setdefault(cite["url"], str(cite.get("title") or ""))
    if errors and not links:
        raise ToolError(f"Web search failed: {', '.join(errors)}.")
    parts = [f'Web search results for query: "{query}"', f"Links: {json.dumps(links, ensure_ascii=False)}"]
    if "".join(answer).strip():
        parts.append("".join(answer).strip())
    if sources:
        parts.append("Sources:\n" + "\n".join(f"- [{title or url}]({url})" for url, title in sources.items()))
    return "\n\n".join(parts), len(links)
