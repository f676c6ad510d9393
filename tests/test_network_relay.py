"""The relay a sandboxed command runs behind: it listens on 127.0.0.1, gives the command the proxy
variables, forwards to the agent's proxy socket and ends as the command ends. Real curl, real
processes; one test runs it in a fresh network namespace (loopback down) when unshare can make one."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from network_support import http_server, short_socket_dir

from agent.permissions.network.proxy import DomainProxy
from agent.permissions.network.relay import relay_command

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@pytest.fixture
async def proxy() -> AsyncIterator[DomainProxy]:
    with short_socket_dir() as folder:
        server = DomainProxy(folder / "proxy.sock", ["127.0.0.1"])
        await server.start()
        yield server
        await server.close()


async def run_relayed(socket_path: Path | str, *command: str, prefix: tuple[str, ...] = ()) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *prefix, *relay_command(str(socket_path), list(command)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


CURL = ("curl", "-sS", "--max-time", "10", "-w", "\\n%{http_code}\\n")


@needs_curl
async def test_curl_reaches_an_allowed_host_through_the_relay(proxy: DomainProxy) -> None:
    with http_server("through the relay") as (port, seen):
        code, out = await run_relayed(proxy.socket_path, *CURL, f"http://127.0.0.1:{port}/a")
    assert code == 0, out
    assert "hello from through the relay" in out and out.strip().endswith("200")
    assert seen.paths == ["/a"]


@needs_curl
async def test_curl_tunnels_with_connect_through_the_relay(proxy: DomainProxy) -> None:
    with http_server("tunnel") as (port, _):
        code, out = await run_relayed(proxy.socket_path, *CURL, "--proxytunnel", f"http://127.0.0.1:{port}/")
    assert code == 0, out
    assert "hello from tunnel" in out


@needs_curl
async def test_curl_to_an_unlisted_host_sees_the_403_and_it_is_recorded(proxy: DomainProxy) -> None:
    with http_server() as (port, seen):
        _code, out = await run_relayed(proxy.socket_path, *CURL, f"http://localhost:{port}/")
    assert out.strip().endswith("403")
    assert "not allowed" in out and "sandbox.network.allowedDomains" in out
    assert seen.paths == []
    assert [(d.host, d.port) for d in proxy.denials()] == [("localhost", port)]


async def test_the_command_gets_every_proxy_variable_and_no_bypass(proxy: DomainProxy) -> None:
    script = "import os; print(repr({k: os.environ.get(k) for k in sorted(os.environ) if 'proxy' in k.lower()}))"
    code, out = await run_relayed(proxy.socket_path, sys.executable, "-c", script)
    assert code == 0, out
    values = eval(out)  # a dict printed by repr
    urls = {values[name] for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")}
    assert len(urls) == 1 and urls.pop().startswith("http://127.0.0.1:")
    assert values["NO_PROXY"] == "" and values["no_proxy"] == ""


async def test_the_relay_ends_with_the_commands_status(proxy: DomainProxy) -> None:
    assert (await run_relayed(proxy.socket_path, "sh", "-c", "exit 7"))[0] == 7
    assert (await run_relayed(proxy.socket_path, "sh", "-c", "kill -TERM $$"))[0] == -signal.SIGTERM
    code, out = await run_relayed(proxy.socket_path, "/no/such/program")
    assert code == 127 and "cannot run /no/such/program" in out


async def test_signals_to_the_relay_reach_the_command(proxy: DomainProxy, tmp_path: Path) -> None:
    marker = tmp_path / "got-term"
    script = f"trap 'touch {marker}; exit 3' TERM; echo ready; while :; do sleep 0.05; done"
    proc = await asyncio.create_subprocess_exec(
        *relay_command(str(proxy.socket_path), ["sh", "-c", script]), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 10) == 3
    assert marker.exists()


@needs_curl
async def test_a_missing_proxy_socket_is_a_502_not_a_hang(tmp_path: Path) -> None:
    _code, out = await run_relayed(tmp_path / "gone.sock", *CURL, "http://127.0.0.1:9/")
    assert out.strip().endswith("502")
    assert "proxy is not reachable" in out


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


@needs_curl
@pytest.mark.skipif(not _unshare_works(), reason="unprivileged user and network namespaces are not available")
async def test_in_a_fresh_network_namespace_the_relay_is_the_only_way_out(proxy: DomainProxy) -> None:
    with http_server("outside") as (port, _):
        direct = await run_relayed(proxy.socket_path, "curl", "-sS", "--noproxy", "*", "--max-time", "5",
                                   f"http://127.0.0.1:{port}/", prefix=("unshare", "-rn"))
        relayed = await run_relayed(proxy.socket_path, *CURL, f"http://127.0.0.1:{port}/",
                                    prefix=("unshare", "-rn"))
    assert direct[0] != 0  # the namespace's own loopback has no server: nothing reaches the host's
    assert relayed[0] == 0 and "hello from outside" in relayed[1], relayed[1]


def test_the_relay_starts_without_importing_the_agent() -> None:
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", *relay_command("/nonexistent", ["true"])[3:]],
        capture_output=True, text=True, env={**os.environ}, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert "agent" not in {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in out.stderr.splitlines()}
