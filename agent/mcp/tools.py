"""MCP tools as the model sees them: `mcp__<server>__<tool>`, the server's input schema, results as blocks.

A tool is never read-only to the permission policy: what a server's tool does is the server's word, so
an MCP call is asked in the chat and denied headless unless an allow rule (`mcp__server`,
`mcp__server__tool`) or the mode permits it, as for any other tool that may change something.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from agent.tools.base import Tool, ToolContext, ToolError, ToolResult

_API_NAME = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 64
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def tool_name(server: str, tool: str) -> str:
    """The name the model calls: `mcp__server__tool`, characters the API refuses turned into `_`."""
    return _API_NAME.sub("_", f"mcp__{server}__{tool}")[:MAX_NAME]


class McpArgs(BaseModel):
    """Whatever the model sent: the server validates its own input against its schema."""

    model_config = ConfigDict(extra="allow")


Caller = Callable[[str, dict[str, Any]], Awaitable[Any]]  # (tool name on the server, arguments) -> result


class McpTool(Tool):
    """One tool of one connected server."""

    Input = McpArgs
    read_only = False
    description = ""

    def __init__(self, server: str, remote: Any, call: Caller) -> None:
        self.server, self.remote_name, self._call = server, remote.name, call
        self.name = tool_name(server, remote.name)  # type: ignore[misc]
        self.description = (remote.description or remote.title or remote.name)[:2048]  # type: ignore[misc]
        schema = dict(remote.input_schema or {})
        schema.setdefault("type", "object")
        self._schema = schema

    def definition(self) -> dict[str, Any]:  # type: ignore[override]
        return {"name": self.name, "description": self.description, "input_schema": self._schema}

    def input_schema(self) -> dict[str, Any]:  # type: ignore[override]
        return self._schema

    def parse_input(self, raw: dict[str, Any]) -> BaseModel:
        if not isinstance(raw, dict):
            raise ToolError(f"Invalid input for {self.name}: expected an object")
        return McpArgs.model_validate(raw)

    def key_argument(self, args: BaseModel) -> str:
        text = json.dumps(args.model_dump(), ensure_ascii=False)
        return text if len(text) <= 80 else text[:77] + "..."

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        result = await self._call(self.remote_name, args.model_dump())
        return convert_result(result)


def convert_result(result: Any) -> ToolResult:
    """A CallToolResult as a tool result: text, images (as image blocks), structured content, the error flag."""
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for item in result.content or []:
        kind = getattr(item, "type", "")
        if kind == "text":
            texts.append(item.text)
        elif kind == "image" and item.mime_type in IMAGE_TYPES:
            images.append({"type": "image", "source": {"type": "base64", "media_type": item.mime_type,
                                                       "data": item.data}})
        elif kind == "image" or kind == "audio":
            texts.append(f"[{kind} of type {item.mime_type} not shown]")
        elif kind == "resource":
            resource = item.resource
            text = getattr(resource, "text", None)
            texts.append(f"[resource {resource.uri}]\n{text}" if text is not None
                         else f"[binary resource {resource.uri} ({resource.mime_type or 'unknown type'})]")
        elif kind == "resource_link":
            texts.append(f"[resource link {item.uri}" + (f": {item.description}]" if item.description else "]"))
    if result.structured_content is not None and not texts:
        texts.append(json.dumps(result.structured_content, ensure_ascii=False))
    text = "\n".join(texts)
    is_error = bool(result.is_error)
    summary = (text.splitlines() or [""])[0][:80] if is_error else f"{len(images)} image(s)" if images else ""
    return ToolResult(text, is_error=is_error, summary=summary, blocks=images or None)
