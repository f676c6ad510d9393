"""The REPL end to end, in a real pseudo-terminal, as a new user would use it.

Each test spawns `python -m agent --cwd <project>` under pexpect against the fake Messages API served
from this process, and reads what the terminal shows (ANSI escapes stripped). The prompt stays up while
turns run, so keys can be sent at any time. `PROMPT_TOOLKIT_NO_CPR=1`: pexpect answers no cursor
position requests (the bottom toolbar is therefore not drawn here; everything tested is above it).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pexpect
import pytest
from fake_api import (
    FakeAnthropic,
    RecordedRequest,
    child_env,
    error_reply,
    stalled_reply,
    text_reply,
    tool_reply,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")

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

    def start(**env_overrides: str) -> Terminal:
        env = child_env(fake_api, tmp_path / "home", PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm-256color",
                        **env_overrides)
        env = {k: v for k, v in env.items() if v != ""}  # "" means: leave this variable out
        child = pexpect.spawn(sys.executable, ["-m", "agent", "--cwd", str(project)], env=env, cwd=str(project),
                              dimensions=(40, 120), encoding="utf-8", codec_errors="replace", timeout=15)
        children.append(child)
        term = Terminal(child)
        term.expect(r"(?m)^> ?", timeout=10)
        return term

    yield start
    for child in children:
        if child.isalive():
            child.terminate(force=True)


def prompts(api: FakeAnthropic) -> list[str]:
    return [r.turn_prompt() for r in api.requests]


def write_due_task(project: Path, task_id: str, prompt: str) -> None:
    """A durable recurring task (every minute) that last fired 3 minutes ago: due at once."""
    now_ms = int(time.time() * 1000)
    task = {"id": task_id, "cron": "* * * * *", "prompt": prompt, "createdAt": now_ms - 600_000,
            "recurring": True, "lastFiredAt": now_ms - 180_000}
    path = project / ".claude" / "scheduled_tasks.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"tasks": [task]}))
    tmp.replace(path)


def is_scheduled(request: RecordedRequest, task_id: str) -> bool:
    return f"scheduled task {task_id}" in request.turn_prompt()


def test_chat_turn_streams_the_reply_then_shows_it_as_markdown(spawn, fake_api):
    fake_api.set_default(lambda r: text_reply(f"Streaming **bold** words, you said: {r.turn_prompt()}",
                                              chunk_delay_s=0.1))
    term = spawn()
    term.type_line("what is up")
    term.expect(r"Stream")  # the first delta is on the screen ...
    assert fake_api.requests[0].outcome is None  # ... while the server is still sending the rest
    term.expect(r"Streaming bold words, you said: what is up")  # the finished block, as Markdown
    assert prompts(fake_api) == ["what is up"]
    assert fake_api.validation_errors == []


def test_loop_command_shows_its_schedule_and_runs_the_prompt_at_once(spawn, fake_api, project):
    fake_api.set_default(lambda r: text_reply(f"ran: {r.turn_prompt()}"))
    term = spawn()
    term.type_line("/loop 1m say hi")
    match = term.expect(r"Scheduled ([0-9a-f]{8}): every minute \(\* \* \* \* \*\), this session only")
    task_id = match.group(1)
    term.expect(r"Next run: [A-Z][a-z]{2} \d+ \d+:\d\d [AP]M \(in (\d+m)? ?(\d+s)?\)")  # "1m", "1m 1s" or "59s"
    term.expect(rf"Stop it with /cron delete {task_id}")
    term.expect(r"ran: say hi")
    assert prompts(fake_api) == ["say hi"]
    assert not (project / ".claude" / "scheduled_tasks.json").exists()  # session-only: nothing on disk
    term.type_line("/cron")
    term.expect(rf"{task_id}\s+Every minute \(\* \* \* \* \*\)\s+[A-Z][a-z]{{2}} .*recurring\s+session\s+say hi")


def test_due_durable_task_fires_at_an_idle_prompt_and_typed_text_survives(spawn, fake_api, project):
    write_due_task(project, "a1b2c3d4", "check the deploy")
    fake_api.when(lambda r: is_scheduled(r, "a1b2c3d4"),
                  text_reply("deploy looks fine", chunk_delay_s=0.02))
    fake_api.set_default(lambda r: text_reply(f"you sent: {r.turn_prompt()}"))
    term = spawn()
    term.send("half typed")  # not sent: the user is still writing when the task fires
    term.expect(SCHEDULED_HEADER + r"check the deploy")
    term.expect(r"deploy looks fine")
    term.expect(r"> half typed")  # the prompt came back with the text as it was
    term.send("\r")
    term.expect(r"you sent: half typed")
    requests = fake_api.requests
    assert len(requests) == 2 and is_scheduled(requests[0], "a1b2c3d4")
    assert "started automatically" in requests[0].turn_prompt()
    assert requests[1].turn_prompt() == "half typed"
    saved = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"][0]
    assert saved["lastFiredAt"] > time.time() * 1000 - 60_000  # the fire was recorded


def test_message_typed_during_a_slow_turn_runs_before_a_scheduled_prompt_due_meanwhile(spawn, fake_api, project):
    fake_api.when(lambda r: r.turn_prompt() == "slow question", text_reply("slow answer", delay_s=3.5))
    fake_api.when(lambda r: is_scheduled(r, "0badc0de"), text_reply("scheduled answer"))
    fake_api.set_default(lambda r: text_reply(f"answer to: {r.turn_prompt()}"))
    term = spawn()
    term.type_line("slow question")
    fake_api.wait_for_requests(1)
    term.type_line("typed meanwhile")
    term.expect(r"Queued: runs when the current turn ends")
    write_due_task(project, "0badc0de", "scheduled check")  # due now, but a turn is running
    term.expect(r"slow answer", timeout=15)
    term.expect(r"> typed meanwhile")  # echoed when its turn starts
    term.expect(r"answer to: typed meanwhile")
    term.expect(SCHEDULED_HEADER + r"scheduled check", timeout=15)
    term.expect(r"scheduled answer")
    order = fake_api.requests
    assert [r.turn_prompt() for r in order[:2]] == ["slow question", "typed meanwhile"]
    assert is_scheduled(order[2], "0badc0de")
    assert fake_api.validation_errors == []


def test_ctrl_c_cancels_a_slow_turn_and_the_next_message_works(spawn, fake_api):
    fake_api.when(lambda r: r.turn_prompt() == "take forever", stalled_reply("Beginning the long job"), times=1)
    fake_api.set_default(lambda r: text_reply("second answer"))
    term = spawn()
    term.type_line("take forever")
    term.expect(r"Begi")  # the first words streamed, then the server stalls
    term.send("\x03")
    term.expect(r"Interrupted\.")
    term.type_line("and now?")
    term.expect(r"second answer")
    assert fake_api.requests[0].outcome == "client_gone"  # the stream was really abandoned
    assert fake_api.validation_errors == []  # the history stayed valid after the cancel


def test_permission_question_is_answered_inline_and_half_typed_text_comes_back(spawn, fake_api, project):
    fake_api.script(tool_reply(("Bash", {"command": "echo hi-from-bash"}), delay_s=1.0), text_reply("ran it"))
    fake_api.set_default(lambda r: text_reply(f"got: {r.turn_prompt()}"))
    term = spawn()
    term.type_line("please run it")
    term.send("draft message")  # typed while the model works
    term.expect(r"\? Allow Bash: echo hi-from-bash\?")
    term.expect(r"\[a\] yes, and allow Bash\(echo hi-from-bash:\*\) for the rest of this session")
    term.send("y")
    term.expect(r"● Bash\(echo hi-from-bash\) · exit 0")
    term.expect(r"ran it")
    term.expect(r"> draft message")
    term.send("\r")
    term.expect(r"got: draft message")
    assert "hi-from-bash" in fake_api.requests[1].tool_result_texts()[0]


def test_ctrl_d_exits_cleanly_and_releases_the_scheduler_lock(spawn, project):
    term = spawn()
    lock = project / ".claude" / "scheduled_tasks.lock"
    deadline = time.monotonic() + 10
    while not lock.exists() and time.monotonic() < deadline:
        term.pump(0.1)
    assert lock.exists(), "the scheduler never took the project lock"
    term.send("\x04")
    assert term.wait_exit() == 0
    assert not lock.exists()
    assert "Traceback" not in term.text


def test_ctrl_c_twice_on_an_empty_prompt_exits(spawn):
    term = spawn()
    term.send("some text")
    term.send("\x03")  # clears the line
    term.send("\x03")
    term.expect(r"Press Ctrl-C again to exit")
    term.send("\x03")
    assert term.wait_exit() == 0


def test_missing_api_key_gives_one_clear_line_and_the_repl_stays_usable(spawn, fake_api):
    term = spawn(ANTHROPIC_API_KEY="")
    term.expect(r"No API key: set ANTHROPIC_API_KEY")
    term.type_line("hello")
    term.expect(r"No API key: set ANTHROPIC_API_KEY")
    term.type_line("/help")
    term.expect(r"/loop \[--durable\] \[interval\] <prompt>")
    term.send("\x04")
    assert term.wait_exit() == 0
    assert "Traceback" not in term.text
    assert fake_api.requests == []


def test_bad_settings_file_is_reported_in_one_line_and_chat_still_works(spawn, fake_api, project):
    (project / ".claude" / "settings.json").write_text("{ not json")
    fake_api.set_default("still here")
    term = spawn()
    term.expect(r"(?s)settings\.json is not valid JSON.*Continuing with default settings")
    term.type_line("hi")
    term.expect(r"still here")
    assert "Traceback" not in term.text


def test_multi_line_input_and_slash_completion(spawn, fake_api):
    fake_api.set_default(lambda r: text_reply(f"lines: {r.turn_prompt().count(chr(10)) + 1}"))
    term = spawn()
    term.send("first line\\\r")  # a trailing backslash continues on a new line
    term.send("second line\x1b\r")  # Esc then Enter inserts a newline too
    term.type_line("third line")
    term.expect(r"lines: 3")
    assert prompts(fake_api) == ["first line\nsecond line\nthird line"]
    term.send("/cr")
    term.expect(r"/cron +list scheduled tasks")  # the completion menu, with each command's summary
    term.send("\t")  # Tab selects the completion, Enter takes it, a second Enter runs it
    term.send("\r")
    term.send("\r")
    term.expect(r"No scheduled tasks")


def test_history_survives_a_restart(spawn, fake_api):
    fake_api.set_default("noted")
    term = spawn()
    term.type_line("remember this line")
    term.expect(r"noted")
    term.send("\x04")
    assert term.wait_exit() == 0
    term = spawn()
    term.send("\x1b[A")  # Up: the previous session's line comes back
    term.send("\r")
    term.expect(r"noted")
    assert prompts(fake_api) == ["remember this line", "remember this line"]


def test_missed_one_shot_task_is_removed_and_put_to_the_model_to_ask_first(spawn, fake_api, project):
    now = datetime.now()
    due = now - timedelta(hours=1)
    task = {"id": "5ca1ab1e", "cron": f"{due.minute} {due.hour} {due.day} {due.month} *",
            "prompt": "deploy to production", "createdAt": int((now - timedelta(hours=2)).timestamp() * 1000)}
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": [task]}))
    fake_api.set_default("A scheduled deploy did not run. Shall I run it now?")
    term = spawn()
    term.expect(r"A one-shot task was due while no session ran \(5ca1ab1e\)")
    term.expect(r"Shall I run it now\?")
    [request] = fake_api.requests
    assert "did not run because no session was open" in request.turn_prompt()
    assert "```\ndeploy to production\n```" in request.turn_prompt()
    assert json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"] == []


def test_rejected_key_gives_one_clear_line_and_the_next_message_works(spawn, fake_api):
    fake_api.script(error_reply(401))
    fake_api.set_default("welcome back")
    term = spawn()
    term.type_line("hello")
    term.expect(r"Authentication failed \(401\): set ANTHROPIC_API_KEY")
    term.type_line("hello again")
    term.expect(r"welcome back")
    assert "Traceback" not in term.text
