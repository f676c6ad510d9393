"""Helpers for the sandbox network tests: a real HTTP server on 127.0.0.1:0 that says who it is and
which Host header it saw, and a raw client for the proxy's unix socket (so hostile bytes go out as
written)."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Seen:
    host_headers: list[str]
    paths: list[str]
    headers: list[dict[str, str]]


@contextlib.contextmanager
def http_server(name: str = "origin") -> Iterator[tuple[int, Seen]]:
    """A loopback HTTP server answering `hello from <name>` to every GET; yields (port, what it saw)."""
    seen = Seen([], [], [])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.host_headers.append(self.headers.get("Host", ""))
            seen.paths.append(self.path)
            seen.headers.append({k.lower(): v for k, v in self.headers.items()})
            body = f"hello from {name}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def short_socket_dir() -> Iterator[Path]:
    """A private folder with a short path (a unix socket path must fit in 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="net-") as folder:
        yield Path(folder)


@dataclass
class Reply:
    status: int
    head: str
    body: bytes


async def raw_exchange(socket_path: Path, request: bytes, *, then: bytes = b"", timeout: float = 10) -> Reply:
    """Send `request` to the proxy, read its reply head; for a 200 to CONNECT, send `then` through the
    tunnel. The body is everything until the proxy closes."""
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status = int(head.split(b" ", 2)[1])
        if then:
            writer.write(then)
            await writer.drain()
        body = await asyncio.wait_for(reader.read(), timeout)
        return Reply(status, head.decode("latin-1"), body)
    finally:
        writer.close()
