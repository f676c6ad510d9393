"""Resizing in real tmux adds nothing to its scrollback: after 120 -> 50 -> 100 columns at the prompt and
while a reply streams, the banner and every message are there once, with no run of blank lines and no
copy of the prompt area (spinner, input line, toolbar). tmux rewraps lines on resize in its own way
(a row's used cells, styled blanks included, decide how many rows it becomes), which pyte does not copy;
this drives tmux itself."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pty_support import PTY_ONLY

pytestmark = [PTY_ONLY, pytest.mark.skipif(shutil.which("tmux") is None,
                                           reason="tmux is not installed (apt-get install tmux)")]

START_S = 40.0
IDLE = "claude-sonnet-4-6 · /help"


class Tmux:
    """One private tmux server (its own socket, no user config) running the chat in one pane."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", *args], capture_output=True,
                              text=True, timeout=10, check=True)
        return done.stdout

    def lines(self, history_only: bool = False) -> list[str]:
        """The pane's scrollback and screen (`capture-pane -S -`), or its scrollback alone."""
        end = ["-E", "-1"] if history_only else []
        if history_only and self.value("history_size") == "0":
            return []
        return self.run("capture-pane", "-p", "-S", "-", *end).split("\n")[:-1]

    def screen(self) -> list[str]:
        return self.run("capture-pane", "-p").split("\n")[:-1]

    def value(self, name: str) -> str:
        return self.run("display-message", "-p", f"#{{{name}}}").strip()

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n" + "\n".join(self.lines()))
            time.sleep(0.1)


@pytest.fixture
def api_process() -> Iterator[Callable[..., str]]:
    """The suite's fake Messages API as its own process (`python tests/fake_api.py`), as a user runs it."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> str:
        server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_api.py")), "--port", "0", *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        started.append(server)
        assert server.stdout is not None
        return server.stdout.readline().strip()

    yield start
    for server in started:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def tmux_chat(api_process, tmp_path: Path) -> Iterator[Callable[..., Tmux]]:
    """`start(*fake_api_args)`: the chat in a 120x30 tmux pane, talking to a fake API started with those args.
    The project has a short path: the banner must fit in 100 columns and wrap at 50 (pytest's tmp_path is too
    long for that, and a banner wider than the screen hid the bug)."""
    servers: list[Tmux] = []
    sockets: list[Path] = []  # tmux leaves its socket file behind
    short = Path(tempfile.mkdtemp(prefix="agent-"))
    project = short / "proj"
    (project / ".claude").mkdir(parents=True)

    def start(*api_args: str) -> Tmux:
        tmux = Tmux(f"agent-test-{uuid.uuid4().hex[:12]}")
        servers.append(tmux)
        env = {"HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path / "state"),
               "ANTHROPIC_BASE_URL": api_process(*api_args), "ANTHROPIC_API_KEY": "test-key",
               "PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
               "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
        (tmp_path / "home").mkdir(exist_ok=True)
        assignments = [f"{key}={shlex.quote(value)}" for key, value in env.items()]
        command = " ".join(["env", *assignments, shlex.quote(sys.executable), "-m", "agent",
                            "--cwd", shlex.quote(str(project))])
        tmux.run("new-session", "-d", "-x", "120", "-y", "30", "-c", str(project), command)
        sockets.append(Path(tmux.value("socket_path")))
        tmux.wait_for(lambda: IDLE in tmux.screen()[-1], "the idle toolbar", timeout=START_S)
        return tmux

    yield start
    for tmux in servers:
        subprocess.run(["tmux", "-L", tmux.name, "kill-server"], capture_output=True, timeout=10)
    shutil.rmtree(short, ignore_errors=True)
    for socket in sockets:
        socket.unlink(missing_ok=True)


def blank_runs(lines: list[str], longest: int = 2) -> list[int]:
    """Where more than `longest` blank lines follow each other."""
    runs, count = [], 0
    for index, line in enumerate(lines):
        count = count + 1 if not line.strip() else 0
        if count == longest + 1:
            runs.append(index)
    return runs


def resize_to(tmux: Tmux, columns: int) -> None:
    tmux.run("resize-window", "-x", str(columns))
    tmux.wait_for(lambda: tmux.value("pane_width") == str(columns) and "claude-sonnet-4-6 · " in tmux.screen()[-1],
                  f"a redraw at {columns} columns")
    time.sleep(0.8)


def check_scrollback(tmux: Tmux, words: list[str]) -> None:
    history = tmux.lines(history_only=True)
    assert blank_runs(history) == [], "\n".join(history)
    assert not [line for line in history if "claude-sonnet-4-6 · " in line], "\n".join(history)  # no toolbar copy
    assert not [line for line in history if "Ctrl-C to interrupt" in line], "\n".join(history)  # no spinner copy
    joined = " ".join(line.strip() for line in tmux.lines())
    for word in words:
        assert joined.count(word) == 1, (word, tmux.lines())


def paragraphs(tag: str, count: int) -> str:
    return "\n\n".join(f"para{i} " + " ".join(f"{tag}{i}w{j}" for j in range(12)) for i in range(count))


def test_resizing_at_the_prompt_in_tmux_adds_nothing_to_the_scrollback(tmux_chat):
    tmux = tmux_chat("--text", paragraphs("p", 5))
    tmux.run("send-keys", "-l", "first")
    tmux.run("send-keys", "Enter")
    tmux.wait_for(lambda: "p4w11" in " ".join(tmux.screen()) and IDLE in tmux.screen()[-1], "the reply",
                  timeout=START_S)
    for columns in (50, 100):
        resize_to(tmux, columns)
    check_scrollback(tmux, ["agent 0.1.0", "> first", *[f"p{i}w11" for i in range(5)]])


def test_resizing_while_a_reply_streams_in_tmux_adds_nothing_to_the_scrollback(tmux_chat):
    tmux = tmux_chat("--text", paragraphs("s", 5), "--chunk-delay", "0.15")
    tmux.run("send-keys", "-l", "go")
    tmux.run("send-keys", "Enter")
    time.sleep(1.5)  # while the spinner ticks, before the first words (when the copies were made)
    for columns in (50, 100):
        tmux.run("resize-window", "-x", str(columns))
        time.sleep(1.5)
    tmux.wait_for(lambda: "s4w11" in " ".join(tmux.lines()) and IDLE in tmux.screen()[-1], "the end of the reply",
                  timeout=START_S)
    check_scrollback(tmux, ["agent 0.1.0", "> go", *[f"s{i}w11" for i in range(5)]])
