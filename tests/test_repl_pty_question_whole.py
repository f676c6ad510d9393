"""The permission question shows everything it asks about, on a real screen (pyte), at 120 and 60 columns:
a long command wrapped (its tail in view), every line of a multi-line command, the model's description,
a whole diff with long lines wrapped and, when taller than the screen, paged with a line count; the
menu's own lines wrap too."""

from __future__ import annotations

import re

import pytest
from fake_api import text_reply, tool_reply
from pty_support import PTY_ONLY
from screen_support import ScreenTerminal, spawn_screen

pytestmark = PTY_ONLY

START_S = 40.0
PAGE_DOWN = "\x1b[6~"
LONG = "echo " + " ".join(f"word{i}" for i in range(16)) + " && echo HIDDEN-TAIL-rm-something"
WIDTHS = pytest.mark.parametrize("cols", [120, 60])


@pytest.fixture
def chat(fake_api, tmp_path, project):
    started: list[ScreenTerminal] = []

    def start(cols: int, rows: int = 30) -> ScreenTerminal:
        term = spawn_screen(fake_api, tmp_path / "home", project, rows=rows, cols=cols)
        started.append(term)
        term.wait_for_text(r"(?m)^> ?$", timeout=START_S)
        return term

    yield start
    for term in started:
        if term.child.isalive():
            term.child.terminate(force=True)


def screen_text(term: ScreenTerminal) -> str:
    return "\n".join(term.rows())


def joined(term: ScreenTerminal) -> str:
    """The screen's rows joined without their line breaks and indents: wrapped text reads whole."""
    return " ".join(row.strip() for row in term.rows())


def status(term: ScreenTerminal) -> str:
    found = re.search(r"lines \d+-\d+ of \d+", screen_text(term))
    return found.group(0) if found else ""


def no_row_wider_than(term: ScreenTerminal, cols: int) -> None:
    for row in term.rows():
        assert len(row) <= cols


@WIDTHS
def test_a_long_command_is_wrapped_whole_with_its_tail_in_view(chat, fake_api, cols):
    fake_api.script(tool_reply(("Bash", {"command": LONG, "description": "Print sixteen words then a tail"})),
                    text_reply("ok"))
    term = chat(cols)
    term.type("run it\r")
    term.wait_for_text(r"HIDDEN-TAIL-rm-something", timeout=START_S)
    term.wait_for_text(r"Esc for no")
    text = joined(term)
    assert re.sub(r"\s+", " ", LONG) in re.sub(r"\s+", " ", text)  # every word, in order, on the screen
    assert "Print sixteen words then a tail" in text  # the model's description
    assert "Yes, and don't ask again" in text
    rows = term.rows()
    question = next(i for i, row in enumerate(rows) if row.startswith("? Allow Bash"))
    for row in rows[question:]:
        assert "…" not in row  # nothing of the question is cut
    term.type("\x1b")


@WIDTHS
def test_every_line_of_a_multi_line_command_is_shown(chat, fake_api, cols):
    command = "echo first\necho second-line\nrm -rf third-line-build"
    fake_api.script(tool_reply(("Bash", {"command": command})), text_reply("ok"))
    term = chat(cols)
    term.type("run it\r")
    term.wait_for_text(r"Allow Bash to run these 3 lines\?", timeout=START_S)
    rows = term.rows()
    for line in command.split("\n"):
        assert any(row.strip() == line for row in rows), (line, rows)
    term.type("\x1b")


@WIDTHS
def test_the_menu_lines_wrap_at_the_screen_width(chat, fake_api, cols):
    fake_api.script(tool_reply(("Bash", {"command": "npm run build-all-the-things"})), text_reply("ok"))
    term = chat(cols)
    term.type("build\r")
    term.wait_for_text(r"Esc for no", timeout=START_S)
    text = joined(term)
    assert "3. No, and tell the model what to do instead" in text
    assert "for the rest of this session" in text
    no_row_wider_than(term, cols)


