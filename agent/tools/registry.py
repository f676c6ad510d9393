"""The built-in working tools, in the order the model sees them (Claude Code's order)."""

from __future__ import annotations

from agent.tools.base import Tool
from agent.tools.bash import BashTool
from agent.tools.files import EditTool, ReadTool, WriteTool
from agent.tools.search import GlobTool, GrepTool
from agent.tools.shell_tools import BashOutputTool, KillShellTool
from agent.tools.todos import TodoWriteTool
from agent.tools.web import WebFetchTool, WebSearchTool


def default_tools() -> list[Tool]:
    """Fresh instances of the working tools. The cron tools are added by the caller."""
    return [BashTool(), GlobTool(), GrepTool(), ReadTool(), EditTool(), WriteTool(), TodoWriteTool(),
            BashOutputTool(), KillShellTool(), WebFetchTool(),
            WebSearchTool()]
