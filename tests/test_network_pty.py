"""The network question in a real terminal: a sandboxed command in the chat reaches for a host not yet
allowed, the chat asks, "always" lets the command through and saves the host for the project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fake_api import text_reply, tool_reply
from network_support import http_server
from pty_support import PTY_ONLY

from agent.permissions.sandbox.backends import BACKENDS

pytestmark = [PTY_ONLY, pytest.mark.skipif(
    shutil.which("curl") is None or not any(b().probe().available for b in BACKENDS),
    reason="no sandbox backend (or no curl) here")]

PAST_GRACE_S = 0.8
START_S = 30.0


def test_always_lets_the_command_through_and_saves_the_domain(spawn, fake_api, project: Path) -> None:
    (project / ".claude" / "settings.json").write_text(json.dumps({"sandbox": {"enabled": True}}))
    with http_server("asked for") as (port, seen):
        command = f"curl -sS --max-time 60 http://localhost:{port}/"
        fake_api.script(tool_reply(("Bash", {"command": command}), delay_s=0.5), text_reply("fetched"))
        term = spawn()
        term.type_line("fetch it")
        term.expect(r"\? Network request outside of the sandbox: allow localhost\?", timeout=START_S)
        term.expect(rf"wants to connect to localhost:{port}")
        term.expect(r"2\. Yes, and always for this project")
        term.settle(PAST_GRACE_S)
        term.send("2")
        term.expect(r"network: localhost allowed; added to sandbox.network.allowedDomains")
        term.expect(r"fetched", timeout=START_S)
        term.type_line("/exit")
        assert term.wait_exit() == 0
    assert "hello from asked for" in fake_api.requests[1].tool_result_texts()[0]
    saved = json.loads((project / ".claude" / "settings.local.json").read_text())
    assert saved == {"sandbox": {"network": {"allowedDomains": ["localhost"]}}}
    assert len(seen.paths) == 1
