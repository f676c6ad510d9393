"""Network escapes, run for real in each sandbox backend this machine has (bubblewrap, Landlock): the
only way out of a sandboxed command is the agent's proxy, and the proxy lets through only what
sandbox.network.allowedDomains lists (loopback included). Built from the session's own parts:
SandboxRunner + NetworkGate, as AgentSession wires them."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from network_support import http_server

from agent.permissions.network.gate import NetworkGate
from agent.permissions.sandbox.backends import BACKENDS as BACKEND_TYPES
from agent.permissions.sandbox.runner import SandboxRunner

BACKENDS = {backend.name: backend for backend in BACKEND_TYPES}
NO_RELAY = {"landlock-only"}  # no network namespace: socket() is refused outright, so no proxy either


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest):
    made = BACKENDS[request.param]()
    probe = made.probe()
    if not probe.available:
        pytest.skip(f"{request.param}: {probe.reason}")
    return made


class Sandboxed:
    """Runs `bash -c` commands in the sandbox the way the Bash tool does; `denials` after each."""

    def __init__(self, backend, project: Path, allowed: list[str]) -> None:
        self.backend = backend
        self.runner = SandboxRunner.from_settings(project, {"sandbox": {"enabled": True}}, backends=[backend])
        self.gate = NetworkGate(allowed, project, socket_path=lambda: self.runner.private_path("proxy.sock"))
        self.runner.network = self.gate  # as AgentSession wires them
        self.project = project
        self.denials: list = []

    def run(self, command: str) -> tuple[int, str]:
        wrapped = self.runner.wrap(["bash", "-c", command], os.environ, self.project)
        try:
            done = subprocess.run(wrapped.argv, env=wrapped.env, pass_fds=wrapped.pass_fds, cwd=self.project,
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        finally:
            wrapped.close()
        self.denials = wrapped.denials()
        return done.returncode, done.stdout + done.stderr

    def close(self) -> None:
        self.gate.close()
        self.runner.close()


@pytest.fixture
def sandbox(backend, tmp_path: Path) -> Iterator:
    made: list[Sandboxed] = []

    def make(allowed: list[str]) -> Sandboxed:
        made.append(Sandboxed(backend, tmp_path, allowed))
        return made[-1]

    yield make
    for each in made:
        each.close()


def needs_the_proxy(box: Sandboxed) -> None:
    if box.backend.name in NO_RELAY:
        pytest.skip(f"{box.backend.name}: no network at all, so nothing goes through the proxy")


def py(code: str) -> str:
    return f"{sys.executable} -c {shlex_quote(textwrap.dedent(code))}"


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    print("CONNECTED")
except OSError as exc:
    print("refused:", exc)
"""


def connect_cmd(host: str, port: int) -> str:
    return f"{py(CONNECT)} {host} {port}"


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@needs_curl
def test_an_allowed_loopback_domain_works_through_the_proxy(sandbox) -> None:
    box = sandbox(["127.0.0.1"])
    needs_the_proxy(box)
    with http_server("allowed") as (port, _seen):
        code, out = box.run(f"curl -sS --max-time 10 http://127.0.0.1:{port}/")
    assert code == 0, out
    assert out == "hello from allowed\n"
    assert box.denials == []


@needs_curl
def test_an_unlisted_domain_is_refused_headless_and_the_denial_names_it(sandbox) -> None:
    box = sandbox(["127.0.0.1"])
    needs_the_proxy(box)
    with http_server() as (port, seen):
        _code, out = box.run(f"curl -sS --max-time 10 -w '%{{http_code}}' http://localhost:{port}/")
        tunnel = box.run(f"curl -sS --max-time 10 -p http://localhost:{port}/")
    assert out.endswith("403") and "localhost" in out and "sandbox.network.allowedDomains" in out
    assert tunnel[0] != 0
    assert seen.paths == []
    [denial] = box.denials  # the tunnel's; the first command's were drained after it
    assert denial.domain == "localhost" and f"localhost:{port}" in denial.reason
    assert denial.rule == 'sandbox.network.allowedDomains: "localhost"'


def test_a_direct_tcp_connect_to_a_loopback_server_fails_even_when_allowed(sandbox) -> None:
    box = sandbox(["127.0.0.1", "localhost"])
    with http_server() as (port, seen):
        _code, out = box.run(f"{connect_cmd('127.0.0.1', port)}; {connect_cmd('::1', port)}; "
                            f"{connect_cmd('0.0.0.0', port)}")
    assert "CONNECTED" not in out and out.count("refused:") == 3, out
    assert seen.paths == []


