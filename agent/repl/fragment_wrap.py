"""prompt_toolkit fragments laid out at the terminal's width: wrapped, never cut.

The lines above the prompt's input line (the live area, a permission question) are drawn by
prompt_toolkit in a window that does not wrap, so anything wider than the terminal would be cut at its
edge without a mark. What a person is asked to approve must be seen whole, so those lines are wrapped
here first: at a space where there is one, inside a word only when the word alone is wider than the
line, continuation rows indented. Wide characters count two columns.
"""

from __future__ import annotations

from prompt_toolkit.formatted_text import ANSI, to_formatted_text
from prompt_toolkit.utils import get_cwidth

__all__ = ["Fragments", "ansi_lines", "split_lines", "wrap_line", "wrap_lines"]

Fragments = list[tuple[str, str]]


def split_lines(fragments: Fragments) -> list[Fragments]:
    """Fragments cut at their newlines, one list per line (a trailing newline ends the last line)."""
    lines: list[Fragments] = [[]]
    for style, text, *_ in fragments:
        parts = text.split("\n")
        for index, part in enumerate(parts):
            if index:
                lines.append([])
            if part:
                lines[-1].append((style, part))
    if len(lines) > 1 and not lines[-1]:
        lines.pop()
    return lines


def ansi_lines(text: str) -> list[Fragments]:
    """Pre-rendered ANSI text (a coloured diff) as fragment lines."""
    return split_lines(_merge([(style, chars) for style, chars, *_ in to_formatted_text(ANSI(text))])) if text else []


def wrap_line(line: Fragments, width: int, indent: str = "  ") -> list[Fragments]:
    """One line as rows of at most `width` columns; rows after the first start with `indent`."""
    width = max(8, width)
    indent = indent if get_cwidth(indent) < width // 2 else ""
    cells = [(style, char) for style, text in line for char in text]
    rows: list[Fragments] = []
    start, first = 0, True
    while True:
        room = width - (0 if first else get_cwidth(indent))
        end, used, last_space = start, 0, -1
        while end < len(cells) and used + get_cwidth(cells[end][1]) <= room:
            used += get_cwidth(cells[end][1])
            if cells[end][1] == " " and end > start:
                last_space = end
            end += 1
        if end < len(cells) and last_space > start:
            end = last_space + 1  # break after a space: words stay whole
        if end == start and start < len(cells):
            end = start + 1  # a character wider than the row: show it anyway
        row = cells[start:end]
        rows.append(_merge(([("", indent)] if not first and indent else []) + row))
        start, first = end, False
        if start >= len(cells):
            return rows


def wrap_lines(lines: list[Fragments], width: int, indent: str = "  ") -> list[Fragments]:
    return [row for line in lines for row in wrap_line(line, width, indent)]


def _merge(cells: list[tuple[str, str]]) -> Fragments:
    """Adjacent characters of one style as one fragment (fewer fragments draw faster)."""
    out: Fragments = []
    for style, text in cells:
        if out and out[-1][0] == style:
            out[-1] = (style, out[-1][1] + text)
        else:
            out.append((style, text))
    return out
