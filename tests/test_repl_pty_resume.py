"""Resume shows where you were, on a real screen (pyte), at 120 and 60 columns: `agent -c`, `agent -r`,
`agent -r ID` and `/resume` draw a clean screen with the last messages (as typed, replies as Markdown,
tool calls as one-line summaries), then the prompt; the picker lists chat sessions as typed."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from fake_api import text_reply
from pty_support import PTY_ONLY
from screen_support import ScreenTerminal, spawn_screen

from agent.engine.transcript import TranscriptWriter, transcript_path

pytestmark = PTY_ONLY

START_S = 40.0
WIDTHS = pytest.mark.parametrize("cols", [120, 60])
CHAT_ID = "11111111-2222-4333-8444-555555555555"
PRINT_ID = "99999999-2222-4333-8444-555555555555"
EXCHANGES = 30
READY = "claude-sonnet-4-6 · /help"


def write_sessions(project: Path) -> None:
    """A chat of 30 exchanges (a /command, a !command and a tool call among them), then a newer -p run."""
    env = dict(os.environ)
    chat = TranscriptWriter(transcript_path(project, env, CHAT_ID), CHAT_ID, cwd=project)
    history: list[dict] = []
    for i in range(EXCHANGES):
        if i == 0:
            chat.note_prompt("/check foo")
            text = "Expanded text of the check command for foo"
        elif i == 1:
            text = "<bash-input>ls notes</bash-input>\n<bash-stdout>a.txt</bash-stdout><bash-stderr></bash-stderr>"
        else:
            text = f"question number {i}"
        history.append({"role": "user", "content": [{"type": "text", "text": text}]})
        if i == EXCHANGES - 2:
            history.append({"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "npm test"}}]})
            history.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "all passed"}]})
        history.append({"role": "assistant", "content": [{"type": "text", "text": f"**answer** number {i}"}]})
        chat.sync(history)
    time.sleep(0.05)
    run = TranscriptWriter(transcript_path(project, env, PRINT_ID), PRINT_ID, cwd=project, kind="print")
    run.sync([{"role": "user", "content": "a headless run"},
              {"role": "assistant", "content": [{"type": "text", "text": "headless answer"}]}])


@pytest.fixture
def chat(fake_api, tmp_path, project):
    started: list[ScreenTerminal] = []
    write_sessions(project)
    fake_api.set_default(lambda r: text_reply(f"got: {r.turn_prompt()[-30:]}"))

    def start(cols: int, *args: str, rows: int = 30) -> ScreenTerminal:
        term = spawn_screen(fake_api, tmp_path / "home", project, *args, rows=rows, cols=cols)
        started.append(term)
        return term

    yield start
    for term in started:
        if term.child.isalive():
            term.child.terminate(force=True)


def joined(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines)


def assert_where_you_were(term: ScreenTerminal) -> None:
    term.wait_for(lambda: "Resumed session" in joined(term.all_lines()) and READY in term.rows()[-1],
                  "the resumed conversation and the idle toolbar", timeout=START_S)
    term.settle(0.5)
    lines = term.all_lines()
    text = joined(lines)
    for i in range(EXCHANGES - 20, EXCHANGES):  # at least the last 20 messages, in order
        assert f"answer number {i}" in text, i
    assert "**" not in text  # replies as Markdown
    assert re.search(r"● Bash\(npm test\) · all passed", text)  # a tool call as its one-line summary
    assert "> question number 29" in text
    assert "Resumed session " + CHAT_ID in text and "headless answer" not in text
    # the prompt, just above the toolbar (a loaded machine may draw the last frame a moment later)
    term.wait_for(lambda: any(row.startswith(">") for row in term.rows()[-6:]), "the prompt above the toolbar",
                  timeout=START_S)
    rows = term.rows()
    assert rows[-1].startswith(" claude-sonnet-4-6 · ") and "starting…" not in text
    assert any(row.startswith(">") for row in rows[-6:]), "\n".join(rows)
    assert sum("claude-sonnet-4-6" in line for line in lines) == 1  # one status line, not garbled copies


@WIDTHS
def test_continue_shows_the_last_chat_not_the_last_p_run(chat, cols):
    term = chat(cols, "-c")
    assert_where_you_were(term)
    term.type("and now\r")
    term.wait_for(lambda: "got: and now" in joined(term.rows()), "the reply", timeout=START_S)


@WIDTHS
def test_resume_by_id_shows_the_whole_tail_and_the_beginning_as_typed(chat, cols):
    term = chat(cols, "-r", CHAT_ID[:8])
    assert_where_you_were(term)
    text = joined(term.all_lines())
    assert "> /check foo" in text and "> !ls notes" in text  # as typed, older ones up in the scrollback
    assert "Expanded text" not in text and "<bash-input>" not in text


@WIDTHS
def test_the_picker_lists_chats_as_typed_filters_and_resumes(chat, cols):
    term = chat(cols, "-r")
    term.wait_for(lambda: "Resume a session" in joined(term.rows()), "the picker", timeout=START_S)
    rows = joined(term.rows())
    assert "/check foo" in rows and "a headless run" not in rows and "Expanded" not in rows
    term.type("\t")
    term.wait_for(lambda: "a headless run" in joined(term.rows()), "-p runs after Tab")
    term.type("check")
    term.wait_for(lambda: "a headless run" not in joined(term.rows()), "the filter")
    term.type("\r")
    assert_where_you_were(term)


@WIDTHS
def test_slash_resume_inside_the_chat(chat, cols):
    term = chat(cols)
    term.wait_for(lambda: READY in term.rows()[-1], "the idle toolbar", timeout=START_S)
    term.type("/resume\r")
    term.wait_for(lambda: "Resume a session" in joined(term.rows()), "the picker", timeout=START_S)
    term.wait_for(lambda: "/check foo" in joined(term.rows()), "the chat session")
    term.type("\r")
    assert_where_you_were(term)
    term.type("continue\r")
    term.wait_for(lambda: "got: continue" in joined(term.rows()), "the reply", timeout=START_S)
