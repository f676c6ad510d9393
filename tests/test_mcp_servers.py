"""The MCP manager against real servers (tests/mcp_support/server.py) over stdio, streamable HTTP and SSE."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from mcp_support import SERVER, served

from agent.mcp.config import ServerSpec, parse_server
from agent.mcp.manager import McpManager
from agent.mcp.tools import convert_result
from agent.tools.base import ToolContext, ToolError


def _manager(spec: ServerSpec, tmp_path: Path, **env: str) -> tuple[McpManager, list[str]]:
    reports: list[str] = []
    manager = McpManager([spec], cwd=tmp_path, env=env, report=reports.append)
    return manager, reports


def _stdio(name: str = "t") -> ServerSpec:
    return ServerSpec(name, "dynamic", "stdio", command=sys.executable, args=[SERVER, "stdio"])


def _call(manager: McpManager, tool: str, args: dict) -> object:
    return asyncio.run(manager.call_tool("t", tool, args))


@pytest.mark.parametrize("transport", ["stdio", "http", "sse"])
def test_each_transport_lists_the_tools_with_schemas_and_calls_one(transport, tmp_path):
    if transport == "stdio":
        spec, url_ctx = _stdio(), None
    else:
        url_ctx = served(transport, tmp_path)
        url = url_ctx.__enter__()
        spec = parse_server("t", {"type": transport, "url": url}, "dynamic", "test", {})
    manager, _reports = _manager(spec, tmp_path)
    try:
        manager.start()
        assert manager.wait_ready(60)
        assert manager.states["t"].status == "connected", manager.states["t"].error
        tools = {tool.name: tool for tool in manager.tools()}
        assert {"mcp__t__echo", "mcp__t__add", "mcp__t__picture"} <= set(tools)
        schema = tools["mcp__t__add"].definition()["input_schema"]
        assert schema["type"] == "object" and set(schema["properties"]) == {"a", "b"}
        result = asyncio.run(tools["mcp__t__echo"].run(tools["mcp__t__echo"].parse_input({"text": "hi"}),
                                                       ToolContext(project_dir=tmp_path)))
        assert result.content == "echo: hi" and not result.is_error
        assert manager.init_entries() == [{"name": "t", "status": "connected"}]
        assert [name for name, _ in manager.prompts()] == ["t"]
    finally:
        manager.close()
        if url_ctx is not None:
            url_ctx.__exit__(None, None, None)


def test_results_carry_structured_content_images_and_errors(tmp_path):
    manager, _ = _manager(_stdio(), tmp_path)
    try:
        manager.start()
        assert manager.wait_ready(60)
        added = convert_result(_call(manager, "add", {"a": 2, "b": 3}))
        assert json.loads(added.content) == {"total": 5}
        picture = convert_result(_call(manager, "picture", {}))
        assert picture.blocks and picture.blocks[0]["type"] == "image"
        assert picture.blocks[0]["source"]["media_type"] == "image/png"
        failed = convert_result(_call(manager, "fail", {}))
        assert failed.is_error and "fail" in failed.content
    finally:
        manager.close()


def test_a_call_longer_than_mcp_tool_timeout_is_an_error(tmp_path):
    manager, _ = _manager(_stdio(), tmp_path, MCP_TOOL_TIMEOUT="500")
    try:
        manager.start()
        assert manager.wait_ready(60)
        with pytest.raises(ToolError, match=r"timed out after 0\.5s"):
            _call(manager, "slow", {"seconds": 30})
        assert convert_result(_call(manager, "echo", {"text": "still here"})).content == "echo: still here"
    finally:
        manager.close()


def test_a_server_that_dies_is_reported_and_restarted(tmp_path):
    manager, reports = _manager(_stdio(), tmp_path)
    manager.ping_interval_s = 0.3
    try:
        manager.start()
        assert manager.wait_ready(60)
        with pytest.raises(ToolError):
            _call(manager, "die", {})
        deadline = asyncio.run(_wait_for(lambda: any("reconnected" in r for r in reports), 60))
        assert deadline, reports
        assert any("stopped" in r and "restarting in" in r for r in reports), reports
        assert manager.states["t"].status == "connected" and manager.states["t"].restarts == 1
        assert convert_result(_call(manager, "echo", {"text": "back"})).content == "echo: back"
    finally:
        manager.close()


def test_a_server_that_cannot_start_fails_with_its_reason_and_gives_up(tmp_path):
    spec = ServerSpec("t", "dynamic", "stdio", command=str(tmp_path / "no-such-program"))
    manager, reports = _manager(spec, tmp_path)
    try:
        manager.start()
        assert manager.wait_ready(30)
        assert manager.states["t"].status == "failed" and manager.states["t"].error
        assert manager.tools() == []
        with pytest.raises(ToolError, match="not connected"):
            _call(manager, "echo", {"text": "x"})
        assert any("failed to start" in r for r in reports)
    finally:
        manager.close()


async def _wait_for(check, seconds: float) -> bool:
    for _ in range(int(seconds * 20)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


def test_the_model_credential_never_reaches_a_server(tmp_path):
    spec = _stdio()
    spec.env = {"FROM_CONFIG": "c"}
    manager, _ = _manager(spec, tmp_path, ANTHROPIC_API_KEY="sk-secret", ANTHROPIC_AUTH_TOKEN="tok",
                          SETTINGS_VAR="s")
    try:
        manager.start()
        assert manager.wait_ready(60)
        seen = {name: convert_result(_call(manager, "getenv", {"name": name})).content
                for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "SETTINGS_VAR", "FROM_CONFIG")}
        assert seen == {"ANTHROPIC_API_KEY": "(unset)", "ANTHROPIC_AUTH_TOKEN": "(unset)", "SETTINGS_VAR": "s",
                        "FROM_CONFIG": "c"}
    finally:
        manager.close()


@pytest.mark.parametrize("transport", ["http", "sse"])
def test_configured_headers_with_variables_reach_an_http_server(transport, tmp_path):
    with served(transport, tmp_path) as url:
        spec = parse_server("t", {"type": transport, "url": url, "headers": {"X-Token": "Bearer ${TOKEN}"}},
                            "user", "test", {"TOKEN": "abc123"})
        manager, _ = _manager(spec, tmp_path)
        try:
            manager.start()
            assert manager.wait_ready(60), manager.states["t"].error
            got = convert_result(_call(manager, "header", {"name": "x-token"})).content
            assert got == "Bearer abc123"
        finally:
            manager.close()
