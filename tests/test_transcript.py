"""Saved sessions: transcripts written as the conversation goes, resumed with -c / -r / --resume ID."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fake_api import child_env, stalled_reply, text_reply, tool_reply
from test_headless_e2e import run_agent

from agent.cron.service import CronService
from agent.cron.store import FileTaskStore, SessionTaskStore
from agent.cron.task import CronTask
from agent.engine.transcript import (
    NOT_RUN,
    TranscriptWriter,
    choose_session,
    list_sessions,
    read_transcript,
    repaired_history,
    restore_session_tasks,
    transcript_path,
)
from agent.repl.session_picker import PickerState

SID = "0f0e0d0c-0b0a-4908-8706-050403020100"
DAY_MS = 86_400_000


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def env() -> dict[str, str]:
    return {"XDG_STATE_HOME": os.environ["XDG_STATE_HOME"]}


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ------------------------------------------------------------------------------------ the file


def test_writer_appends_each_message_once_and_rewinds_when_the_history_changes_in_place(tmp_path):
    path = tmp_path / "s" / f"{SID}.jsonl"
    writer = TranscriptWriter(path, SID, cwd=tmp_path)
    history = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    writer.sync(history)
    history.append({"role": "assistant", "content": [{"type": "text", "text": "hello"}]})
    writer.sync(history)
    writer.sync(history)  # nothing new: nothing written
    history[-1] = {**history[-1], "content": [{"type": "text", "text": "hello again"}]}  # a merge
    writer.sync(history)
    kinds = [r["type"] for r in records(path)]
    assert kinds == ["session", "user", "assistant", "rewind", "assistant"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_transcript(path).messages == history


def test_a_truncated_transcript_resumes_up_to_its_last_whole_message_with_one_warning(tmp_path):
    path = tmp_path / f"{SID}.jsonl"
    writer = TranscriptWriter(path, SID, cwd=tmp_path)
    history = [{"role": "user", "content": "one"}, {"role": "assistant", "content": [{"type": "text", "text": "two"}]}]
    writer.sync(history)
    data = path.read_bytes()
    path.write_bytes(data[:-15])  # the crash cut the last line short
    loaded = read_transcript(path)
    assert loaded.messages == history[:1]
    assert loaded.warning is not None and "damaged at line 3" in loaded.warning
    path.write_bytes(data + b"{not json}\n" + data.splitlines(keepends=True)[1])
    assert read_transcript(path).messages == history  # stops at the garbage, not after it


def test_repaired_history_answers_tool_calls_left_open_by_a_crash():
    messages = [{"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]}]
    repaired = repaired_history(messages)
    assert repaired[:2] == messages
    assert repaired[2]["content"][0] == {"type": "tool_result", "tool_use_id": "t1", "content": NOT_RUN,
                                         "is_error": True}


def test_session_tasks_come_back_on_resume_unless_expired(tmp_path):
    now = int(time.time() * 1000)
    cron = CronService(FileTaskStore(tmp_path), SessionTaskStore())
    tasks = [
        {"id": "aaaa0001", "cron": "*/5 * * * *", "prompt": "fresh", "createdAt": now - DAY_MS, "recurring": True},
        {"id": "aaaa0002", "cron": "*/5 * * * *", "prompt": "old", "createdAt": now - 8 * DAY_MS, "recurring": True},
        {"id": "aaaa0003", "cron": "0 0 1 1 *", "prompt": "passed one-shot", "createdAt": now - 400 * DAY_MS},
    ]
    restored, dropped = restore_session_tasks(cron, tasks, now)
    assert restored == ["aaaa0001"] and dropped == ["aaaa0002", "aaaa0003"]
    assert [t.prompt for t in cron.session_store.load().tasks] == ["fresh"]


def test_writer_records_session_tasks_when_they_change(tmp_path):
    store = SessionTaskStore()
    cron = CronService(FileTaskStore(tmp_path), store)
    path = tmp_path / f"{SID}.jsonl"
    writer = TranscriptWriter(path, SID, cwd=tmp_path, session_store=store)
    cron.create("*/5 * * * *", "check the build", recurring=True)
    writer.sync([{"role": "user", "content": "hi"}])
    assert [t["prompt"] for t in read_transcript(path).tasks] == ["check the build"]


# ----------------------------------------------------------------------------------- agent -p


def test_p_saves_the_session_and_resume_id_continues_it(fake_api, project):
    fake_api.script(text_reply("the answer is 42"), text_reply("you asked about 42"))
    first = run_agent(fake_api, project, "-p", "what is the answer", "--session-id", SID, "--output-format", "json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["session_id"] == SID
    path = transcript_path(project, env(), SID)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = run_agent(fake_api, project, "-p", "what did I ask", "--resume", SID, "--output-format", "json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["session_id"] == SID
    texts = json.dumps(fake_api.requests[1].body["messages"])
    assert "what is the answer" in texts and "the answer is 42" in texts and "what did I ask" in texts
    assert [m["role"] for m in read_transcript(path).messages] == ["user", "assistant", "user", "assistant"]


def test_p_continue_picks_the_most_recent_session(fake_api, project):
    fake_api.script(text_reply("one"), text_reply("two"), text_reply("three"))
    run_agent(fake_api, project, "-p", "older session")
    time.sleep(0.05)
    run_agent(fake_api, project, "-p", "newer session")
    done = run_agent(fake_api, project, "-p", "and now", "-c")
    assert done.returncode == 0, done.stderr
    texts = json.dumps(fake_api.requests[2].body["messages"])
    assert "newer session" in texts and "older session" not in texts


def test_p_resume_of_an_unknown_session_is_an_error_result(fake_api, project):
    done = run_agent(fake_api, project, "-p", "hi", "--resume", "deadbeef", "--output-format", "json")
    assert done.returncode == 1
    assert "no saved session 'deadbeef'" in json.loads(done.stdout)["result"]
    assert fake_api.requests == []


def test_p_session_id_must_be_a_new_uuid(fake_api, project):
    fake_api.script(text_reply("ok"))
    assert run_agent(fake_api, project, "-p", "hi", "--session-id", SID).returncode == 0
    again = run_agent(fake_api, project, "-p", "hi", "--session-id", SID)
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = run_agent(fake_api, project, "-p", "hi", "--session-id", "not-a-uuid")
    assert bad.returncode == 1 and "not a UUID" in bad.stderr


def test_a_killed_run_keeps_every_message_before_the_one_in_flight(fake_api, project):
    (project / "a.txt").write_text("alpha\n")
    fake_api.script(tool_reply(("Read", {"file_path": "a.txt"})), stalled_reply("never finished"))
    proc = subprocess.Popen([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "read a.txt",
                             "--session-id", SID], env=child_env(fake_api, home=project.parent / "home"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        fake_api.wait_for_requests(2)
    finally:
        proc.kill()
        proc.communicate(timeout=15)
    loaded = read_transcript(transcript_path(project, env(), SID))
    assert loaded.warning is None
    assert [m["role"] for m in loaded.messages] == ["user", "assistant", "user"]
    assert "alpha" in json.dumps(loaded.messages[2])


def test_a_truncated_transcript_resumes_with_one_warning_under_p(fake_api, project):
    fake_api.script(text_reply("first answer"), text_reply("second answer"))
    run_agent(fake_api, project, "-p", "first question", "--session-id", SID)
    path = transcript_path(project, env(), SID)
    data = path.read_bytes()
    path.write_bytes(data[:data.rindex(b"first answer")])  # a crash in the middle of writing the answer
    done = run_agent(fake_api, project, "-p", "next", "--resume", SID)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("warning") == 1 and "damaged" in done.stderr
    messages = fake_api.requests[1].body["messages"]
    assert "first question" in json.dumps(messages) and "first answer" not in json.dumps(messages)


# ----------------------------------------------------------------------------------- the chat


def test_the_picker_lists_chat_sessions_by_default_filters_as_you_type_and_toggles_p_runs(fake_api, project):
    fake_api.script(text_reply("a"), text_reply("b"))
    run_agent(fake_api, project, "-p", "fix the login bug")
    run_agent(fake_api, project, "-p", "write the changelog")
    chat = transcript_path(project, env(), SID)
    writer = TranscriptWriter(chat, SID, cwd=project)
    writer.note_prompt("/check foo")
    writer.sync([{"role": "user", "content": "Expanded body of the check command for foo"}])
    sessions = list_sessions(project, env())
    assert {s.kind for s in sessions} == {"chat", "print"}
    state = PickerState(sessions, now=time.time())
    assert [s.first_prompt for s in state.shown] == ["/check foo"]  # what was typed, chats only
    rows = "".join(text for _, text in state.fragments(100))
    assert "❯ /check foo" in rows and "just now" in rows and "Expanded body" not in rows
    state.key("tab")
    assert len(state.shown) == 3 and "-p write the changelog" in "".join(t for _, t in state.fragments(100))
    for char in "login":
        state.key(char)
    assert [s.first_prompt for s in state.shown] == ["fix the login bug"]
    assert state.key("enter") is True and state.chosen.first_prompt == "fix the login bug"
    assert state.key("escape") is False
    assert choose_session(project, env(), continue_latest=True)[0] == sessions[0].session_id


def test_stored_text_is_shown_as_typed_never_as_wrappers():
    from agent.engine.transcript_view import display_text

    assert display_text("<bash-input>ls -la</bash-input>\n<bash-stdout>x</bash-stdout><bash-stderr></bash-stderr>") \
        == "!ls -la"
    wrapped = ("[Scheduled task a1b2c3d4 (Every 5 minutes)]\nThis turn was started automatically ...\n\n"
               "```\ncheck the deploy\n```")
    assert display_text(wrapped) == "scheduled a1b2c3d4: check the deploy"
    assert display_text("[Request interrupted by user for tool use]\nok then") == "ok then"


async def test_chat_resume_restores_history_and_session_tasks(project, tmp_path, monkeypatch):
    import argparse

    from agent.engine.session import AgentSession, SessionOptions
    from agent.repl.app import Repl

    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    now = int(time.time() * 1000)
    path = transcript_path(project, env(), SID)
    store = SessionTaskStore()
    writer = TranscriptWriter(path, SID, cwd=project, session_store=store)
    store.add(CronTask(
        id="bbbb0001", cron="*/5 * * * *", prompt="check the build", createdAt=now, recurring=True))
    writer.sync([{"role": "user", "content": "earlier question"},
                 {"role": "assistant", "content": [{"type": "text", "text": "earlier answer"}]}])
    out = io.StringIO()
    repl = Repl(argparse.Namespace(), project, out=out, env={"HOME": str(tmp_path / "home")},
                session_id=SID, resume_from=path)
    repl.session = AgentSession(project, SessionOptions())
    assert repl.chat.load_resumed() is None
    conversation = repl.chat.make()
    assert [m["role"] for m in conversation.history] == ["user", "assistant"]
    assert [t.prompt for t in repl.session.session_store.load().tasks] == ["check the build"]
    assert conversation.transcript.path == path
    await conversation.llm.aclose()


# ------------------------------------------------------------------------- the chat, in a terminal


def spawn_chat(fake_api, project: Path, home: Path, *args: str):
    import pexpect
    from pty_support import Terminal

    env = child_env(fake_api, home, PROMPT_TOOLKIT_NO_CPR="1", TERM="xterm-256color")
    child = pexpect.spawn(sys.executable, ["-m", "agent", "--cwd", str(project), *args], env=env, cwd=str(project),
                          dimensions=(40, 120), encoding="utf-8", codec_errors="replace", timeout=15)
    return Terminal(child)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_chat_session_is_continued_with_c_and_picked_with_r(fake_api, project, tmp_path):
    fake_api.set_default(lambda r: text_reply(f"noted: {r.turn_prompt()[:40]}"))
    term = spawn_chat(fake_api, project, tmp_path / "home")
    try:
        term.expect(r"(?m)^> ?")
        term.type_line("remember the number 42")
        term.expect(r"noted: remember the number 42")
        term.send("\x04")
        assert term.wait_exit() == 0
        term = spawn_chat(fake_api, project, tmp_path / "home", "-c")
        term.expect(r"Resumed session [0-9a-f-]{36} \(2 messages\)")
        term.type_line("which number")
        term.expect(r"noted: which number")
        assert "remember the number 42" in json.dumps(fake_api.requests[-1].body["messages"])
        term.send("\x04")
        assert term.wait_exit() == 0
        term = spawn_chat(fake_api, project, tmp_path / "home", "-r")
        term.expect(r"Resume a session \(chat sessions\)")
        term.expect(r"❯ remember the number 42")
        term.send("\r")
        term.expect(r"Resumed session [0-9a-f-]{36} \(4 messages\)")
        term.send("\x04")
        assert term.wait_exit() == 0
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
