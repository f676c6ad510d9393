"""The live area's pieces: rich drawn as prompt_toolkit fragments, and the rows a narrower terminal rewraps."""

from __future__ import annotations

from rich.markdown import Markdown
from rich.style import Style
from rich.text import Text

from agent.repl.reflow import rows_added_by_rewrap, terminal_rewraps
from agent.repl.rich_fragments import render_ansi, render_lines, style_string


def test_rich_styles_become_prompt_toolkit_styles_with_theme_colours_kept():
    assert style_string(Style(bold=True, color="cyan")) == "bold fg:ansicyan"
    assert style_string(Style(italic=True, bgcolor="#272822")) == "italic bg:#272822"
    assert style_string(None) == ""


def test_markdown_is_drawn_without_markers_or_padding_to_the_full_width():
    lines = render_lines(Markdown("Some **bold** words"), 60, color=True)
    assert ["".join(text for _, text in line) for line in lines] == ["Some bold words"]
    assert ("bold", "bold") in lines[0]


def test_plain_drawing_has_no_styles():
    lines = render_lines(Text("red", style="red"), 40, color=False)
    assert lines == [[("", "red")]]


def test_rows_wider_than_the_new_width_count_as_rewrapped():
    assert rows_added_by_rewrap([80, 30, 0], cursor_x=10, columns=50) == 1  # the 80-wide row becomes two
    assert rows_added_by_rewrap([120], cursor_x=73, columns=50) == 2 + 1  # three rows, and the cursor's row
    assert rows_added_by_rewrap([40, 50], cursor_x=49, columns=50) == 0


def test_terminals_that_cut_lines_are_recognised_and_the_guess_can_be_overridden():
    assert terminal_rewraps({"TERM": "xterm-256color", "TMUX": "/tmp/tmux-0/default,1,0"})
    assert terminal_rewraps({"TERM": "xterm-256color"})
    assert not terminal_rewraps({"TERM": "xterm", "XTERM_VERSION": "XTerm(390)"})
    assert not terminal_rewraps({"TERM": "st-256color"})
    assert not terminal_rewraps({"TERM": "xterm-256color", "AGENT_TERMINAL_REFLOW": "0"})
    assert terminal_rewraps({"TERM": "linux", "AGENT_TERMINAL_REFLOW": "1"})


def test_transcript_markdown_lines_end_at_their_last_word_not_at_the_full_width():
    text = render_ansi(Markdown("## Head\n\nSome **bold** words\n\n- item"), 80, color=True)
    assert all(not line.endswith(" ") for line in text.splitlines())
    assert render_ansi(Markdown("Some **bold** words"), 80, color=False) == "Some bold words\n"
