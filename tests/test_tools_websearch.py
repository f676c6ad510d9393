"""WebSearch through the API's server-side web search tool, against the fake Messages API: the request
names web_search_20250305 with the domain filters, the results and citations reach the model, the
search's tokens add to the turn, and an endpoint without server tools gets a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_api import FakeAnthropic, RecordedRequest, child_env, text_reply, tool_reply, web_search_reply

from agent.engine.session import AgentSession, SessionOptions
from agent.tools.base import ToolError
from agent.tools.web import WebSearchTool

RESULTS = [("Release 3.2 notes", "https://example.com/releases/3.2"), ("Changelog", "https://example.org/log")]


def is_search(request: RecordedRequest) -> bool:
    return any(t.get("type") == "web_search_20250305" for t in request.body.get("tools") or [])


@pytest.fixture
def project(fake_api: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in child_env(fake_api, home=tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    return tmp_path


async def test_a_search_returns_links_answer_and_sources_to_the_model(fake_api: FakeAnthropic,
                                                                      project: Path) -> None:
    fake_api.when(is_search, web_search_reply("release 3.2", RESULTS, "Version 3.2 shipped on May 4.",
                                              usage={"input_tokens": 5000, "output_tokens": 200}))
    fake_api.script(tool_reply(("WebSearch", {"query": "release 3.2", "allowed_domains": ["example.com"]})),
                    text_reply("3.2 shipped on May 4 (example.com)."))
    session = AgentSession(project, SessionOptions(headless=True, allowed_tools=["WebSearch"]))
    try:
        conversation = session.new_conversation(record=False)
        turn = await conversation.run_turn("when did 3.2 ship?")
    finally:
        await session.aclose()
    search = next(r for r in fake_api.requests if is_search(r))
    server_tool = search.body["tools"][0]
    assert server_tool["allowed_domains"] == ["example.com"] and "blocked_domains" not in server_tool
    assert "release 3.2" in search.last_user_text()
    result = fake_api.requests[-1].tool_result_texts()[0]
    assert result.startswith('Web search results for query: "release 3.2"')
    assert '"url": "https://example.com/releases/3.2"' in result and "Changelog" in result
    assert "Version 3.2 shipped on May 4." in result
    assert "Sources:\n- [Release 3.2 notes](https://example.com/releases/3.2)" in result
    assert turn.usage.input_tokens >= 5000  # the search request counts in the turn
    kept = [m for m in conversation.history if m["role"] == "user" and isinstance(m["content"], list)]
    assert any("Sources:" in str(block.get("content")) for m in kept for block in m["content"])  # in the history


async def test_an_endpoint_without_server_tools_gets_a_clear_message(fake_api: FakeAnthropic, project: Path) -> None:
    fake_api.server_tools = False
    session = AgentSession(project, SessionOptions(headless=True))
    try:
        tool = WebSearchTool()
        with pytest.raises(ToolError, match=r"not offered by this API endpoint.*web_search_20250305"):
            await tool.run(tool.parse_input({"query": "anything"}), session.ctx)
    finally:
        await session.aclose()


async def test_a_search_error_is_reported(fake_api: FakeAnthropic, project: Path) -> None:
    fake_api.when(is_search, web_search_reply("q", [], "", error_code="max_uses_exceeded", cited=None))
    session = AgentSession(project, SessionOptions(headless=True))
    try:
        tool = WebSearchTool()
        with pytest.raises(ToolError, match="max_uses_exceeded"):
            await tool.run(tool.parse_input({"query": "anything"}), session.ctx)
    finally:
        await session.aclose()


async def test_allowed_and_blocked_domains_together_are_refused(project: Path) -> None:
    session = AgentSession(project, SessionOptions(headless=True))
    try:
        tool = WebSearchTool()
        args = tool.parse_input({"query": "x y", "allowed_domains": ["a.com"], "blocked_domains": ["b.com"]})
        with pytest.raises(ToolError, match="not both"):
            await tool.run(args, session.ctx)
    finally:
        await session.aclose()
