"""What the terminal really shows (a pyte screen fed by the pty, see screen_support): Markdown while it
streams, long replies in full, the banner after `clear`, and resizes that leave nothing doubled."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
from fake_api import _split_text, text_reply
from pty_support import PTY_ONLY
from screen_support import ScreenTerminal, spawn_screen

pytestmark = PTY_ONLY

READY = r"claude-sonnet-4-6 · /help"  # the toolbar once the session has loaded and no turn runs
MARKDOWN_REPLY = ("Intro" + "." * 19 + "\n\n## Heading one\n\nThis reply has **bold words** in it and **more bold** "
                  "here.\n\n## Heading two\n\n- an item with **bold**\n- another item\n\nThe end.")
TYPED = "some typed text that is longer than the narrow width of fifty columns"


@pytest.fixture
def screen(fake_api, tmp_path, project):
    started: list[ScreenTerminal] = []

    def start(rows: int = 24, cols: int = 100, **env: str) -> ScreenTerminal:
        term = spawn_screen(fake_api, tmp_path / "home", project, rows=rows, cols=cols, **env)
        term.stream.feed("$ ls\r\nnotes.txt\r\n$ clear\r\n\x1b[H\x1b[2J\x1b[3J")  # what the shell showed before
        started.append(term)
        term.wait_for_text(READY, timeout=30)
        return term

    yield start
    for term in started:
        if term.child.isalive():
            term.child.terminate(force=True)


def words(paragraph: int, count: int) -> str:
    """Words found nowhere else, so that any row seen twice is a doubled row."""
    return " ".join(f"w{paragraph}x{j}" for j in range(count))


def doubled(lines: list[str]) -> list[str]:
    return [line for line, count in Counter(line for line in lines if line.strip()).items() if count > 1]


def test_after_clear_the_banner_is_on_the_top_row_and_the_toolbar_only_at_the_bottom(screen):
    term = screen()
    rows = term.rows()
    prompt_row = rows.index(">")
    assert rows[0].startswith("agent ") and "/help for commands" in "".join(rows[:prompt_row])  # (a long path wraps)
    assert term.history() == []  # nothing scrolled away
    assert [i for i, row in enumerate(rows) if re.match(r" (starting…|claude-sonnet-4-6) · ", row)] == [len(rows) - 1]
    assert not any(row.strip() for row in rows[prompt_row + 1:-1])  # nothing stray between prompt and toolbar


def test_markdown_is_rendered_while_it_streams_never_raw(screen, fake_api):
    cuts = [piece[-2:] for piece in _split_text(MARKDOWN_REPLY)]
    assert "##" in cuts and "**" in cuts  # the deltas end inside markers, so the live area has to cope
    fake_api.set_default(text_reply(MARKDOWN_REPLY, chunk_delay_s=0.1))
    term = screen()
    term.type("show me\r")
    seen_bold_live, shown = False, ""
    deadline = time.monotonic() + 30
    while "The end." not in shown or READY not in shown:  # every screen state until the turn ended
        assert time.monotonic() < deadline, shown
        term.pump()
        shown = "\n".join(term.rows())
        assert "**" not in shown and "##" not in shown, shown
        seen_bold_live |= "bold words" in shown and "Heading two" not in shown
    lines = term.all_lines()
    assert seen_bold_live  # the bold paragraph was on the screen, rendered, before the reply ended
    for text in ("Heading one", "This reply has bold words in it and more bold here.", "Heading two",
                 "an item with bold", "another item", "The end."):
        assert sum(text in line for line in lines) == 1, (text, lines)


@pytest.mark.parametrize("as_code", [False, True], ids=["paragraphs", "code-block"])
def test_a_reply_of_80_lines_is_all_in_screen_and_scrollback_each_line_once(screen, fake_api, as_code):
    body = "\n".join(f"reply line {i:02d}" for i in range(80)) if as_code else \
        "\n\n".join(f"reply line {i:02d}" for i in range(80))
    fake_api.set_default(text_reply(f"```\n{body}\n```\n\nDone." if as_code else body + "\n\nDone.",
                                    chunk_delay_s=0.02 if as_code else 0.25))
    term = screen(rows=24)
    term.type("long one\r")
    if not as_code:  # readable in full while it streams: finished paragraphs are already in the scrollback
        term.wait_for(lambda: latest_line(term) >= 30, "line 30 of the reply", timeout=30)
        lines, finished = [line.strip() for line in term.all_lines()], latest_line(term) - 13  # 12 may be live
        assert "Done." not in lines  # still streaming
        assert [lines.count(f"reply line {i:02d}") for i in range(finished)] == [1] * finished
    term.wait_for_text(r"Done\.", timeout=30)
    term.wait_for_text(READY)
    lines = [line.strip() for line in term.all_lines()]
    assert [sum(line == f"reply line {i:02d}" for line in lines) for i in range(80)] == [1] * 80


def latest_line(term: ScreenTerminal) -> int:
    numbers = [int(n) for n in re.findall(r"reply line (\d\d)", "\n".join(term.rows()))]
    return max(numbers, default=-1)


def prompt_lines(term: ScreenTerminal) -> list[str]:
    return [line for line in term.all_lines() if line.startswith("> " + TYPED[:20])]


def resize_and_settle(term: ScreenTerminal, rows: int, cols: int, rewraps: bool) -> None:
    """Resize, then wait until the prompt and the toolbar are drawn again. A doubled row never goes away
    by itself (the scrollback is checked too), so waiting for a clean screen lets a redraw in progress
    finish without hiding a ghost; a ghost fails the wait."""
    term.resize(rows, cols, reflow=rewraps)
    term.wait_for(lambda: len(prompt_lines(term)) == 1 and not doubled(term.all_lines())
                  and "claude-sonnet-4-6 · " in term.rows()[-1], f"a clean redraw at {rows}x{cols}", timeout=8)


@pytest.mark.parametrize("rewraps", [False, True], ids=["cutting-terminal", "rewrapping-terminal"])
def test_resizing_at_the_prompt_leaves_one_prompt_line_and_nothing_doubled(screen, fake_api, rewraps):
    fake_api.set_default(text_reply("\n\n".join(f"answer paragraph {i} " + words(i, 14) for i in range(6))))
    term = screen(rows=24, cols=100, AGENT_TERMINAL_REFLOW="1" if rewraps else "0")
    term.type("hello\r")
    term.wait_for_text("answer paragraph 5")
    term.wait_for_text(READY)
    term.type(TYPED)
    term.wait_for_text("fifty columns")
    for rows, cols in ((24, 50), (24, 120), (20, 40), (24, 100)):
        resize_and_settle(term, rows, cols, rewraps)
    term.type("\r")  # the typed text is intact
    fake_api.wait_for_requests(2)
    assert fake_api.requests[-1].turn_prompt() == TYPED


@pytest.mark.parametrize("rewraps", [False, True], ids=["cutting-terminal", "rewrapping-terminal"])
def test_resizing_while_a_reply_streams_leaves_nothing_doubled(screen, fake_api, rewraps):
    reply = "\n\n".join(f"streamed paragraph {i} " + words(i, 12) for i in range(8))
    fake_api.set_default(text_reply(reply, chunk_delay_s=0.15))
    term = screen(rows=24, cols=100, AGENT_TERMINAL_REFLOW="1" if rewraps else "0")
    term.type("hello\r")
    term.wait_for_text(r"Writing…")
    term.type(TYPED)
    for rows, cols in ((24, 60), (24, 110), (22, 45), (24, 100)):
        resize_and_settle(term, rows, cols, rewraps)
    term.wait_for_text("streamed paragraph 7", timeout=30)
    term.wait_for_text(r"claude-sonnet-4-6 · /help")
    assert len(prompt_lines(term)) == 1 and doubled(term.all_lines()) == []


def test_the_emulator_catches_doubled_input_when_rewrapped_rows_are_not_counted(screen):
    """The checks above can fail: told the terminal cuts lines, the chat leaves the rewrapped input twice."""
    term = screen(rows=24, cols=100, AGENT_TERMINAL_REFLOW="0")
    term.type(TYPED)
    term.wait_for_text("fifty columns")
    term.resize(24, 50, reflow=True)
    term.wait_for(lambda: len(prompt_lines(term)) == 2, "the doubled input line")
