"""The service files in contrib/ (shown in the README) are valid: systemd-analyze verify, plistlib."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTRIB = Path(__file__).resolve().parent.parent / "contrib"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_user_unit_passes_systemd_analyze_verify(tmp_path: Path):
    text = (CONTRIB / "agent-daemon.service").read_text()
    # verify wants an executable that exists and a folder that exists: point them at this machine's
    text = text.replace("%h/.local/bin/agent daemon", f"{sys.executable} -m agent daemon")
    text = text.replace("WorkingDirectory=%h/src/myproject", f"WorkingDirectory={tmp_path}")
    unit = tmp_path / "agent-daemon.service"
    unit.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in done.stderr.splitlines() if "agent-daemon.service" in line]
    assert done.returncode == 0 and not problems, done.stderr


def test_the_launchd_plist_parses_and_runs_the_daemon_with_a_log_file():
    plist = plistlib.loads((CONTRIB / "com.example.agent-daemon.plist").read_bytes())
    assert plist["ProgramArguments"][1:3] == ["daemon", "--log-file"]
    assert plist["KeepAlive"] == {"SuccessfulExit": False} and plist["RunAtLoad"] is True
