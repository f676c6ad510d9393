"""The agent's filtering proxy, on a real unix socket in front of real loopback HTTP servers: what is
listed passes, the rest is refused with a 403 naming the host and recorded, the person is asked when
one can be, and hostile requests never reach a host other than the one judged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from network_support import http_server, raw_exchange, short_socket_dir

from agent.permissions.network.proxy import DomainProxy, HostDecision


@pytest.fixture
async def make_proxy() -> AsyncIterator[Callable[..., Any]]:
    proxies: list[DomainProxy] = []
    with short_socket_dir() as folder:

        async def make(allowed: list[str], **kwargs: Any) -> DomainProxy:
            proxy = DomainProxy(folder / f"p{len(proxies)}.sock", allowed, clock=lambda: 1234.5, **kwargs)
            await proxy.start()
            proxies.append(proxy)
            return proxy

        yield make
        for proxy in proxies:
            await proxy.close()


def get(url: str, *headers: str) -> bytes:
    lines = [f"GET {url} HTTP/1.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def connect(authority: str) -> bytes:
    return f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode()


async def test_a_listed_host_is_reached_over_plain_http(make_proxy) -> None:
    with http_server("allowed") as (port, seen):
        proxy = await make_proxy(["127.0.0.1"])
        reply = await raw_exchange(proxy.socket_path, get(f"http://127.0.0.1:{port}/x?y=1"))
    assert reply.status == 200
    assert reply.body == b"hello from allowed\n"
    assert seen.paths == ["/x?y=1"]
    assert proxy.denials() == []


async def test_an_unlisted_host_gets_403_naming_it_and_the_denial_is_recorded(make_proxy) -> None:
    with http_server() as (port, seen):
        proxy = await make_proxy(["example.com"])
        reply = await raw_exchange(proxy.socket_path, get(f"http://127.0.0.1:{port}/"))
    assert reply.status == 403
    assert "X-Proxy-Error: blocked-by-allowlist" in reply.head
    body = reply.body.decode()
    assert "127.0.0.1" in body and "sandbox.network.allowedDomains" in body and "To allow it" in body
    assert seen.paths == []
    [denial] = proxy.drain_denials()
    assert (denial.host, denial.port, denial.time) == ("127.0.0.1", port, 1234.5)
    assert "allowedDomains" in denial.reason
    assert proxy.drain_denials() == []


async def test_connect_tunnels_to_a_listed_host(make_proxy) -> None:
    with http_server("tunnelled") as (port, _seen):
        proxy = await make_proxy([f"localhost:{port}"])
        reply = await raw_exchange(proxy.socket_path, connect(f"localhost:{port}"),
                                   then=b"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n")
    assert reply.status == 200
    assert b"hello from tunnelled" in reply.body


async def test_connect_to_another_port_of_a_port_limited_entry_is_refused(make_proxy) -> None:
    with http_server() as (port, _), http_server() as (other, seen_other):
        proxy = await make_proxy([f"localhost:{port}"])
        reply = await raw_exchange(proxy.socket_path, connect(f"localhost:{other}"))
    assert reply.status == 403
    assert seen_other.paths == []
    assert [(d.host, d.port) for d in proxy.denials()] == [("localhost", other)]


async def test_the_host_header_cannot_redirect_a_request(make_proxy) -> None:
    with http_server("allowed") as (port, seen):
        proxy = await make_proxy(["127.0.0.1"])
        reply = await raw_exchange(proxy.socket_path, get(f"http://127.0.0.1:{port}/", "Host: evil.example"))
        refused = await raw_exchange(proxy.socket_path, get("http://evil.example/", f"Host: 127.0.0.1:{port}"))
    assert reply.status == 200
    assert seen.host_headers == [f"127.0.0.1:{port}"]  # rewritten to the host that was judged
    assert refused.status == 403 and b"evil.example" in refused.body


async def test_proxy_and_hop_by_hop_headers_are_not_passed_on(make_proxy) -> None:
    with http_server() as (port, seen):
        proxy = await make_proxy(["127.0.0.1"])
        await raw_exchange(proxy.socket_path, get(
            f"http://127.0.0.1:{port}/", "Proxy-Authorization: Basic c2VjcmV0", "Connection: X-Private",
            "X-Private: 1", "Accept: text/plain"))
    [headers] = seen.headers
    assert "proxy-authorization" not in headers and "x-private" not in headers
    assert headers["accept"] == "text/plain" and headers["connection"] == "close"


async def test_case_and_a_trailing_dot_name_the_same_host(make_proxy) -> None:
    with http_server() as (port, _):
        proxy = await make_proxy(["localhost"])
        reply = await raw_exchange(proxy.socket_path, get(f"http://LocalHost.:{port}/"))
    assert reply.status == 200


@pytest.mark.parametrize("target", [
    "http://127.1:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f.0.0.1:{port}/",
    "http://user@127.0.0.1:{port}/",
    "http://127.0.0.1:{port}@evil.example/",
    "http://[::1%25lo]:{port}/",
    "https://127.0.0.1:{port}/",
    "/relative",
    "http://127.0.0.1:{port}\\@evil.example/",
])
async def test_ambiguous_targets_are_refused_with_400_and_never_forwarded(make_proxy, target: str) -> None:
    with http_server() as (port, seen):
        proxy = await make_proxy(["127.0.0.1", "localhost"])
        reply = await raw_exchange(proxy.socket_path, get(target.format(port=port), "Host: 127.0.0.1"))
    assert reply.status == 400
    assert seen.paths == []


@pytest.mark.parametrize("request_bytes", [
    b"GET http://127.0.0.1/ HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET http://127.0.0.1/ HTTP/2.0\r\n\r\n",
    b"GET  http://127.0.0.1/ HTTP/1.1\r\n\r\n",
    b"GET http://127.0.0.1/\xff HTTP/1.1\r\n\r\n",
    b"CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n",
])
async def test_malformed_heads_are_refused(make_proxy, request_bytes: bytes) -> None:
    proxy = await make_proxy(["127.0.0.1"])
    reply = await raw_exchange(proxy.socket_path, request_bytes)
    assert reply.status == 400


async def test_oversized_heads_are_refused_without_reading_them_all(make_proxy) -> None:
    proxy = await make_proxy(["127.0.0.1"])
    long_line = await raw_exchange(proxy.socket_path, get("http://127.0.0.1/", "X-Big: " + "a" * 70_000))
    many = await raw_exchange(proxy.socket_path, get("http://127.0.0.1/", *(f"X-{i}: 1" for i in range(150))))
    assert long_line.status == 431 and many.status == 431


async def test_a_name_that_resolves_to_loopback_needs_loopback_listed(make_proxy) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "rebind.example.com" else ["0.0.0.0"]

    with http_server() as (port, seen):
        proxy = await make_proxy(["*.example.com", "zero.example.net"], resolve=resolve)
        reply = await raw_exchange(proxy.socket_path, get(f"http://rebind.example.com:{port}/"))
        zero = await raw_exchange(proxy.socket_path, get(f"http://zero.example.net:{port}/"))
        allowed = await make_proxy(["*.example.com", "localhost"], resolve=resolve)
        passes = await raw_exchange(allowed.socket_path, get(f"http://rebind.example.com:{port}/"))
    assert reply.status == 403 and b"loopback" in reply.body
    assert zero.status == 403
    assert passes.status == 200
    assert seen.host_headers == [f"rebind.example.com:{port}"]


async def test_headless_without_ask_refuses_and_records(make_proxy) -> None:
    proxy = await make_proxy([])
    reply = await raw_exchange(proxy.socket_path, connect("example.org:443"))
    assert reply.status == 403
    assert [d.describe() for d in proxy.denials()] == ["example.org:443 (not in sandbox.network.allowedDomains)"]


class Asker:
    def __init__(self, *answers: HostDecision, delay: float = 0) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []
        self.delay = delay

    async def __call__(self, host: str, port: int) -> HostDecision:
        self.asked.append((host, port))
        await asyncio.sleep(self.delay)
        return self.answers.pop(0)


async def test_allow_once_lasts_for_the_command(make_proxy) -> None:
    ask = Asker("once", "no")
    with http_server() as (port, _):
        proxy = await make_proxy([], ask=ask)
        first = await raw_exchange(proxy.socket_path, get(f"http://127.0.0.1:{port}/"))
        second = await raw_exchange(proxy.socket_path, get(f"http://127.0.0.1:{port}/"))
        proxy.end_command()
        third = await raw_exchange(proxy.socket_path, get(f"http://127.0.0.1:{port}/"))
    assert (first.status, second.status, third.status) == (200, 200, 403)
    assert ask.asked == [("127.0.0.1", port), ("127.0.0.1", port)]
    assert b"refused in the chat" in third.body


async def test_always_is_remembered_and_reported(make_proxy) -> None:
    ask = Asker("always")
    remembered: list[str] = []
    with http_server() as (port, _):
        proxy = await make_proxy([], ask=ask, on_always=remembered.append)
        first = await raw_exchange(proxy.socket_path, get(f"http://localhost:{port}/"))
        proxy.end_command()
        later = await raw_exchange(proxy.socket_path, get(f"http://localhost:{port}/"))
    assert (first.status, later.status) == (200, 200)
    assert remembered == ["localhost"] and len(ask.asked) == 1


async def test_no_is_recorded_and_not_asked_again_in_the_command(make_proxy) -> None:
    ask = Asker("no")
    proxy = await make_proxy([], ask=ask)
    first = await raw_exchange(proxy.socket_path, connect("denied.example:443"))
    again = await raw_exchange(proxy.socket_path, connect("denied.example:443"))
    assert (first.status, again.status) == (403, 403)
    assert len(ask.asked) == 1
    assert [d.reason for d in proxy.denials()] == ["refused in the chat"]  # once per host, port and reason


async def test_concurrent_connections_to_a_new_host_ask_once(make_proxy) -> None:
    ask = Asker("once", delay=0.2)
    with http_server() as (port, seen):
        proxy = await make_proxy([], ask=ask)
        replies = await asyncio.gather(*(raw_exchange(proxy.socket_path, get(f"http://127.0.0.1:{port}/"))
                                         for _ in range(5)))
    assert [r.status for r in replies] == [200] * 5
    assert len(ask.asked) == 1 and len(seen.paths) == 5


async def test_a_failing_question_is_a_no(make_proxy) -> None:
    async def broken(host: str, port: int) -> HostDecision:
        raise RuntimeError("no terminal")

    proxy = await make_proxy([], ask=broken)
    reply = await raw_exchange(proxy.socket_path, connect("example.org:443"))
    assert reply.status == 403


async def test_a_slow_head_is_dropped(make_proxy) -> None:
    proxy = await make_proxy(["127.0.0.1"], head_timeout=0.2)
    reader, writer = await asyncio.open_unix_connection(str(proxy.socket_path))
    writer.write(b"GET http://127.0.0.1/ HTTP/1.1\r\nX-Slow")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_connections_over_the_cap_get_503(make_proxy) -> None:
    proxy = await make_proxy(["127.0.0.1"], max_connections=1, head_timeout=5)
    _r, hold = await asyncio.open_unix_connection(str(proxy.socket_path))
    hold.write(b"GET http://127.0.0.1/ HTTP/1.1\r\n")  # stays open, waiting for its head
    await hold.drain()
    await asyncio.sleep(0.05)
    reply = await raw_exchange(proxy.socket_path, get("http://127.0.0.1/"))
    hold.close()
    assert reply.status == 503


async def test_an_allowed_host_that_is_down_is_a_502_not_a_denial(make_proxy) -> None:
    with http_server() as (port, _):
        pass  # closed: nothing listens there any more
    proxy = await make_proxy(["127.0.0.1"])
    reply = await raw_exchange(proxy.socket_path, get(f"http://127.0.0.1:{port}/"))
    assert reply.status == 502
    assert proxy.denials() == []


async def test_the_socket_is_private_and_removed_on_close(make_proxy) -> None:
    proxy = await make_proxy([])
    path = Path(proxy.socket_path)
    assert path.stat().st_mode & 0o777 == 0o600
    await proxy.close()
    assert not path.exists()


async def test_a_question_still_open_when_the_command_ends_is_withdrawn_and_not_recorded(make_proxy) -> None:
    opened, withdrawn = asyncio.Event(), asyncio.Event()

    async def slow(host: str, port: int) -> HostDecision:
        opened.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            withdrawn.set()
            raise
        return "once"

    proxy = await make_proxy([], ask=slow)
    waiting = asyncio.create_task(raw_exchange(proxy.socket_path, connect("example.org:443")))
    await asyncio.wait_for(opened.wait(), 5)
    proxy.end_command()
    await asyncio.wait_for(withdrawn.wait(), 5)
    reply = await waiting
    assert reply.status == 403 and b"the command ended" in reply.body
    assert proxy.denials() == []


async def test_every_checked_address_is_tried_in_turn(make_proxy) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["::1", "127.0.0.1"]  # as localhost often resolves; the server listens on IPv4 only

    with http_server() as (port, _):
        proxy = await make_proxy(["localhost"], resolve=resolve)
        reply = await raw_exchange(proxy.socket_path, get(f"http://localhost:{port}/"))
    assert reply.status == 200


async def test_a_flood_of_refused_names_keeps_a_bounded_record(make_proxy) -> None:
    proxy = await make_proxy([])
    for i in range(120):
        await raw_exchange(proxy.socket_path, connect(f"h{i}.example:443"))
    assert len(proxy.drain_denials()) == 100
