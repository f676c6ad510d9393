"""You see what changes, in a real terminal: diffs in Edit questions and in the transcript, tool output
previews, and Ctrl-O or /expand for the whole last result (see pty_support)."""

from __future__ import annotations

from fake_api import text_reply, tool_reply
from pty_support import PTY_ONLY

pytestmark = PTY_ONLY

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
SEQ = "for i in $(seq 1 30); do echo row-$i; done"


def test_edit_question_shows_the_diff_and_the_transcript_keeps_it_compact(spawn, fake_api, project):
    (project / "calc.py").write_text(CALC)
    edit = {"file_path": "calc.py", "old_string": "    return a - b\n", "new_string": "    return b - a\n"}
    fake_api.script(tool_reply(("Edit", edit)), text_reply("edited it"))
    term = spawn()
    term.type_line("swap the subtraction")
    term.expect(r"\? Allow Edit")
    term.expect(r"calc\.py · \+1 -1")
    term.expect(r"6 - +return a - b")
    term.expect(r"6 \+ +return b - a")
    term.settle(0.8)  # keys within 0.5 s of the question appearing are ignored
    term.send("1")
    term.expect(r"● Edit\(calc\.py\) · \+1 -1")
    term.expect(r"6 - +return a - b")  # the changed lines stay under the call
    term.expect(r"6 \+ +return b - a")
    term.expect(r"edited it")
    assert (project / "calc.py").read_text() == CALC.replace("a - b", "b - a")


def test_write_question_for_a_new_file_shows_all_its_lines_and_size(spawn, fake_api, project):
    content = "".join(f"print({i})\n" for i in range(1, 16))
    fake_api.script(tool_reply(("Write", {"file_path": "new.py", "content": content})), text_reply("wrote it"))
    term = spawn()
    term.type_line("make a file")
    term.expect(r"\? Allow Write")
    term.expect(r"new file · 15 lines")
    term.expect(r"1 \+ print\(1\)")
    term.expect(r"15 \+ print\(15\)")  # the whole file: what is approved is seen
    term.settle(0.8)  # keys within 0.5 s of the question appearing are ignored
    term.send("1")
    term.expect(r"● Write\(new\.py\) · \+15 -0")
    term.expect(r"wrote it")


def _run_long_bash(spawn, fake_api):
    fake_api.script(tool_reply(("Bash", {"command": SEQ})), text_reply("listed the rows"))
    term = spawn()
    term.type_line("count to thirty")
    term.expect(r"\? Allow Bash")
    term.settle(0.8)  # keys within 0.5 s of the question appearing are ignored
    term.send("1")
    term.expect(r"● Bash\(.*\) · exit 0")
    preview = term.expect(r"⎿  row-1\n(?:.*\n){3}.*… \+26 lines")
    assert "row-4" in preview.group() and "row-5\n" not in preview.group()
    term.expect(r"listed the rows")
    assert "row-30" not in term.text
    return term


def test_bash_output_is_previewed_and_ctrl_o_shows_it_whole(spawn, fake_api):
    term = _run_long_bash(spawn, fake_api)
    term.send("\x0f")  # Ctrl-O
    term.expect(r"full result, 30 lines")
    term.expect(r"row-29\n.*row-30")


def test_expand_command_shows_the_last_result_whole(spawn, fake_api):
    term = _run_long_bash(spawn, fake_api)
    term.type_line("/expand")
    term.expect(r"full result, 30 lines")
    term.expect(r"row-30")
