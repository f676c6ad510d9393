"""Tools that reach the web: WebFetch (a page, as Markdown or answered by a small model) and WebSearch
(the API's server-side search)."""

from agent.tools.web.fetch_tool import WebFetchTool
from agent.tools.web.search_tool import WebSearchTool

__all__ = ["WebFetchTool", "WebSearchTool"]
