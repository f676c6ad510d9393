"""A session's proxy on its own thread (questions bridged to the face's loop), the relay on its own,
and "always" saved in the project's .claude/settings.local.json without losing anything else there."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from network_support import http_server
from trust_support import trust_folder

from agent.permissions.network import NetworkService, RememberError, relay_template, remember_domain
from agent.settings import load_settings


def fetch_via(socket_path: Path, url: str) -> tuple[int, bytes]:
    """A blocking client on the proxy socket (the test's own thread, not the proxy's loop)."""
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(socket_path))
        sock.sendall(f"GET {url} HTTP/1.1\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[1]


def test_the_service_serves_from_its_own_thread_and_cleans_up() -> None:
    with http_server() as (port, _), NetworkService(["127.0.0.1"]) as network:
        path = network.socket_path
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert len(str(path)) < 100
        assert fetch_via(path, f"http://127.0.0.1:{port}/")[0] == 200
        assert fetch_via(path, f"http://localhost:{port}/")[0] == 403
        [denial] = network.command_finished()
        assert denial.host == "localhost"
        assert network.command_finished() == []
    assert not path.parent.exists()


async def test_questions_run_on_the_faces_loop_and_once_ends_with_the_command() -> None:
    asked: list[tuple[str, int, bool]] = []
    face_loop = asyncio.get_running_loop()

    async def ask(host: str, port: int):
        asked.append((host, port, asyncio.get_running_loop() is face_loop))
        return "once"

    with http_server() as (port, _), NetworkService([]) as network:
        network.set_asker(ask, face_loop)
        first = await asyncio.to_thread(fetch_via, network.socket_path, f"http://127.0.0.1:{port}/")
        again = await asyncio.to_thread(fetch_via, network.socket_path, f"http://127.0.0.1:{port}/")
        assert network.command_finished() == []
        network.set_asker(None)
        after = await asyncio.to_thread(fetch_via, network.socket_path, f"http://127.0.0.1:{port}/")
    assert (first[0], again[0], after[0]) == (200, 200, 403)
    assert asked == [("127.0.0.1", port, True)]


def test_the_relay_alone_forwards_until_killed() -> None:
    with http_server("relayed") as (port, _), NetworkService(["127.0.0.1"]) as network:
        argv = [part.replace("{socket}", str(network.socket_path)).replace("{port}", "0")
                for part in relay_template()]
        assert argv[1:3] == ["-I", "-S"]
        relay = subprocess.Popen(argv, stderr=subprocess.PIPE)
        try:
            # the relay picked a port: find it from /proc (it is our child, listening on 127.0.0.1)
            relay_port = _listening_port(relay.pid)
            out = subprocess.run(["curl", "-sS", "--max-time", "10", "-x", f"http://127.0.0.1:{relay_port}",
                                  f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=30)
        finally:
            relay.terminate()
            relay.wait(10)
    assert out.stdout == "hello from relayed\n", out.stderr


def _listening_port(pid: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}") if os.path.exists(f"/proc/{pid}/fd/{fd}") else ""
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes and fields[3] == "0A":  # LISTEN
                return int(fields[1].split(":")[1], 16)
        time.sleep(0.02)
    raise AssertionError("the relay never listened")


def test_always_adds_the_host_to_the_local_settings_and_keeps_the_rest(tmp_path: Path) -> None:
    local = tmp_path / ".claude" / "settings.local.json"
    local.parent.mkdir()
    local.write_text(json.dumps({"permissions": {"allow": ["Bash(ls:*)"]},
                                 "sandbox": {"enabled": True, "network": {"allowedDomains": ["github.com"]}}}))
    assert remember_domain(tmp_path, "pypi.org") == local
    remember_domain(tmp_path, "pypi.org")  # twice: listed once
    data = json.loads(local.read_text())
    assert data["sandbox"] == {"enabled": True, "network": {"allowedDomains": ["github.com", "pypi.org"]}}
    assert data["permissions"] == {"allow": ["Bash(ls:*)"]}
    saved = load_settings(tmp_path, [local], trusted=True).get("sandbox")["network"]["allowedDomains"]
    assert saved[-1] == "pypi.org"
    assert [p.name for p in local.parent.iterdir()] == ["settings.local.json"]  # no temp file left


def test_always_creates_the_file_when_there_is_none(tmp_path: Path) -> None:
    remember_domain(tmp_path, "localhost")
    saved = json.loads((tmp_path / ".claude" / "settings.local.json").read_text())
    assert saved == {"sandbox": {"network": {"allowedDomains": ["localhost"]}}}


@pytest.mark.parametrize("content", ["{not json", json.dumps({"sandbox": {"network": []}}),
                                     json.dumps({"sandbox": {"network": {"allowedDomains": "x"}}})])
def test_an_unusable_local_settings_file_is_never_overwritten(tmp_path: Path, content: str) -> None:
    local = tmp_path / ".claude" / "settings.local.json"
    local.parent.mkdir()
    local.write_text(content)
    with pytest.raises(RememberError):
        remember_domain(tmp_path, "pypi.org")
    assert local.read_text() == content


def test_relay_template_imports_nothing_of_the_agent() -> None:
    # The template runs relay.py by path under -I -S: the sandbox's command environment cannot steer it.
    template = relay_template()
    assert template[0] == sys.executable and template[3].endswith("relay.py")
    assert "{socket}" in template and "{port}" in template and "--" not in template


def test_a_saved_domain_does_not_switch_off_the_shared_sandbox_settings(tmp_path: Path) -> None:
    shared = tmp_path / ".claude" / "settings.json"
    shared.parent.mkdir()
    shared.write_text(json.dumps({"sandbox": {"enabled": True, "failIfUnavailable": True,
                                              "network": {"allowedDomains": ["github.com"]}}}))
    remember_domain(tmp_path, "pypi.org")
    local = tmp_path / ".claude" / "settings.local.json"
    sandbox = load_settings(tmp_path, [shared, local], trusted=True).get("sandbox")
    assert sandbox == {"enabled": True, "failIfUnavailable": True,
                       "network": {"allowedDomains": ["github.com", "pypi.org"]}}


def test_agent_sandbox_shows_the_allowed_domains_without_starting_a_proxy(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.json").write_text(
        json.dumps({"sandbox": {"network": {"allowedDomains": ["github.com", "*.npmjs.org"]}}}))
    trust_folder(project)
    shown = subprocess.run([sys.executable, "-m", "agent", "sandbox", "--cwd", str(project)],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    [line] = [line for line in shown.stdout.splitlines() if line.startswith("Network")]
    assert "only github.com, *.npmjs.org, through the agent's proxy" in line


def test_the_preview_starts_nothing_and_policy_starts_the_proxy_once(tmp_path: Path) -> None:
    from agent.permissions.network.gate import NetworkGate

    gate = NetworkGate(["github.com"], tmp_path)
    try:
        preview = gate.preview()
        assert preview.enabled and gate._service is None
        first, second = gate.policy(), gate.policy()
        assert first.proxy_socket == second.proxy_socket and first.proxy_socket.exists()
        assert first.relay[3].endswith("relay.py") and first.proxy_port == 3128
        assert gate.preview().proxy_socket == first.proxy_socket
    finally:
        gate.close()
    assert not first.proxy_socket.exists()
    assert NetworkGate([], tmp_path).policy().proxy_socket is None  # nothing allowed, nobody to ask: no network


def test_the_relay_stays_read_only_when_the_agent_lies_in_the_project() -> None:
    # The launcher loads relay.py before its seccomp filter: a command that could rewrite it would run
    # code with unix sockets in the next sandbox. (Checked on the plan; nothing is run here.)
    import agent
    from agent.permissions.network import relay
    from agent.permissions.sandbox.backends import plan_mounts
    from agent.permissions.sandbox.runner import SandboxRunner

    root = Path(agent.__file__).resolve().parents[1]
    runner = SandboxRunner.from_settings(root, {"sandbox": {"enabled": True}})
    plan = plan_mounts(runner.policy(Path("/tmp/placeholder")))
    assert str(Path(relay.__file__).resolve().parent) in plan.read_only
