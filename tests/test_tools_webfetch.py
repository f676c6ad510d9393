"""WebFetch against loopback HTTP servers only: HTML as Markdown, redirects within the host, the address
checks, the size cap, the 15-minute cache, the prompt answered by a small model, and its permission rules."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fake_api import FakeAnthropic, child_env, text_reply

from agent.engine.session import AgentSession, SessionOptions
from agent.permissions.policy import PermissionPolicy
from agent.tools.base import ToolContext, ToolError, ToolResult
from agent.tools.web import WebFetchTool
from agent.tools.web import page as web_page
from agent.tools.web.page import CACHE_SECONDS, PageCache, normalise_url

HTML = """<!doctype html><html><head><title>Deploy</title><style>body{color:red}</style>
<script>alert('secret-script')</script></head><body><h1>Deploy status</h1>
<p>The build is <b>green</b>. See <a href="/log">the log</a>.</p><ul><li>api: up</li><li>web: up</li></ul>
</body></html>"""


class Site(ThreadingHTTPServer):
    hits: dict[str, int]
    other_base: str = ""


class Handler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1
        if self.path == "/page":
            self._send(200, HTML.encode(), "text/html; charset=utf-8")
        elif self.path == "/moved":
            self._redirect("/page")
        elif self.path == "/away":
            self._redirect(self.server.other_base + "/page")
        elif self.path == "/big":
            self._send(200, b"x" * 5000, "text/plain")
        elif self.path == "/plain":
            self._send(200, b"just text\n", "text/plain")
        else:
            self._send(404, b"not here", "text/plain")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site(("127.0.0.1", 0), Handler)
    server.hits = {}
    server.other_base = f"http://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def base(site: Site) -> str:
    return f"http://127.0.0.1:{site.server_address[1]}"


ALLOW_LOOPBACK = frozenset({("WebFetch", "domain:127.0.0.1")})


def ctx_for(tmp_path: Path, **fields: object) -> ToolContext:
    return ToolContext(project_dir=tmp_path, allow_rule_specs=ALLOW_LOOPBACK, **fields)  # type: ignore[arg-type]


async def fetch(tool: WebFetchTool, ctx: ToolContext, url: str, prompt: str = "What is the status?") -> ToolResult:
    return await tool.run(tool.parse_input({"url": url, "prompt": prompt}), ctx)


async def test_html_comes_back_as_markdown_without_scripts(site: Site, tmp_path: Path) -> None:
    result = await fetch(WebFetchTool(), ctx_for(tmp_path), base(site) + "/page")
    assert "# Deploy status" in result.content
    assert "**green**" in result.content and "[the log](/log)" in result.content
    assert "api: up" in result.content
    assert "secret-script" not in result.content and "color:red" not in result.content


async def test_a_loopback_address_is_refused_unless_a_rule_names_it(site: Site, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match=r"WebFetch\(domain:127\.0\.0\.1\)"):
        await fetch(WebFetchTool(), ToolContext(project_dir=tmp_path), base(site) + "/page")
    assert site.hits == {}  # refused before any request


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                                 "http://192.168.1.1/admin", "http://[::1]:8080/", "http://[fe80::1]/"])
async def test_private_and_link_local_addresses_are_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="private, loopback or link-local"):
        await fetch(WebFetchTool(), ToolContext(project_dir=tmp_path), url)


def test_plain_http_is_upgraded_except_for_loopback() -> None:
    assert normalise_url("http://example.com/a?b=1") == "https://example.com/a?b=1"
    assert normalise_url("http://localhost:8000/x") == "http://localhost:8000/x"
    assert normalise_url("http://127.0.0.1:9/") == "http://127.0.0.1:9/"
    for bad in ("ftp://example.com/", "file:///etc/passwd", "example.com", "https://user:pw@example.com/"):
        with pytest.raises(ToolError):
            normalise_url(bad)


async def test_a_redirect_within_the_host_is_followed(site: Site, tmp_path: Path) -> None:
    result = await fetch(WebFetchTool(), ctx_for(tmp_path), base(site) + "/moved")
    assert "# Deploy status" in result.content and site.hits["/moved"] == 1 and site.hits["/page"] == 1


async def test_a_redirect_to_another_host_is_handed_back_to_the_model(site: Site, tmp_path: Path) -> None:
    result = await fetch(WebFetchTool(), ctx_for(tmp_path), base(site) + "/away")
    assert "REDIRECT DETECTED" in result.content and site.other_base + "/page" in result.content
    assert "/page" not in site.hits  # not followed


async def test_pages_are_cached_for_fifteen_minutes(site: Site, tmp_path: Path) -> None:
    now = [1000.0]
    tool = WebFetchTool(PageCache(clock=lambda: now[0]))
    ctx = ctx_for(tmp_path)
    await fetch(tool, ctx, base(site) + "/page")
    now[0] += CACHE_SECONDS - 1
    await fetch(tool, ctx, base(site) + "/page", prompt="another question")
    assert site.hits["/page"] == 1
    now[0] += 2
    await fetch(tool, ctx, base(site) + "/page")
    assert site.hits["/page"] == 2


async def test_a_body_over_the_cap_is_cut_and_says_so(site: Site, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_page, "MAX_BODY_BYTES", 1000)
    result = await fetch(WebFetchTool(), ctx_for(tmp_path), base(site) + "/big")
    assert result.content.startswith("x" * 1000) and "x" * 1001 not in result.content
    assert "only its beginning was read" in result.content


async def test_an_http_error_is_a_tool_error(site: Site, tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="HTTP 404"):
        await fetch(WebFetchTool(), ctx_for(tmp_path), base(site) + "/missing")


async def test_the_prompt_is_answered_by_the_small_model_with_the_page(site: Site, tmp_path: Path) -> None:
    asked: list[str] = []

    async def small_model(text: str, ctx: ToolContext) -> str:
        asked.append(text)
        return "The build is green."

    result = await fetch(WebFetchTool(), ctx_for(tmp_path, ask_small_model=small_model), base(site) + "/page",
                         prompt="Is the build green?")
    assert result.content == "The build is green."
    assert "# Deploy status" in asked[0] and "Is the build green?" in asked[0]


async def test_the_session_asks_the_configured_small_model_through_the_api(
        site: Site, fake_api: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in child_env(fake_api, home=tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ANTHROPIC_DEFAULT_HAIKU_MODEL", "claude-haiku-4-5")
    fake_api.script(text_reply("All services are up."))
    session = AgentSession(tmp_path, SessionOptions(headless=True, allowed_tools=["WebFetch(domain:127.0.0.1)"]))
    try:
        tool = session.tools.get("WebFetch")
        assert tool is not None
        result = await fetch(tool, session.ctx, base(site) + "/page")  # type: ignore[arg-type]
    finally:
        await session.aclose()
    assert result.content == "All services are up."
    request = fake_api.requests[-1]
    assert request.body["model"] == "claude-haiku-4-5" and "api: up" in request.all_text()


async def test_without_a_small_model_the_markdown_is_returned(site: Site, tmp_path: Path) -> None:
    result = await fetch(WebFetchTool(), ctx_for(tmp_path), base(site) + "/plain")
    assert result.content.strip() == "just text" and "characters from 127.0.0.1" in result.summary


def test_permission_rules_name_the_domain(tmp_path: Path) -> None:
    tool = WebFetchTool()
    args = tool.parse_input({"url": "https://example.com/a", "prompt": "p"})
    allowed = PermissionPolicy(tmp_path, allow=["WebFetch(domain:example.com)"]).check(tool, args)
    assert allowed.behavior == "allow"
    denied = PermissionPolicy(tmp_path, allow=["WebFetch(domain:example.com)"],
                              deny=["WebFetch(domain:example.com)"]).check(tool, args)
    assert denied.behavior == "deny"
    other = tool.parse_input({"url": "https://example.org/", "prompt": "p"})
    assert PermissionPolicy(tmp_path, allow=["WebFetch(domain:example.com)"]).check(tool, other).behavior == "ask"


async def test_headless_without_a_rule_webfetch_is_denied_and_nothing_is_fetched(
        site: Site, fake_api: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in child_env(fake_api, home=tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    from fake_api import tool_reply

    fake_api.script(tool_reply(("WebFetch", {"url": base(site) + "/page", "prompt": "status?"})), text_reply("ok"))
    session = AgentSession(tmp_path, SessionOptions(headless=True))
    try:
        await session.new_conversation(record=False).run_turn("check the deploy")
    finally:
        await session.aclose()
    assert "WebFetch(domain:127.0.0.1)" in fake_api.requests[-1].tool_result_texts()[0]
    assert site.hits == {}


async def test_a_rule_allowed_during_the_session_lets_webfetch_reach_that_host(site: Site, tmp_path: Path) -> None:
    session = AgentSession(tmp_path, SessionOptions())
    try:
        tool = session.tools.get("WebFetch")
        assert tool is not None
        with pytest.raises(ToolError, match="private, loopback"):
            await fetch(tool, session.ctx, base(site) + "/plain")  # type: ignore[arg-type]
        session.policy.allow_for_session("WebFetch(domain:127.0.0.1)")
        result = await fetch(tool, session.ctx, base(site) + "/plain")  # type: ignore[arg-type]
    finally:
        await session.aclose()
    assert result.content.strip() == "just text"
