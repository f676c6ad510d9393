"""rich renderables as prompt_toolkit style fragments, for the live area (no prompt_toolkit import here).

The transcript gets rich's ANSI text; the live area is part of the prompt message, which takes
`(style, text)` fragments. This turns rich's segments into such lines, colours and all, so what the
live area draws while a block streams looks as its printed copy will. Both leave out rich's padding
of each line to the full width: a terminal made narrower would rewrap those blanks into empty rows.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

Fragments = list[tuple[str, str]]

# rich's standard colour numbers 0-15 -> prompt_toolkit's ANSI colour names (they follow the user's theme)
ANSI_NAMES = ("ansiblack", "ansired", "ansigreen", "ansiyellow", "ansiblue", "ansimagenta", "ansicyan",
              "ansigray", "ansibrightblack", "ansibrightred", "ansibrightgreen", "ansibrightyellow",
              "ansibrightblue", "ansibrightmagenta", "ansibrightcyan", "ansiwhite")
ATTRIBUTES = ("bold", "dim", "italic", "underline", "strike", "reverse")


def _color(color: Any) -> str | None:
    from rich.color import ColorType

    if color is None or color.type == ColorType.DEFAULT:
        return None
    if color.type == ColorType.STANDARD and color.number is not None and color.number < 16:
        return ANSI_NAMES[color.number]
    red, green, blue = color.get_truecolor()
    return f"#{red:02x}{green:02x}{blue:02x}"


@lru_cache(maxsize=512)  # a drawing has a few styles, used on many segments
def style_string(style: Any) -> str:
    """A rich `Style` as a prompt_toolkit style string: `bold fg:ansicyan bg:#272822`."""
    if style is None:
        return ""
    parts = [name for name in ATTRIBUTES if getattr(style, name)]
    foreground, background = _color(style.color), _color(style.bgcolor)
    if foreground:
        parts.append("fg:" + foreground)
    if background:
        parts.append("bg:" + background)
    return " ".join(parts)


def render_lines(renderable: Any, width: int, color: bool) -> list[Fragments]:
    """`renderable` drawn `width` columns wide, one list of fragments per screen line."""
    return [[(style_string(seg.style) if color else "", seg.text) for seg in line]
            for line in _segment_lines(renderable, width)]


def render_ansi(renderable: Any, width: int, color: bool) -> str:
    """`renderable` as ANSI text for the transcript, its lines without rich's padding to the width."""
    from rich.console import Console
    from rich.segment import Segment, Segments

    segments = [seg for line in _segment_lines(renderable, width) for seg in (*line, Segment.line())]
    console = Console(file=io.StringIO(), width=max(20, width), force_terminal=color,
                      color_system="auto" if color else None, no_color=not color, highlight=False, emoji=False,
                      markup=False, soft_wrap=True)
    console.print(Segments(segments), end="")
    return console.file.getvalue()  # type: ignore[attr-defined]


def _segment_lines(renderable: Any, width: int) -> list[list[Any]]:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=max(20, width), force_terminal=True, color_system="truecolor",
                      highlight=False, emoji=False, markup=False)
    return [_trimmed(line) for line in console.render_lines(renderable, console.options, pad=False)]


def _trimmed(line: list[Any]) -> list[Any]:
    """The line's segments without rich's padding to the full width (blank and without a background):
    a line that ends in spaces would rewrap in a terminal made narrower."""
    segments = [seg for seg in line if not seg.control and seg.text]
    while segments and not segments[-1].text.strip() and not (segments[-1].style and segments[-1].style.bgcolor):
        segments.pop()
    if segments and not (segments[-1].style and segments[-1].style.bgcolor):
        last = segments[-1]
        segments[-1] = type(last)(last.text.rstrip(), last.style, last.control)
    return segments


__all__ = ["render_ansi", "render_lines", "style_string"]
