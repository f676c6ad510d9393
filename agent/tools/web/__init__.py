"""Tools that reach the web: WebFetch (a page, as Markdown or answered by a small model)."""

from agent.tools.web.fetch_tool import WebFetchTool

__all__ = ["WebFetchTool"]
