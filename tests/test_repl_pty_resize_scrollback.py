"""Resizing adds nothing to the scrollback and erases nothing (a pyte screen that rewraps as tmux does):
after 120 -> 50 -> 100 columns at the prompt and while a reply streams, every line is there once, no
runs of blank lines, no copies of the prompt area; /clear clears the screen too; tables carry no
trailing spaces."""

from __future__ import annotations

import pytest
from fake_api import text_reply
from pty_support import PTY_ONLY
from screen_support import ScreenTerminal, spawn_screen

pytestmark = PTY_ONLY

START_S = 40.0
READY = "claude-sonnet-4-6 · /help"


@pytest.fixture
def chat(fake_api, tmp_path, project):
    started: list[ScreenTerminal] = []

    def start(cols: int = 120, rows: int = 24) -> ScreenTerminal:
        term = spawn_screen(fake_api, tmp_path / "home", project, rows=rows, cols=cols, AGENT_TERMINAL_REFLOW="1")
        started.append(term)
        term.wait_for(lambda: READY in term.rows()[-1], "the idle toolbar", timeout=START_S)
        return term

    yield start
    for term in started:
        if term.child.isalive():
            term.child.terminate(force=True)


def blank_runs(lines: list[str], longest: int = 2) -> list[int]:
    """Where more than `longest` blank lines follow each other (the last screen's empty rows excepted)."""
    runs, count = [], 0
    for index, line in enumerate(lines):
        count = count + 1 if not line.strip() else 0
        if count == longest + 1:
            runs.append(index)
    return runs


def settled(term: ScreenTerminal, cols: int) -> None:
    term.wait_for(lambda: term.screen.columns == cols and "claude-sonnet-4-6 · " in term.rows()[-1],
                  f"a redraw at {cols} columns", timeout=10)
    term.settle(0.6)


def check_scrollback(term: ScreenTerminal, words: list[str]) -> None:
    history = term.history()
    assert blank_runs(history) == [], "\n".join(history)
    assert not [line for line in history if "claude-sonnet-4-6 · " in line]  # no copy of the toolbar
    joined = " ".join(line.strip() for line in term.all_lines())
    for word in words:
        assert joined.count(word) == 1, (word, term.all_lines())


def test_resizing_at_the_prompt_adds_nothing_to_the_scrollback(chat, fake_api):
    fake_api.set_default(text_reply("\n\n".join(f"para{i} " + " ".join(f"p{i}w{j}" for j in range(12))
                                                for i in range(5))))
    term = chat()
    term.type("first\r")
    term.wait_for(lambda: "p4w11" in " ".join(term.rows()) and READY in term.rows()[-1], "the reply", timeout=START_S)
    for cols in (50, 100):
        term.resize(24, cols, reflow=True)
        settled(term, cols)
    check_scrollback(term, ["agent 0.1.0", "> first", *[f"p{i}w11" for i in range(5)]])


def test_resizing_while_a_reply_streams_adds_nothing_to_the_scrollback(chat, fake_api):
    fake_api.set_default(text_reply("\n\n".join(f"para{i} " + " ".join(f"s{i}w{j}" for j in range(10))
                                                for i in range(8)), chunk_delay_s=0.15))
    term = chat()
    term.type("go\r")
    term.wait_for_text(r"Writing…", timeout=START_S)
    for cols in (50, 100):
        term.resize(24, cols, reflow=True)
        settled(term, cols)
    term.wait_for(lambda: "s7w9" in " ".join(term.rows()) and READY in term.rows()[-1], "the end", timeout=START_S)
    term.settle(0.5)
    check_scrollback(term, ["agent 0.1.0", "> go", *[f"s{i}w9" for i in range(8)]])


@pytest.mark.parametrize("cols", [120, 60])
def test_clear_clears_the_screen_as_well_as_the_conversation(chat, fake_api, cols):
    fake_api.set_default(lambda r: text_reply(f"reply to {r.turn_prompt()} with {len(r.messages)} messages"))
    term = chat(cols)
    term.type("remember apples\r")
    term.wait_for(lambda: "reply to remember apples" in " ".join(term.rows()), "the reply", timeout=START_S)
    term.type("/clear\r")
    term.wait_for(lambda: "Started a new conversation" in " ".join(term.rows()), "the clear", timeout=START_S)
    term.settle(0.5)
    assert "remember apples" not in " ".join(term.rows())  # gone from the screen
    assert " ".join(term.rows()).strip().startswith("Started a new conversation")
    term.type("hi\r")
    term.wait_for(lambda: "reply to hi with 1 messages" in " ".join(term.rows()), "a fresh conversation",
                  timeout=START_S)


@pytest.mark.parametrize("cols", [120, 60])
def test_tables_carry_no_trailing_spaces(chat, cols):
    import re

    term = chat(cols)
    start = len(term.raw)
    term.type("/help\r")
    term.wait_for(lambda: "Ctrl-O" in " ".join(term.all_lines()), "the help tables", timeout=START_S)
    term.settle(0.5)
    out = term.raw[start:]
    table = out[out.index("Commands"):out.rindex("Ctrl-O")]
    lines = re.sub(r"\x1b\[[0-9;]*m", "", table).split("\r\n")
    assert len(lines) > 10
    assert [line for line in lines if line != line.rstrip(" ")] == []
