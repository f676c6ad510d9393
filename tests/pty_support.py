"""Shared pieces of the pseudo-terminal tests: a screen reader and a fixture that spawns the chat.

Each test spawns `python -m agent --cwd <project>` under pexpect against the fake Messages API served
from the test process, and reads what the terminal shows (ANSI escapes stripped). The prompt stays up
while turns run, so keys can be sent at any time. `PROMPT_TOOLKIT_NO_CPR=1`: pexpect answers no cursor
position requests (the bottom toolbar is therefore not drawn; pass PROMPT_TOOLKIT_NO_CPR="" to keep it).
conftest.py loads this module as a plugin, so the `spawn` and `project` fixtures are there in every test module.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from fake_api import FakeAnthropic, RecordedRequest, child_env
from sched_helpers import due_hourly

PTY_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
SCHEDULED_HEADER = r"Running scheduled task \([A-Z][a-z]{2} \d{1,2} \d{1,2}:\d\d [AP]M\): "


class Terminal:
    """The child's screen output as plain text, with expect() that moves forward through it."""

    def __init__(self, child: pexpect.spawn) -> None:
        self.child = child
        self.text = ""
        self.pos = 0

    def pump(self, timeout: float = 0.05) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            time.sleep(timeout)
            return
        self.text += ANSI.sub("", data).replace("\r", "")

    def expect(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.text, self.pos)
            if match:
                self.pos = match.end()
                return match
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} did not appear within {timeout}s; screen tail:\n"
                                     f"{self.text[-2000:]}")
            self.pump()

    def settle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump()

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def type_line(self, line: str) -> None:
        self.child.send(line + "\r")

    def wait_exit(self, timeout: float = 10.0) -> int:
        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else -(self.child.signalstatus or 0)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / ".claude").mkdir(parents=True)
    return folder


@pytest.fixture
def spawn(fake_api: FakeAnthropic, tmp_path: Path, project: Path) -> Iterator:
    children: list[pexpect.spawn] = []

    def start(*args: str, rows: int = 40, cols: int = 120, **env_overrides: str) -> Terminal:
        env = child_env(fake_api, tmp_path / "home",
                        **{"PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm-256color", **env_overrides})
        env = {k: v for k, v in env.items() if v != ""}  # "" means: leave this variable out
        child = pexpect.spawn(sys.executable, ["-m", "agent", "--cwd", str(project), *args], env=env,
                              cwd=str(project), dimensions=(rows, cols), encoding="utf-8",
                              codec_errors="replace", timeout=15)
        children.append(child)
        term = Terminal(child)
        term.expect(r"(?m)^> ?", timeout=30)  # start-up: Python, imports, first draw (slow on a loaded CI box)
        return term

    yield start
    for child in children:
        if child.isalive():
            child.terminate(force=True)


def prompts(api: FakeAnthropic) -> list[str]:
    return [r.turn_prompt() for r in api.requests]


def write_due_task(project: Path, task_id: str, prompt: str) -> None:
    """A durable recurring task due at once that fires once in any test: hourly at the minute that was 20
    minutes ago (after its last fire, 30 minutes ago), so its next slot is 40 minutes away. An every-minute
    task came due again at each turn of the minute, adding a fire to whatever the test counted."""
    task = {"id": task_id, "prompt": prompt, **due_hourly(int(time.time() * 1000))}
    path = project / ".claude" / "scheduled_tasks.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"tasks": [task]}))
    tmp.replace(path)


def is_scheduled(request: RecordedRequest, task_id: str) -> bool:
    return f"scheduled task {task_id}" in request.turn_prompt()
