"""Claude Code's everyday commands on a real screen (pyte), at 120 and 60 columns: `# note` asks which
memory file and appends to it, /memory opens $EDITOR, /init writes CLAUDE.md through a Write that asks
first, and the toolbar says how much context is left when under 20 %."""

from __future__ import annotations

import json

import pytest
from fake_api import text_reply, tool_reply
from pty_support import PTY_ONLY
from screen_support import ScreenTerminal, spawn_screen

pytestmark = PTY_ONLY

START_S = 40.0
READY = "claude-sonnet-4-6 · "
WIDTHS = pytest.mark.parametrize("cols", [120, 60])


@pytest.fixture
def chat(fake_api, tmp_path, project):
    started: list[ScreenTerminal] = []

    def start(cols: int, **env: str) -> ScreenTerminal:
        term = spawn_screen(fake_api, tmp_path / "home", project, rows=30, cols=cols, **env)
        started.append(term)
        term.wait_for(lambda: READY in term.rows()[-1] and "/help" in term.rows()[-1], "the idle toolbar",
                      timeout=START_S)
        return term

    yield start
    for term in started:
        if term.child.isalive():
            term.child.terminate(force=True)


def text(term: ScreenTerminal) -> str:
    return " ".join(row.strip() for row in term.rows())


@WIDTHS
def test_a_hash_line_asks_which_memory_file_and_appends_the_note(chat, fake_api, project, tmp_path, cols):
    term = chat(cols)
    term.type("# always run the tests with -q\r")
    term.wait_for(lambda: "Save this note to memory?" in text(term), "the question", timeout=START_S)
    shown = text(term)
    assert "CLAUDE.md" in shown and "CLAUDE.local.md" in shown and "~/.claude/CLAUDE.md" in shown
    term.settle(0.8)
    term.type("2")
    term.wait_for(lambda: "Saved to CLAUDE.local.md" in text(term), "the note saved", timeout=START_S)
    assert (project / "CLAUDE.local.md").read_text() == "- always run the tests with -q\n"
    assert fake_api.requests == []  # a note, not a prompt


@WIDTHS
def test_memory_opens_the_memory_file_in_the_editor(chat, project, cols):
    term = chat(cols, EDITOR="sh -c 'echo edited-in-the-editor >> \"$1\"' editor")
    term.type("/memory\r")
    term.wait_for(lambda: "Memory: " in text(term), "back from the editor", timeout=START_S)
    assert (project / "CLAUDE.md").read_text() == "edited-in-the-editor\n"


@WIDTHS
def test_init_writes_claude_md_from_a_model_turn_after_asking(chat, fake_api, project, cols):
    fake_api.script(tool_reply(("Write", {"file_path": "CLAUDE.md", "content": "# Project\n\nRun: make test\n"})),
                    text_reply("Wrote CLAUDE.md"))
    term = chat(cols)
    term.type("/init\r")
    term.wait_for(lambda: "Allow Write: CLAUDE.md?" in text(term), "the question before writing", timeout=START_S)
    assert not (project / "CLAUDE.md").exists()
    term.settle(0.8)
    term.type("1")
    term.wait_for(lambda: "Wrote CLAUDE.md" in text(term), "the end of the turn", timeout=START_S)
    assert (project / "CLAUDE.md").read_text() == "# Project\n\nRun: make test\n"
    assert "CLAUDE.md" in fake_api.requests[0].turn_prompt()


@WIDTHS
def test_the_toolbar_says_how_much_context_is_left_under_20_percent(chat, fake_api, project, cols):
    (project / ".claude" / "settings.json").write_text(json.dumps({"contextWindow": 100_000}))
    fake_api.script(text_reply("roomy", usage={"input_tokens": 50_000}),
                    text_reply("crowded", usage={"input_tokens": 88_000}))
    term = chat(cols)
    term.type("one\r")
    term.wait_for(lambda: "roomy" in text(term) and "/help" in term.rows()[-1], "the first reply", timeout=START_S)
    assert "context left" not in term.rows()[-1]
    term.type("two\r")
    term.wait_for(lambda: "context left: 1" in term.rows()[-1], "the context warning", timeout=START_S)
