"""The head of one proxy request, read with bounds and parsed strictly, and the replies the proxy makes.

Only two forms are served: `CONNECT host:port` (a tunnel, HTTPS) and an absolute-form request
(`GET http://host[:port]/path HTTP/1.1`, plain HTTP). Anything else, and anything a lenient parser
might read two ways (folded or space-padded header names, bytes outside visible ASCII in the target,
`user@host`), is a 400: the proxy never guesses which host a request meant.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from agent.permissions.network.domains import BadHost, parse_authority

MAX_LINE_BYTES = 8 * 1024
MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
_METHOD = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSION = re.compile(rb"HTTP/1\.[01]")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Hop-by-hop headers (RFC 9110 7.6.1) and the proxy's own: never passed on. Content-Length and
# Transfer-Encoding stay, since the body is relayed as it came.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                         "proxy-authenticate", "te", "trailer", "upgrade", "host"})


class BadRequest(Exception):
    """The request cannot be served as sent; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RequestHead:
    method: str
    host: str  # normalised
    port: int
    path: str  # origin-form for plain HTTP ("/x?y"); "" for CONNECT
    version: str
    headers: tuple[tuple[str, str], ...]

    @property
    def is_connect(self) -> bool:
        return self.method == "CONNECT"

    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if (self.port == 80 and not self.is_connect) else f"{host}:{self.port}"

    def forwarded(self) -> bytes:
        """The head as sent to the origin server: origin-form target, Host set to the host that was
        judged (whatever Host header the client sent), hop-by-hop headers dropped, one request per
        connection."""
        named_by_connection = {
            token.strip().lower()
            for name, value in self.headers if name.lower() == "connection"
            for token in value.split(",")
        }
        lines = [f"{self.method} {self.path} {self.version}", f"Host: {self.authority()}"]
        lines += [f"{name}: {value}" for name, value in self.headers
                  if name.lower() not in _HOP_BY_HOP and name.lower() not in named_by_connection]
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def read_head(reader: asyncio.StreamReader) -> list[bytes]:
    """The request line and header lines (without line ends), bounded in size and count."""
    lines: list[bytes] = []
    total = 0
    while True:
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial and not lines:
                raise ConnectionResetError("closed before a request") from None
            raise BadRequest("the request head ended early") from None
        except asyncio.LimitOverrunError:
            raise BadRequest("a request line or header is too long", 431) from None
        total += len(line)
        if len(line) > MAX_LINE_BYTES or total > MAX_HEAD_BYTES:
            raise BadRequest("the request head is too large", 431)
        line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        if not line:
            if not lines:
                continue  # a stray empty line before the request line is tolerated (RFC 9112 2.2)
            return lines
        lines.append(line)
        if len(lines) > MAX_HEADERS + 1:
            raise BadRequest("too many headers", 431)


def parse_head(lines: list[bytes]) -> RequestHead:
    request_line, *header_lines = lines
    parts = request_line.split(b" ")
    if len(parts) != 3 or not _METHOD.fullmatch(parts[0]) or not _VERSION.fullmatch(parts[2]):
        raise BadRequest("not an HTTP/1.x request line")
    method, target, version = (part.decode("latin-1") for part in parts)
    if not target.isascii() or not target.isprintable():
        raise BadRequest("the request target has bytes outside visible ASCII")
    headers = tuple(_parse_header(line) for line in header_lines)
    try:
        if method == "CONNECT":
            host, port = parse_authority(target, default_port=None)
            return RequestHead(method, host, port, "", version, headers)
        host, port, path = _absolute_target(target)
    except BadHost as exc:
        raise BadRequest(str(exc)) from None
    return RequestHead(method, host, port, path, version, headers)


def _parse_header(line: bytes) -> tuple[str, str]:
    text = line.decode("latin-1")
    name, sep, value = text.partition(":")
    if not sep or not _HEADER_NAME.fullmatch(name):
        raise BadRequest("a malformed header line (folded, or space before the colon)")
    if any(ch in value for ch in "\r\n\0"):
        raise BadRequest("a header value holds a control character")
    return name, value.strip(" \t")


def _absolute_target(target: str) -> tuple[str, int, str]:
    scheme, sep, rest = target.partition("://")
    if not sep:
        raise BadRequest("this is a proxy: send absolute-form requests (http://host/path) or CONNECT host:port")
    if scheme.lower() != "http":
        raise BadRequest(f"{scheme}:// is not proxied: use CONNECT for HTTPS, only http:// otherwise")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, path = rest[:end], rest[end:]
    host, port = parse_authority(authority, default_port=80)
    path = path.split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path
    return host, port, path


_REASONS = {400: "Bad Request", 403: "Forbidden", 431: "Request Header Fields Too Large",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def error_response(status: int, body: str, *, blocked: bool = False) -> bytes:
    """A complete reply that closes the connection; `blocked` marks a refusal by the allow-list."""
    data = body.encode("utf-8")
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(data)}",
        "Connection: close",
    ]
    if blocked:
        lines.append("X-Proxy-Error: blocked-by-allowlist")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + data


def blocked_body(host: str, port: int, reason: str) -> str:
    entry = f"[{host}]" if ":" in host else host
    return (
        f"Blocked by the agent's sandbox: network access to {entry} (port {port}) is not allowed: {reason}.\n"
        f'To allow it, add "{entry}" to sandbox.network.allowedDomains in .claude/settings.json '
        "(or .claude/settings.local.json), or answer \"always\" when the chat asks.\n"
    )
