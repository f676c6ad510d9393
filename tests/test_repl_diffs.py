"""Diffs in Edit/Write permission questions and under finished calls; tool output previews and Ctrl-O."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.engine.events import ToolCallFinished, ToolCallStarted
from agent.repl.commands import default_registry
from agent.repl.diffs import NEW_FILE_LINES, QUESTION_LINES, TRANSCRIPT_LINES, compact_diff, question_body
from agent.repl.render import Renderer
from agent.repl.tool_output import PREVIEW_LINES, full_output, preview, wants_preview
from agent.tools import file_change
from agent.tools.base import ToolContext
from agent.tools.file_change import MAX_DIFF_LINES, diff_texts, new_file_change
from agent.tools.file_text import split_lines
from agent.tools.files import EditTool, WriteTool

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def plain(text: str) -> str:
    return ANSI.sub("", text)


def numbered(n: int) -> str:
    return "".join(f"line {i}\n" for i in range(1, n + 1))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "calc.py").write_text(CALC)
    return tmp_path


def ask(project: Path, tool: str, color: bool = False, **args) -> str:
    return question_body(tool, args, project, color=color, width=100)


# ------------------------------------------------------------------------------ the question's diff


def test_edit_question_shows_the_removed_and_added_lines_with_their_numbers(project):
    body = ask(project, "Edit", file_path="calc.py", old_string="return a - b", new_string="return a - b  # minus")
    assert "calc.py · +1 -1" in body
    assert re.search(r"^ +6 - +return a - b$", body, re.M)
    assert re.search(r"^ +6 \+ +return a - b  # minus$", body, re.M)
    assert re.search(r"^ +5   def sub\(a, b\):$", body, re.M)  # context around the change


def test_edit_question_colours_removed_lines_red_and_added_lines_green(project):
    body = ask(project, "Edit", color=True, file_path="calc.py", old_string="a + b", new_string="b + a")
    assert re.search(r"\x1b\[31m +2 - +return a \+ b", body)
    assert re.search(r"\x1b\[32m +2 \+ +return b \+ a", body)
    assert "\x1b" not in ask(project, "Edit", file_path="calc.py", old_string="a + b", new_string="b + a")


def test_edit_question_uses_edits_own_matching_crlf_file_and_replace_all(tmp_path):
    (tmp_path / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    body = ask(tmp_path, "Edit", file_path="win.txt", old_string="one\ntwo", new_string="one\n2")
    assert "+1 -1" in body and re.search(r"- two$", body, re.M) and re.search(r"\+ 2$", body, re.M)
    (tmp_path / "dup.txt").write_text("x = 1\nx = 1\n")
    assert ask(tmp_path, "Edit", file_path="dup.txt", old_string="x = 1", new_string="x = 2") == ""  # Edit refuses
    both = ask(tmp_path, "Edit", file_path="dup.txt", old_string="x = 1", new_string="x = 2", replace_all=True)
    assert "+2 -2" in both


def test_question_for_other_tools_or_unusable_input_has_no_body(project):
    assert ask(project, "Bash", command="ls") == ""
    assert ask(project, "Edit", file_path="calc.py", old_string="not there", new_string="x") == ""
    assert ask(project, "Edit", file_path="calc.py") == ""  # input that does not parse
    assert ask(project, "Edit", file_path="missing.py", old_string="a", new_string="b") == ""


def test_write_question_for_a_new_file_shows_its_first_lines_and_line_count(project):
    body = plain(ask(project, "Write", color=True, file_path="pkg/new.py", content=numbered(30)))
    assert "new file · 30 lines" in body
    assert re.search(r"^ +1 \+ line 1$", body, re.M)
    assert re.search(rf"^ +{NEW_FILE_LINES} \+ line {NEW_FILE_LINES}$", body, re.M)
    assert f"line {NEW_FILE_LINES + 1}\n" not in body
    assert f"… +{30 - NEW_FILE_LINES} lines" in body


def test_write_question_over_an_existing_file_shows_the_diff(project):
    body = ask(project, "Write", file_path="calc.py", content=CALC.replace("a - b", "a - b - 0"))
    assert "calc.py · +1 -1" in body
    assert re.search(r"^ +6 \+ +return a - b - 0$", body, re.M)


def test_long_diff_in_a_question_is_cut_and_says_how_many_lines_are_left(tmp_path):
    (tmp_path / "big.txt").write_text(numbered(100))
    body = ask(tmp_path, "Write", file_path="big.txt", content=numbered(100).replace("line", "LINE"))
    diff_lines = [line for line in body.splitlines() if re.match(r"^ +\d+ [-+] ", line)]
    assert len(diff_lines) == QUESTION_LINES
    assert f"… +{200 - QUESTION_LINES} lines" in body


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_question_never_opens_a_fifo_named_like_the_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    assert ask(tmp_path, "Write", file_path="pipe.txt", content="x\n") == ""  # returns: nothing blocked


def test_control_characters_in_the_file_are_shown_not_sent_to_the_terminal(tmp_path):
    (tmp_path / "evil.txt").write_text("title \x1b]0;pwned\x07 here\n")
    body = ask(tmp_path, "Edit", color=True, file_path="evil.txt", old_string="here", new_string="there")
    assert "\x07" not in body and "\x1b]" not in body
    assert "^[]0;pwned^G" in body


# ------------------------------------------------------------------------------ the change itself


def test_diff_counts_only_changed_lines_and_keeps_three_lines_of_context():
    old = numbered(20)
    change = diff_texts("f", old, old.replace("line 10\n", "ten\nten and a half\n"))
    assert (change.added, change.removed, change.stats) == (2, 1, "+2 -1")
    assert change.lines[0] == "@@ -7,7 +7,8 @@"
    assert change.lines[1:4] == (" line 7", " line 8", " line 9")


def test_identical_texts_have_no_change_and_a_huge_middle_is_counted_not_diffed():
    assert diff_texts("f", "a\n", "a\n").lines == ()
    big_old = numbered(MAX_DIFF_LINES)
    change = diff_texts("f", big_old, big_old.replace("line", "LINE"))
    assert (change.added, change.removed, change.lines) == (MAX_DIFF_LINES, MAX_DIFF_LINES, ())


def test_new_file_change_counts_all_lines_and_keeps_the_first():
    change = new_file_change("n.py", numbered(5), keep=2)
    assert (change.created, change.added, change.lines, change.omitted) == (True, 5, ("+line 1", "+line 2"), 3)


async def test_edit_and_write_results_carry_their_change(project):
    ctx = ToolContext(project_dir=project)
    edited = await EditTool().run(EditTool.Input(file_path="calc.py", old_string="    return a + b\n",
                                                 new_string="    total = a + b\n    return total\n"), ctx)
    assert edited.change is not None and edited.change.stats == "+2 -1"
    written = await WriteTool().run(WriteTool.Input(file_path="new.py", content="x = 1\n"), ctx)
    assert written.change is not None and written.change.created and written.change.stats == "+1 -0"


def test_finished_event_with_a_change_still_serialises_to_json():
    event = ToolCallFinished("t", "Edit", "edited 1 line", False, "ok", diff_texts("f", "a\n", "b\n"))
    data = json.loads(json.dumps(event.to_json()))
    assert data["change"]["added"] == 1 and data["change"]["lines"][-1] == "+b"


# ------------------------------------------------------------------------------ the transcript


class Screen:
    def __init__(self) -> None:
        self.text = ""

    def __call__(self, text, then=None) -> None:
        self.text += text
        if then is not None:
            then()


def finish(renderer: Renderer, name: str, key: str, summary: str, content: str, change=None, error=False):
    renderer.handle(ToolCallStarted("t1", name, {}, key))
    renderer.handle(ToolCallFinished("t1", name, summary, error, content, change))


def test_finished_edit_shows_plus_minus_counts_and_the_changed_lines_only():
    screen = Screen()
    old = numbered(20)
    change = diff_texts("calc.py", old, old.replace("line 5\n", "five\nfive b\nfive c\n"))
    finish(Renderer(screen, color=False), "Edit", "calc.py", "edited 3 lines", "Edited", change)
    lines = screen.text.splitlines()
    assert lines[0] == "● Edit(calc.py) · +3 -1"
    assert [re.sub(r"\s+", " ", line).strip() for line in lines[1:]] == [
        "5 - line 5", "5 + five", "6 + five b", "7 + five c"]  # no context lines


def test_compact_diff_is_capped_with_the_count_of_the_rest():
    change = diff_texts("f", numbered(30), numbered(30).replace("line", "LINE"))
    text = compact_diff(change, color=False, width=80)
    assert len(text.splitlines()) == TRANSCRIPT_LINES + 1
    assert text.splitlines()[-1].strip() == f"… +{60 - TRANSCRIPT_LINES} lines"


def test_failed_edit_keeps_its_error_summary_and_shows_no_diff():
    screen = Screen()
    finish(Renderer(screen, color=False), "Edit", "a.py", "old_string not found", "not found", error=True)
    assert screen.text == "● Edit(a.py) · old_string not found\n"


def test_bash_output_shows_its_first_lines_and_how_many_more():
    output = "\n".join(str(i) for i in range(1, 31)) + "\nExit code: 0"
    text = preview("Bash", output, color=False, width=80)
    lines = text.splitlines()
    assert len(lines) == PREVIEW_LINES + 1
    assert lines[0] == "  ⎿  1" and lines[PREVIEW_LINES - 1].strip() == str(PREVIEW_LINES)
    assert lines[-1].strip().startswith(f"… +{30 - PREVIEW_LINES} lines")  # the exit-code line is not counted


def test_short_output_is_shown_whole_and_empty_output_not_at_all():
    assert preview("Grep", "a.py:1:x\nb.py:2:y", color=False, width=80).splitlines() == [
        "  ⎿  a.py:1:x", "     b.py:2:y"]
    assert preview("Bash", "Exit code: 0", color=False, width=80) == ""


def test_only_bash_grep_read_are_previewed_and_failures_only_when_the_command_ran():
    assert wants_preview("Read", "read 3 lines", False) and wants_preview("Grep", "2 files", False)
    assert wants_preview("Bash", "exit 1", True) and wants_preview("Bash", "timed out after 2s", True)
    assert not wants_preview("Bash", "declined", True)
    assert not wants_preview("Glob", "3 files", False) and not wants_preview("Write", "wrote 2 lines", False)


def test_preview_lines_are_cut_to_the_terminal_width():
    text = preview("Read", "     1\t" + "x" * 500, color=False, width=60)
    assert max(len(line) for line in text.splitlines()) < 60 and text.rstrip().endswith("…")


def test_ctrl_o_shows_the_last_result_whole():
    screen = Screen()
    renderer = Renderer(screen, color=False)
    renderer.show_last_result()
    assert "No tool result yet" in screen.text
    output = "\n".join(f"row {i}" for i in range(1, 31)) + "\nExit code: 0"
    finish(renderer, "Bash", "seq 30", "exit 0", output)
    assert "row 30" not in screen.text
    renderer.show_last_result()
    assert "● Bash(seq 30) · full result, 31 lines" in screen.text
    assert all(f"row {i}\n" in screen.text for i in range(1, 31))


def test_full_output_shows_control_characters_visibly():
    assert "^[[2J" in full_output("Bash(x)", "Bash", "\x1b[2Jcleared", color=False)


def test_expand_command_is_registered_and_shows_the_last_result():
    command = default_registry().get("expand")
    assert command is not None and not command.needs_session
    screen = Screen()
    renderer = Renderer(screen, color=False)
    finish(renderer, "Read", "a.py", "read 9 lines", "\n".join(f"{i:>6}\tl{i}" for i in range(1, 10)))
    asyncio.run(command.handler(SimpleNamespace(renderer=renderer), ""))
    assert "l9\n" in screen.text


def test_question_diff_fits_a_short_terminal(tmp_path):
    (tmp_path / "big.txt").write_text(numbered(50))
    body = question_body("Write", {"file_path": "big.txt", "content": numbered(50).replace("line", "LINE")},
                         tmp_path, color=False, width=80, max_lines=5)
    assert len([line for line in body.splitlines() if re.match(r"^ +\d+ [-+] ", line)]) == 5
    assert "… +95 lines" in body


def test_question_box_shows_the_diff_colours_as_styles_not_raw_escapes(project):
    from agent.repl.question import QuestionMenu, permission_options

    body = ask(project, "Edit", color=True, file_path="calc.py", old_string="a + b", new_string="b + a")
    menu = QuestionMenu("Allow Edit: calc.py?", permission_options(None), 0.0, detail="needs permission", body=body)
    fragments = menu.fragments(1.0)
    assert not any("\x1b" in text for _, text in fragments)
    red = "".join(text for style, text in fragments if "ansired" in style)  # ANSI gives one per character
    green = "".join(text for style, text in fragments if "ansigreen" in style)
    assert "return a + b" in red and "return b + a" in green and "return b + a" not in red


def test_wide_characters_are_cut_by_the_columns_they_take():
    from rich.cells import cell_len

    text = preview("Read", "     1\t" + "漢字" * 100, color=False, width=60)
    assert max(cell_len(line) for line in text.splitlines()) < 60 and text.rstrip().endswith("…")


def apply_hunks(old_lines: list[str], diff_lines: tuple[str, ...]) -> list[str]:
    """Apply unified-diff body lines to old_lines (checks context and removed lines match)."""
    out, pos = [], 0
    for line in diff_lines:
        hunk = re.match(r"@@ -(\d+)(?:,(\d+))? ", line)
        if hunk:
            first = int(hunk.group(1)) - (0 if hunk.group(2) == "0" else 1)
            out += old_lines[pos:first]
            pos = first
        elif line[0] in " -":
            assert old_lines[pos] == line[1:]
            pos += 1
            if line[0] == " ":
                out.append(line[1:])
        else:
            out.append(line[1:])
    return out + old_lines[pos:]


@pytest.mark.parametrize("block", [4096, 3, 1])  # the shared start and end are found a block at a time
def test_diffs_of_random_edits_turn_the_old_text_into_the_new(block, monkeypatch):
    import random

    monkeypatch.setattr(file_change, "_BLOCK", block)
    rng = random.Random(7)
    words = ["a", "b", "c", "", "def f():", "    return 1"]
    for _ in range(400):
        old_lines = [rng.choice(words) for _ in range(rng.randint(0, 30))]
        new_lines = list(old_lines)
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(new_lines))
            if new_lines and rng.random() < 0.5:
                del new_lines[min(at, len(new_lines) - 1)]
            else:
                new_lines.insert(at, rng.choice([*words, "x", "y"]))
        old_end, new_end = rng.choice(["\n", ""]), rng.choice(["\n", ""])
        old = "\n".join(old_lines) + (old_end if old_lines else "")
        new = "\n".join(new_lines) + (new_end if new_lines else "")
        change = diff_texts("f", old, new, keep=10_000)
        assert apply_hunks(split_lines(old), change.lines) == split_lines(new), (old, new, change.lines)
        assert change.added == sum(line.startswith("+") for line in change.lines)
        assert change.removed == sum(line.startswith("-") for line in change.lines)


def test_an_edit_in_a_large_file_is_diffed_without_reading_it_line_by_line():
    old = "".join(f"line {i} of a fairly ordinary source file\n" for i in range(200_000))
    change = diff_texts("big", old, old.replace("line 100000 of", "LINE 100000 of"))
    assert change.stats == "+1 -1"
    assert change.lines[0] == "@@ -99998,7 +99998,7 @@"
    assert change.lines[4] == "-line 100000 of a fairly ordinary source file"
