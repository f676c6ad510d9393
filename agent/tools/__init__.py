"""Tools the model can call: Read, Write, Edit, Bash, Glob, Grep and the cron tools."""

from agent.tools.base import Tool, ToolContext, ToolError, ToolRegistry, ToolResult

__all__ = ["Tool", "ToolContext", "ToolError", "ToolRegistry", "ToolResult"]
