"""The permission question menu as a state machine: keys and times in, a choice out (no terminal)."""

from __future__ import annotations

import asyncio

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.keys import Keys

from agent.repl.question import Choice, QuestionBox, QuestionMenu, permission_options, permission_title

RULE = "Bash(rm -rf build:*)"
AFTER = 1.0  # a time well past the grace period of a menu opened at 0


def menu(rule: str | None = RULE, task_id: str | None = None, **options) -> QuestionMenu:
    return QuestionMenu("Allow Bash: rm -rf build?", permission_options(rule, task_id), 0.0, **options)


def type_keys(m: QuestionMenu, keys, start: float, step: float = 0.05) -> list[Choice | None]:
    return [m.press(key, start + i * step) for i, key in enumerate(keys)]


def shown(m: QuestionMenu, now: float = AFTER) -> str:
    return "".join(text for _, text in m.fragments(now))


def test_options_are_yes_always_with_the_rule_and_no_with_an_instruction():
    assert [o.label for o in permission_options(RULE)] == [
        "Yes", f"Yes, and don't ask again: allow {RULE} for the rest of this session",
        "No, and tell the model what to do instead"]
    assert [o.answer for o in permission_options(None)] == ["yes", "note"]  # no rule: no option 2
    assert permission_options(RULE, "a1b2c3d4")[-1].label == "No, and delete scheduled task a1b2c3d4"


def test_letters_never_answer_even_long_after_the_question_appeared():
    m = menu()
    typed = "yes always no YAN what is this"
    assert type_keys(m, typed, start=5.0) == [None] * len(typed)
    assert m.cursor == 0 and m.note is None
    assert "Typing does not answer this question" in shown(m)


def test_enter_and_digits_within_the_grace_period_are_ignored():
    m = menu()
    assert m.press("enter", 0.1) is None
    assert m.press("1", 0.2) is None
    assert m.press("escape", 0.3) is None
    assert m.press("1", 0.9) == Choice("yes")  # 0.5 s after the last ignored key


def test_a_sentence_typed_through_the_question_answers_nothing_enter_included():
    m = menu()
    sentence = [*"what is this, 3 times? ", "enter"]
    assert type_keys(m, sentence, start=0.3, step=0.1) == [None] * len(sentence)  # each key re-arms the grace
    assert m.press("3", 0.3 + len(sentence) * 0.1 + 0.1) is None  # still typing
    assert m.press("1", 10.0) == Choice("yes")  # a deliberate digit after a pause answers


def test_after_typing_went_into_the_question_a_late_enter_needs_an_arrow_key_first():
    m = menu()
    type_keys(m, "send this", start=2.0)
    assert m.press("enter", 10.0) is None  # meant to send the message: not a yes
    assert "Choose with ↑↓ and Enter, or a digit" in shown(m)
    m.press("down", 11.0), m.press("up", 11.1)
    assert m.press("enter", 11.2) == Choice("yes")


def test_grace_period_is_injectable():
    m = menu(grace_s=0.0)
    assert m.press("2", 0.0) == Choice("always")


def test_arrows_move_the_cursor_and_enter_chooses_it():
    m = menu()
    assert "❯ 1. Yes" in shown(m)
    assert m.press("down", AFTER) is None and m.press("down", AFTER) is None and m.press("down", AFTER) is None
    assert m.cursor == 2  # stops at the last option
    assert m.press("up", AFTER) is None
    assert "❯ 2. Yes, and don't ask again" in shown(m)
    assert m.press("enter", AFTER) == Choice("always")


def test_digits_are_shortcuts_and_a_digit_with_no_option_does_nothing():
    assert menu().press("1", AFTER) == Choice("yes")
    assert menu().press("2", AFTER) == Choice("always")
    assert menu(rule=None).press("3", AFTER) is None
    assert menu(task_id="a1b2c3d4").press("4", AFTER) == Choice("delete")


def test_escape_means_no():
    assert menu().press("escape", AFTER) == Choice("no")


def test_option_three_takes_an_instruction_with_simple_editing_and_enter_sends_it():
    m = menu()
    assert m.press("3", AFTER) is None
    assert m.note == ""
    assert "Enter to send · Esc for a plain no" in shown(m)
    assert type_keys(m, "use mke clean", start=AFTER) == [None] * 13  # letters now type the instruction
    for key in ["left"] * 8 + ["x", "backspace", "a"]:
        m.press(key, AFTER)
    assert m.note == "use make clean" and "› use ma" in shown(m)
    m.press("end", AFTER)
    m.paste(" and\nrebuild", AFTER)
    assert m.press("enter", AFTER) == Choice("note", "use make clean and rebuild")


def test_an_empty_instruction_or_escape_is_a_plain_no():
    m = menu()
    m.press("3", AFTER)
    assert m.press("enter", AFTER) == Choice("no")
    m = menu()
    m.press("down", AFTER), m.press("down", AFTER), m.press("enter", AFTER)
    m.press("x", AFTER)
    assert m.press("escape", AFTER) == Choice("no")


def test_paste_never_answers_the_menu():
    m = menu()
    assert m.paste("1\n", AFTER) is None and m.press("enter", AFTER + 0.1) is None