@WIDTHS
def test_a_diff_taller_than_the_screen_is_paged_with_a_line_count_and_long_lines_wrap(chat, fake_api, project, cols):
    old = "".join(f"line {i}\n" for i in range(1, 61))
    (project / "big.txt").write_text(old)
    tail_marker = "END-OF-A-VERY-LONG-LINE"
    new = "".join(f"LINE {i}\n" for i in range(1, 61)).replace(
        "LINE 3\n", "LINE 3 " + "x" * 150 + " " + tail_marker + "\n")
    fake_api.script(tool_reply(("Write", {"file_path": "big.txt", "content": new})), text_reply("ok"))
    term = chat(cols)
    term.type("rewrite it\r")
    term.wait_for_text(r"lines 1-\d+ of \d+ · PgUp/PgDn to scroll", timeout=START_S)
    term.wait_for_text(r"Esc for no")
    total = int(re.search(r"lines 1-\d+ of (\d+)", screen_text(term)).group(1))
    assert total > 120  # 60 removed + 60 added lines and more
    seen, marker_seen = set(), False
    for _ in range(40):  # page through to the end: every changed line can be seen
        seen |= {m.group(0) for m in re.finditer(r"(?:line|LINE) (\d+)\b", screen_text(term))}
        marker_seen |= tail_marker in joined(term)  # a long diff line is wrapped, its end on the screen
        no_row_wider_than(term, cols)
        if re.search(rf"lines \d+-{total} of {total}", screen_text(term)):
            break
        before = status(term)
        term.type(PAGE_DOWN)
        term.wait_for(lambda before=before: status(term) not in ("", before) and "Esc for no" in term.rows()[-1],
                      "the next page")
    assert re.search(rf"lines \d+-{total} of {total}", screen_text(term))
    assert {f"line {i}" for i in range(1, 61)} | {f"LINE {i}" for i in range(1, 61)} <= seen
    assert marker_seen
    assert "Esc for no" in screen_text(term)  # the answers stayed in view while paging
    no_row_wider_than(term, cols)
    term.type("\x1b")


@WIDTHS
@pytest.mark.parametrize("refusal", ["escape", "option-3-empty"])
def test_a_plain_no_stops_the_turn_and_the_prompt_returns_without_calling_the_model(chat, fake_api, cols, refusal):
    fake_api.script(tool_reply(("Bash", {"command": "rm -rf build"})), text_reply("SECOND-REQUEST"))
    fake_api.set_default(lambda r: text_reply(f"got: {r.turn_prompt()}"))
    term = chat(cols)
    term.type("clean up\r")
    term.wait_for_text(r"Esc for no", timeout=START_S)
    term.settle(0.8)  # past the grace period in which keys are ignored
    if refusal == "escape":
        term.type("\x1b")
    else:
        term.type("3")
        term.wait_for_text(r"Enter to send · Esc for a plain no")
        term.type("\r")
    term.wait_for_text(r"Stopped: the model waits for what you type next")
    term.wait_for(lambda: "/help" in term.rows()[-1], "the idle toolbar (the turn ended)", timeout=10)
    term.settle(1.0)
    assert len(fake_api.requests) == 1
    assert "SECOND-REQUEST" not in screen_text(term)
    assert any(row.startswith(">") and row.strip() == ">" for row in term.rows())  # an empty prompt line
    term.type("ok then\r")
    term.wait_for_text(r"SECOND-REQUEST", timeout=START_S)
    assert len(fake_api.requests) == 2
    assert fake_api.requests[1].turn_prompt().endswith("ok then")


def input_line(term: ScreenTerminal) -> str:
    """The prompt's input line: the last row that starts with `> `, without its `> `."""
    rows = [row for row in term.rows() if row.startswith(">")]
    return rows[-1][1:].strip() if rows else ""


@WIDTHS
def test_text_typed_while_a_question_is_open_comes_back_on_the_prompt_line(chat, fake_api, cols):
    fake_api.script(tool_reply(("Bash", {"command": "echo hi"})), text_reply("done"))
    term = chat(cols)
    term.type("run it\r")
    term.wait_for_text(r"Esc for no", timeout=START_S)
    term.type("note 42 for later")  # letters, spaces and digits, typed on: none of them answers
    term.wait_for_text(r"Typing does not answer this question")
    assert len(fake_api.requests) == 1
    term.settle(0.8)
    term.type("\x1b")
    term.wait_for(lambda: input_line(term) == "note 42 for later", "the typed text on the prompt line",
                  timeout=START_S)


@WIDTHS
def test_text_typed_during_a_scheduled_runs_countdown_comes_back(fake_api, tmp_path, project, cols):
    from pty_support import write_due_task

    write_due_task(project, "a1b2c3d4", "check the deploy")
    # scheduled runs are sandboxed with auto-allow: a call that asks to leave the sandbox still asks
    fake_api.script(tool_reply(("Bash", {"command": "echo deploy", "dangerouslyDisableSandbox": True})),
                    text_reply("nobody answered"))
    term = spawn_screen(fake_api, tmp_path / "home", project, rows=30, cols=cols, AGENT_UNATTENDED_ANSWER_S="6")
    try:
        term.wait_for_text(r"s left to answer", timeout=START_S)
        term.type("draft 7 words")
        term.wait_for_text(r"Bash not run: no answer", timeout=START_S)
        term.wait_for(lambda: input_line(term) == "draft 7 words", "the typed text on the prompt line",
                      timeout=START_S)
    finally:
        term.child.terminate(force=True)
