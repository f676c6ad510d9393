"""Getting one page safely: the URL checked and upgraded, the address checked, redirects followed only
within the host, the body capped, HTML turned into Markdown, and the result cached for 15 minutes."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from agent.tools.base import ToolError

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 10
CACHE_SECONDS = 15 * 60
TIMEOUT_S = 30.0
USER_AGENT = "agent-webfetch/1 (+https://github.com/; a terminal coding agent fetching a page for its user)"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True)
class Page:
    url: str  # where it was finally read from
    status: int
    content_type: str
    markdown: str
    truncated: bool = False  # the body was over MAX_BODY_BYTES


@dataclass(frozen=True)
class Redirect:
    """A redirect to another host: handed back to the model to fetch on purpose."""

    url: str
    location: str
    status: int


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().rstrip(".")


def is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_url(raw: str) -> str:
    """An http(s) URL with a host; plain http becomes https except for loopback (a local dev server)."""
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ToolError(f"Not a web address: {raw!r}. Give a full http:// or https:// URL.")
    if parts.username or parts.password:
        raise ToolError("URLs with a user name or password are not fetched; give the address without them.")
    scheme = parts.scheme.lower()
    if scheme == "http" and not is_loopback_host(host_of(url)):
        scheme = "https"
    return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))


def _blocked_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
            or ip.is_unspecified or not ip.is_global)


async def check_address(url: str, allowed_private: Callable[[str], bool]) -> None:
    """Refuse a host that is, or resolves to, a private, loopback or link-local address (the cloud
    metadata service, a router, the user's own services) unless a rule names the host."""
    host = host_of(url)
    if allowed_private(host):
        return
    port = urlsplit(url).port or (443 if url.startswith("https") else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ToolError(f"Cannot resolve {host}: {exc.strerror or exc}.") from None
    for info in infos:
        if _blocked_address(str(info[4][0])):
            raise ToolError(
                f"{host} is a private, loopback or link-local address ({info[4][0]}); it is not fetched unless a "
                f"permission rule names it, e.g. WebFetch(domain:{host}) in permissions.allow.")


class PageCache:
    """Pages by URL for 15 minutes (per session), so a model asking twice does not fetch twice."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pages: dict[str, tuple[float, Page]] = {}

    def get(self, url: str) -> Page | None:
        hit = self._pages.get(url)
        if hit is None or self._clock() - hit[0] > CACHE_SECONDS:
            self._pages.pop(url, None)
            return None
        return hit[1]

    def put(self, url: str, page: Page) -> None:
        now = self._clock()
        self._pages = {k: v for k, v in self._pages.items() if now - v[0] <= CACHE_SECONDS}
        self._pages[url] = (now, page)


def _httpx() -> Any:
    """The HTTP client the anthropic SDK brings (newer SDKs ship it as httpx2, same API); imported on first
    use so that start-up does not pay for it."""
    try:
        import httpx2 as httpx
    except ImportError:  # pragma: no cover - older SDKs
        import httpx  # type: ignore[no-redef]
    return httpx


async def fetch_page(url: str, allowed_private: Callable[[str], bool]) -> Page | Redirect:
    """GET `url`, following redirects within its host only; each hop's address is checked."""
    httpx = _httpx()
    start_host = host_of(url)
    async with httpx.AsyncClient(follow_redirects=False, timeout=TIMEOUT_S, trust_env=False,
                                 headers={"User-Agent": USER_AGENT, "Accept": "text/html, text/*;q=0.9, */*;q=0.5"}
                                 ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await check_address(url, allowed_private)
            async with client.stream("GET", url) as response:
                if response.is_redirect and "location" in response.headers:
                    target = urljoin(url, response.headers["location"])
                    if host_of(target) != start_host:
                        return Redirect(url, target, response.status_code)
                    url = normalise_url(target)
                    continue
                body, truncated = await _read_capped(response)
                kind = response.headers.get("content-type", "")
                text = body.decode(response.encoding or "utf-8", "replace")
                if response.status_code >= 400:
                    raise ToolError(f"{url} answered HTTP {response.status_code}: {text[:300].strip()}")
                return Page(url, response.status_code, kind, to_markdown(text, kind), truncated)
    raise ToolError(f"{url} redirected more than {MAX_REDIRECTS} times.")


async def _read_capped(response: Any) -> tuple[bytes, bool]:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return bytes(body[:MAX_BODY_BYTES]), True
    return bytes(body), False


def to_markdown(text: str, content_type: str) -> str:
    """HTML as Markdown (markdownify: maintained, MIT, BeautifulSoup underneath); other text as it is."""
    if "html" not in content_type.lower() and not text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        return text
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "iframe", "svg", "template"]):
        tag.decompose()  # code and styling, not the page's text
    markdown = MarkdownConverter(heading_style="ATX").convert_soup(soup)
    lines = [line.rstrip() for line in markdown.splitlines()]
    out: list[str] = []
    for line in lines:  # collapse the runs of blank lines HTML layout leaves
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