def test_the_hosts_own_address_is_out_of_reach(sandbox) -> None:
    address = _host_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    server = socket.create_server(("0.0.0.0", 0))
    port = server.getsockname()[1]
    try:
        box = sandbox([address])
        _code, out = box.run(connect_cmd(address, port))
    finally:
        server.close()
    assert "CONNECTED" not in out and "refused:" in out


def _host_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))  # no packet is sent: only picks the outgoing address
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_dns_over_udp_gets_nowhere(sandbox) -> None:
    received: list[bytes] = []
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]

    def listen() -> None:
        for _ in range(6):
            with contextlib.suppress(OSError):
                received.append(server.recv(512))

    thread = threading.Thread(target=listen)
    thread.start()
    query = py(f"""
        import socket
        for target in (("127.0.0.1", {port}), ("8.8.8.8", 53), ("1.1.1.1", 53)):
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(1)
                s.sendto(b"\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00", target)
                print("GOT AN ANSWER", s.recv(512))
            except OSError as exc:
                print("no answer:", exc)
        """)
    box = sandbox(["127.0.0.1", "example.com"])
    try:
        _code, out = box.run(f"{query}; getent hosts example.com || echo 'no name resolution'")
    finally:
        thread.join()
        server.close()
    assert received == []  # nothing reached the host's port
    assert "GOT AN ANSWER" not in out and out.count("no answer:") == 3
    assert "no name resolution" in out


@needs_curl
def test_without_allowed_domains_or_a_question_there_is_no_network_at_all(sandbox) -> None:
    box = sandbox([])
    with http_server() as (port, seen):
        code, out = box.run(f"env | grep -i _proxy= ; curl -sS --max-time 5 http://127.0.0.1:{port}/")
    assert box.gate._service is None  # no proxy was even started
    assert "_PROXY=" not in out.upper().replace("NO_PROXY=", "")
    assert code != 0 and seen.paths == []


@needs_curl
def test_unsetting_the_proxy_variables_does_not_get_around_the_proxy(sandbox) -> None:
    box = sandbox(["127.0.0.1"])
    with http_server() as (port, seen):
        code, _out = box.run(f"env -u HTTP_PROXY -u http_proxy -u ALL_PROXY curl -sS --max-time 5 "
                            f"--noproxy '*' http://127.0.0.1:{port}/")
    assert code != 0 and seen.paths == []


def test_the_proxy_socket_is_no_side_door_for_the_command(sandbox) -> None:
    box = sandbox(["127.0.0.1"])
    box.gate.policy()  # the proxy runs
    path = box.gate._service.socket_path
    _code, out = box.run(py(f"""
        import socket
        try:
            socket.socket(socket.AF_UNIX).connect({str(path)!r})
            print("CONNECTED")
        except OSError as exc:
            print("refused:", exc)
        """))
    assert "CONNECTED" not in out and "refused:" in out, out  # new unix sockets are refused (seccomp)


@needs_curl
def test_allow_once_in_the_chat_lasts_for_the_command_and_always_is_saved(sandbox, tmp_path: Path) -> None:
    import asyncio

    answers = ["once", "always"]
    asked: list[str] = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def ask(host: str, port: int) -> str:
        asked.append(host)
        return answers.pop(0)

    box = sandbox([])
    needs_the_proxy(box)
    box.gate.set_asker(ask, loop)
    try:
        with http_server() as (port, _seen):
            url = f"http://localhost:{port}/"
            first = box.run(f"curl -sS --max-time 10 {url} {url}")
            second = box.run(f"curl -sS --max-time 10 {url}")
            third = box.run(f"curl -sS --max-time 10 {url}")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
    assert first[1].count("hello from origin") == 2 and second[1] == third[1] == "hello from origin\n"
    assert asked == ["localhost", "localhost"]  # once per command for "once"; never again after "always"
    saved = (tmp_path / ".claude" / "settings.local.json").read_text()
    assert '"localhost"' in saved


def test_the_proxy_socket_cannot_be_replaced_from_inside(sandbox) -> None:
    # A socket swapped for a link to another server (a Docker daemon, an ssh agent) would be what the next
    # command's relay connects to, before its seccomp filter.
    box = sandbox(["127.0.0.1"])
    path = box.gate.policy().proxy_socket
    _code, out = box.run(f"rm -f {path}; ln -sf /run/docker.sock {path}; mv {path} {path}.x; "
                        f"touch {path.parent}/other.sock; echo tried")
    assert "tried" in out
    assert path.is_socket() and not path.is_symlink() and not (path.parent / "other.sock").exists()
