"""Claude Code's keys in a real pseudo-terminal: Esc, Shift-Tab, `!command`, `@path` (see pty_support)."""

from __future__ import annotations

from fake_api import stalled_reply, text_reply, tool_reply
from pty_support import PTY_ONLY, prompts

pytestmark = PTY_ONLY

ESC, SHIFT_TAB = "\x1b", "\x1b[Z"
LOADED_S = 30  # the first reply waits for the session to load, slow when the machine is busy


def test_esc_cancels_a_slow_turn_and_the_next_message_works(spawn, fake_api):
    fake_api.when(lambda r: r.turn_prompt() == "take forever", stalled_reply("Beginning the long job"), times=1)
    fake_api.set_default(lambda r: text_reply("second answer"))
    term = spawn()
    term.type_line("take forever")
    term.expect(r"Begi", timeout=LOADED_S)  # the first words streamed, then the server stalls
    term.send(ESC)
    term.expect(r"Interrupted\.")
    term.type_line("and now?")
    term.expect(r"second answer")
    assert fake_api.requests[0].outcome == "client_gone"  # the stream was really abandoned
    assert fake_api.validation_errors == []


def test_esc_at_an_idle_prompt_keeps_the_typed_text_and_esc_enter_still_makes_a_new_line(spawn, fake_api):
    fake_api.set_default(lambda r: text_reply(f"lines: {r.turn_prompt().count(chr(10)) + 1}"))
    term = spawn()
    term.send("kept text")
    term.send(ESC)
    term.settle(0.6)  # longer than the Esc timeout: taken as a lone Esc
    term.send("\x1b\r")  # Esc Enter (Alt-Enter) inserts a new line
    term.type_line("second line")
    term.expect(r"lines: 2", timeout=LOADED_S)
    assert prompts(fake_api) == ["kept text\nsecond line"]


def test_shift_tab_cycles_the_mode_and_a_write_in_accept_edits_runs_without_a_question(spawn, fake_api, project):
    fake_api.script(text_reply("ready"),
                    tool_reply(("Write", {"file_path": "notes.txt", "content": "hello\n"})), text_reply("wrote it"))
    term = spawn()
    term.type_line("hi")
    term.expect(r"ready", timeout=LOADED_S)  # the session has loaded
    term.send(SHIFT_TAB)
    term.expect(r"⏵⏵ accept edits on \(shift\+tab to cycle\)")
    term.type_line("write the notes")
    term.expect(r"wrote it")
    assert (project / "notes.txt").read_text() == "hello\n"
    assert "Allow Write" not in term.text and "Allow Edit" not in term.text
    term.send(SHIFT_TAB)
    term.expect(r"⏸ plan mode on \(shift\+tab to cycle\)")
    term.send(SHIFT_TAB)
    term.expect(r"default mode: edits and commands ask first \(shift\+tab to cycle\)")


def test_bang_command_shows_its_output_and_the_next_request_contains_it(spawn, fake_api):
    fake_api.set_default(lambda r: text_reply("seen"))
    term = spawn()
    term.type_line("!echo hi-from-shell")
    term.expect(r"⎿ hi-from-shell", timeout=LOADED_S)
    term.type_line("what did it print?")
    term.expect(r"seen")
    [request] = fake_api.requests  # the command itself called no model
    text = request.turn_prompt()
    assert "<bash-input>echo hi-from-shell</bash-input>" in text
    assert "<bash-stdout>hi-from-shell</bash-stdout>" in text
    assert text.endswith("what did it print?")
    assert fake_api.validation_errors == []


def test_at_path_completes_with_tab_and_the_request_carries_the_file(spawn, fake_api, project):
    (project / "src").mkdir()
    (project / "src" / "calculator.py").write_text("def add(a, b):\n    return a + b\n")
    fake_api.set_default(lambda r: text_reply("explained"))
    term = spawn()
    term.send("explain @calc")
    term.expect(r"src/calculator\.py")  # the completion menu found it below src/
    term.send("\t")  # Tab takes the first candidate (the screen is redrawn in part: read the request)
    term.settle(0.3)
    term.send(" please\r")
    term.expect(r"Attached src/calculator\.py \(2 lines\)", timeout=LOADED_S)
    term.expect(r"explained")
    [request] = fake_api.requests
    text = request.turn_prompt()
    assert text.startswith("explain @src/calculator.py please")
    assert '<attached-file path="src/calculator.py">\n```\ndef add(a, b):\n    return a + b\n```' in text


def test_ctrl_c_stops_a_bang_command_and_the_prompt_keeps_working(spawn, fake_api, project):
    term = spawn()
    term.type_line("!echo ready")
    term.expect(r"⎿ ready", timeout=LOADED_S)  # the session has loaded: the next command starts at once
    term.type_line("!sleep 30 && touch finished")
    term.settle(0.5)
    term.send("\x03")
    term.expect(r"Stopped: !sleep 30")
    term.type_line("!echo still-here")
    term.expect(r"⎿ still-here")
    assert not (project / "finished").exists() and fake_api.requests == []
