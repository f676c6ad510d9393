"""The network hook the allow-list proxy plugs into (NetworkPolicy.proxy_socket / relay / proxy_port).

A stand-in relay (a few lines of Python: TCP on the sandbox's loopback -> the agent's unix socket) shows
the contract in each backend: it starts inside, before the command, and may use a unix socket; the
command reaches the agent's socket only through it (HTTP_PROXY names it) and still cannot open a unix
socket itself.
"""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pytest
from sandbox_support import BACKEND_NAMES, backend_or_skip

from agent.permissions.sandbox.backends import Backend
from agent.permissions.sandbox.config import SandboxSettings
from agent.permissions.sandbox.policy import NetworkPolicy
from agent.permissions.sandbox.runner import SandboxRunner
from agent.tools.base import ToolContext
from agent.tools.bash import BashTool

RELAY = """
import socket, sys, threading
target, port = sys.argv[1], int(sys.argv[2])
server = socket.create_server(("127.0.0.1", port))
def pipe(a, b):
    while data := a.recv(4096):
        b.sendall(data)
    b.shutdown(socket.SHUT_WR)
while True:
    inside, _ = server.accept()
    outside = socket.socket(socket.AF_UNIX)
    outside.connect(target)
    threading.Thread(target=pipe, args=(inside, outside), daemon=True).start()
    threading.Thread(target=pipe, args=(outside, inside), daemon=True).start()
"""


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    return backend_or_skip(request.param)


async def test_the_relay_starts_inside_and_is_the_only_way_out(tmp_path: Path, backend: Backend) -> None:
    if backend.name == "landlock-only":
        pytest.skip("landlock-only has no network namespace to run a relay in: no network at all there")
    project, folder = tmp_path / "project", tmp_path / "agent"
    project.mkdir()
    folder.mkdir()
    (folder / "relay.py").write_text(RELAY)
    started: list[NetworkPolicy] = []

    def network() -> NetworkPolicy:  # a provider: the proxy may start at the first sandboxed command
        if not started:
            started.append(NetworkPolicy(("pypi.org",), proxy_socket=runner.private_path("proxy.sock"),
                                         proxy_port=18080,
                                         relay=(sys.executable, str(folder / "relay.py"), "{socket}", "{port}")))
        return started[0]
    runner = SandboxRunner(project, SandboxSettings(enabled=True), home=tmp_path / "home", network=network,
                           backends=[backend])
    proxy_socket = runner.private_path("proxy.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(proxy_socket))
    server.listen()
    received: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        received.append(conn.recv(100))
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
        conn.close()
    threading.Thread(target=serve, daemon=True).start()
    command = (
        "python3 - <<'EOF'\n"
        "import os, socket\n"
        "host, port = os.environ['HTTPS_PROXY'].rsplit('/', 1)[1].split(':')\n"
        "s = socket.create_connection((host, int(port)))\n"
        "s.sendall(b'CONNECT pypi.org:443 HTTP/1.1\\r\\n\\r\\n')\n"
        "print(s.recv(100).decode().splitlines()[0])\n"
        "try:\n"
        f"    socket.socket(socket.AF_UNIX).connect({str(proxy_socket)!r})\n"
        "    print('unix socket: open')\n"
        "except OSError as exc:\n"
        "    print('unix socket:', exc.strerror)\n"
        "EOF")
    tool = BashTool()
    try:
        result = await tool.run(tool.parse_input({"command": command, "timeout": 30_000}),
                                ToolContext(project_dir=project, sandbox=runner))
    finally:
        runner.close()
        server.close()
    assert "HTTP/1.1 403 Forbidden" in result.content, result.content
    assert received and received[0].startswith(b"CONNECT pypi.org:443")
    assert "unix socket: Operation not permitted" in result.content
    assert len(started) == 1
