"""Claude Code's everyday commands on a real screen (pyte), at 120 and 60 columns: `# note` asks which
memory file and appends to it, /memory opens $EDITOR, /init writes CLAUDE.md through a Write that asks
first, the toolbar says how much context is left when under 20 %, Ctrl-O toggles a verbose transcript,
and plan mode ends with a question offering to go ahead (in acceptEdits)."""

from __future__ import annotations

import json

import pytest
from fake_api import text_reply, tool_reply
from pty_support import PTY_ONLY
from screen_support import ScreenTerminal, spawn_screen
from trust_support import trust_folder

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


def seq_command(tag: str) -> str:
    return f"for i in $(seq 1 12); do echo {tag}-$i; done"


@WIDTHS
def test_ctrl_o_toggles_a_verbose_transcript_of_whole_tool_results(chat, fake_api, project, cols):
    (project / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["Bash"]}}))
    trust_folder(project)  # a project's allow rules apply once it is trusted
    fake_api.script(tool_reply(("Bash", {"command": seq_command("aa")})),
                    tool_reply(("Bash", {"command": seq_command("bb")})), text_reply("two done"),
                    tool_reply(("Bash", {"command": seq_command("cc")})), text_reply("third done"),
                    tool_reply(("Bash", {"command": seq_command("dd")})), text_reply("fourth done"))
    term = chat(cols)
    term.type("run two\r")
    term.wait_for(lambda: "two done" in text(term), "two results as previews", timeout=START_S)
    assert "aa-12" not in joined_all(term) and "bb-12" not in joined_all(term)
    term.type("\x0f")  # Ctrl-O: on, and the last results whole
    term.wait_for(lambda: "aa-12" in joined_all(term) and "bb-12" in joined_all(term), "both results whole")
    term.type("run a third\r")
    term.wait_for(lambda: "third done" in text(term), "the third turn", timeout=START_S)
    assert "cc-12" in joined_all(term)  # whole while verbose
    term.type("\x0f")  # off
    term.wait_for(lambda: "Verbose transcript off" in joined_all(term), "verbose off")
    term.type("run a fourth\r")
    term.wait_for(lambda: "fourth done" in text(term), "the fourth turn", timeout=START_S)
    assert "dd-1" in joined_all(term) and "dd-12" not in joined_all(term)  # a preview again


def joined_all(term: ScreenTerminal) -> str:
    return " ".join(line.strip() for line in term.all_lines())


@WIDTHS
def test_plan_mode_ends_with_a_question_offering_to_proceed_in_accept_edits(chat, fake_api, project, cols):
    fake_api.script(text_reply("Plan: 1. write notes.txt"),
                    tool_reply(("Write", {"file_path": "notes.txt", "content": "done\n"})), text_reply("Wrote it"))
    term = chat(cols)
    term.type("\x1b[Z\x1b[Z")  # Shift-Tab twice: default -> acceptEdits -> plan
    term.wait_for(lambda: "plan" in term.rows()[-1], "plan mode in the toolbar", timeout=START_S)
    term.type("make notes\r")
    term.wait_for(lambda: "Ready to go ahead with this plan?" in text(term), "the question", timeout=START_S)
    assert "auto-accept edits" in text(term)
    term.settle(0.8)
    term.type("1")
    term.wait_for(lambda: "Wrote it" in text(term), "the plan carried out", timeout=START_S)
    assert (project / "notes.txt").read_text() == "done\n"  # no question: acceptEdits
    assert fake_api.requests[1].turn_prompt() == "Go ahead with the plan."