def test_a_scheduled_question_counts_down_and_stops_counting_once_someone_moves():
    m = menu(task_id="a1b2c3d4", deadline=60.0, asker="Scheduled task a1b2c3d4 asks (check the deploy)")
    assert "60s left to answer" in shown(m, 0.0)
    assert "42s left to answer" in shown(m, 18.0)
    assert "Scheduled task a1b2c3d4 asks (check the deploy)" in shown(m)
    assert "4. No, and delete scheduled task a1b2c3d4" in shown(m)
    m.press("x", 20.0)  # typing is not an answer, and does not stop the clock
    assert m.seconds_left(21.0) == 39.0
    m.press("down", 30.0)
    assert m.seconds_left(30.0) is None and "left to answer" not in shown(m, 30.0)


def test_the_body_is_drawn_from_ansi_between_the_title_and_the_options():
    m = menu(body="\x1b[32m+ added line\x1b[0m\n\x1b[31m- removed line\x1b[0m")
    fragments = m.fragments(AFTER)
    text = "".join(t for _, t in fragments)
    assert text.index("Allow Bash") < text.index("+ added line") < text.index("- removed line") < text.index("1. Yes")
    assert "\x1b" not in text
    assert ("ansigreen", "+ added line") in fragments


async def test_box_maps_prompt_toolkit_keys_and_restores_the_typed_text_exactly():
    buffer = Buffer()
    buffer.set_document(Document("draft message", cursor_position=5))
    box = QuestionBox(lambda: buffer, lambda: None, grace_s=0.0)
    asking = asyncio.create_task(box.ask("Allow Bash?", permission_options(RULE)))
    await asyncio.sleep(0)
    assert buffer.text == ""
    box.key_press("y", "y")
    box.key_press("down", "\x1b[B")
    assert not asking.done()
    box.key_press("c-m", "\r")  # Enter
    assert await asking == Choice("always")
    assert (buffer.text, buffer.cursor_position) == ("drafty message", 6)  # the ignored "y" came back too


async def test_text_typed_during_the_question_comes_back_at_the_cursor_of_the_draft():
    buffer = Buffer()
    buffer.set_document(Document("fix  please", cursor_position=4))
    box = QuestionBox(lambda: buffer, lambda: None, grace_s=0.5)
    asking = asyncio.create_task(box.ask("Allow Bash?", permission_options(RULE)))
    await asyncio.sleep(0)
    for char in "the 2 testz":  # letters, a space and a digit, typed on: none of them answers
        box.key_press(char, char)
    box.key_press("c-h", "\x7f")  # backspace takes back the last typed character
    box.key_press(Keys.BracketedPaste, " now")
    assert not asking.done()
    box.current.quiet_until = 0.0  # past the grace period
    box.key_press("escape", "\x1b")
    assert await asking == Choice("no")
    assert (buffer.text, buffer.cursor_position) == ("fix the 2 test now please", 18)


async def test_box_times_out_with_none_unless_someone_moves_in_the_menu():
    box = QuestionBox(lambda: None, lambda: None, grace_s=0.0)
    assert await box.ask("?", permission_options(None), timeout=0.05) is None
    asking = asyncio.create_task(box.ask("?", permission_options(None), timeout=0.05))
    await asyncio.sleep(0)
    box.key_press("down", "")
    await asyncio.sleep(0.15)
    assert not asking.done()  # someone is here: no time limit any more
    box.key_press("escape", "\x1b")
    assert await asking == Choice("no")


def test_a_question_taller_than_its_room_pages_what_it_asks_about_and_keeps_the_answers():
    body = "\n".join(f"  {i} + line {i}" for i in range(1, 101))
    m = menu(body=body)
    first = shown_rows(m, width=60, max_rows=20)
    assert len(first) == 20
    assert first[0].startswith("? Allow Bash") and "lines 1-" in "\n".join(first) and "of 101" in "\n".join(first)
    assert first[-1].endswith("Esc for no") and any("1. Yes" in row for row in first)
    for _ in range(30):  # PgDn, even during the grace period: scrolling answers nothing
        assert m.press("pagedown", 0.1) is None
        rows = shown_rows(m, width=60, max_rows=20)
    assert "100 + line 100" in "\n".join(rows) and "of 101" in "\n".join(rows)
    m.press("pageup", 0.2)
    assert "100 + line 100" not in "\n".join(shown_rows(m, width=60, max_rows=20))


def test_every_row_fits_the_width_and_no_word_is_lost():
    m = menu(rule="Bash(npm run a-rather-long-script-name-here:*)", detail="a reason " * 12)
    rows = shown_rows(m, width=40)
    assert all(len(row) <= 40 for row in rows)
    assert "a-rather-long-script-name-here" in "".join(rows)
    assert " ".join(" ".join(rows).split()).count("a reason") == 12


def test_a_multi_line_subject_is_shown_line_by_line_under_the_title():
    title, command = permission_title("Bash", "echo one\necho two\nrm -rf three")
    assert title == "Allow Bash to run these 3 lines?"
    assert command.split("\n") == ["echo one", "echo two", "rm -rf three"]
    assert permission_title("Bash", "npm test") == ("Allow Bash: npm test?", "")
    assert permission_title("Bash", "echo \x1b[2J") == ("Allow Bash: echo ^[[2J?", "")  # no escape reaches the terminal
    rows = shown_rows(QuestionMenu(title, permission_options(None), 0.0, command=command, description="Three steps"),
                      width=60)
    assert rows[1:5] == ["    echo one", "    echo two", "    rm -rf three", "  Three steps"]


def shown_rows(m: QuestionMenu, width: int, max_rows: int | None = None) -> list[str]:
    return "".join(text for _, text in m.fragments(AFTER, width, max_rows)).rstrip("\n").split("\n")
