"""WebSearch: Claude Code's `{query, allowed_domains, blocked_domains}` tool, answered through the Messages
API's server-side web search tool (`web_search_20250305`) in a request of its own (ToolContext.web_search,
set by the engine). The result lists the pages found and the answer with the sources it cites."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolError, ToolResult


class WebSearchInput(BaseModel):
    query: str = Field(min_length=2, description="The search query to use")
    allowed_domains: list[str] | None = Field(None, description="Only include search results from these domains")
    blocked_domains: list[str] | None = Field(None, description="Never include search results from these domains")


class WebSearchTool(Tool):
    name = "WebSearch"
    Input = WebSearchInput
    description = (
        "Searches the web and returns the pages found and an answer that cites them.\n\n"
        "- Use it for information beyond your training data: current events, recent releases, documentation.\n"
        "- allowed_domains or blocked_domains (not both) narrow the results to, or away from, sites.\n"
        "- Cite the sources (URLs) from the result when you answer the user.\n"
        "- It asks for permission unless a rule allows WebSearch."
    )

    def key_argument(self, args: BaseModel) -> str:
        return str(args.query)  # type: ignore[attr-defined]

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, WebSearchInput)
        if args.allowed_domains and args.blocked_domains:
            raise ToolError("Give allowed_domains or blocked_domains, not both.")
        if ctx.web_search is None:
            raise ToolError("Web search is not available here.")
        text, found = await ctx.web_search(args.query, args.allowed_domains, args.blocked_domains, ctx)
        return ToolResult(text, summary=f"{found} result{'s' if found != 1 else ''}")
