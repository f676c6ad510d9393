"""A clean screen when the terminal gets narrower: no doubled lines, no doubled input.

prompt_toolkit redraws its area (live area, input line, toolbar) by moving the cursor up as many rows
as it drew above the cursor, erasing down and drawing again. Most terminals today (tmux, iTerm2,
Terminal.app, VTE, kitty, WezTerm, Windows Terminal, VS Code) rewrap their lines when they get
narrower: a row of the old drawing that is wider than the new width becomes two or more rows, the
cursor moves down with its text, and the move up stops short, so the top of the old drawing stays on
the screen under the new one (the input line twice, a live line twice).

`keep_clean_on_resize` makes the renderer count those extra rows from what it drew last (the width of
each row above the cursor, and the cursor's column) before it erases or redraws after a width change.
Terminals that cut lines instead (xterm, st, urxvt, the Linux console) need no count; for them it is
off (`AGENT_TERMINAL_REFLOW=0`/`1` overrides the guess).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

CUTTING_TERMINALS = ("st", "rxvt", "linux")  # $TERM prefixes of terminals that never rewrap (xterm: $XTERM_VERSION)


def terminal_rewraps(env: Mapping[str, str]) -> bool:
    """Whether the terminal rewraps lines on resize: a guess from the environment."""
    setting = env.get("AGENT_TERMINAL_REFLOW", "").strip()
    if setting in ("0", "1"):
        return setting == "1"
    if env.get("TMUX") or env.get("TERM_PROGRAM") or env.get("VTE_VERSION") or env.get("KITTY_WINDOW_ID") \
            or env.get("WT_SESSION") or env.get("ALACRITTY_WINDOW_ID") or env.get("WEZTERM_PANE"):
        return True
    if env.get("XTERM_VERSION"):
        return False
    return not env.get("TERM", "").startswith(CUTTING_TERMINALS)


def rows_added_by_rewrap(row_widths: list[int], cursor_x: int, columns: int) -> int:
    """How many rows the drawing above the cursor grew by when rewrapped to `columns`."""
    columns = max(1, columns)
    grown = sum(max(1, -(-width // columns)) - 1 for width in row_widths)
    return grown + cursor_x // columns


def keep_clean_on_resize(app: Any, env: Mapping[str, str]) -> None:
    """Count rewrapped rows before prompt_toolkit erases or redraws after the terminal got narrower."""
    if not terminal_rewraps(env):
        return
    renderer = app.renderer
    erase, render = renderer.erase, renderer.render

    def counted_erase(*args: Any, **kwargs: Any) -> None:
        _count_rewrapped_rows(renderer)
        erase(*args, **kwargs)

    def counted_render(*args: Any, **kwargs: Any) -> None:
        _count_rewrapped_rows(renderer)
        render(*args, **kwargs)

    renderer.erase, renderer.render = counted_erase, counted_render


def _count_rewrapped_rows(renderer: Any) -> None:
    try:
        from prompt_toolkit.data_structures import Point

        last_size, screen, cursor = renderer._last_size, renderer._last_screen, renderer._cursor_pos
        if last_size is None or screen is None:
            return
        columns = renderer.output.get_size().columns
        if columns >= last_size.columns:
            return
        styled = renderer._style_string_has_style
        widths = [_used_width(screen.data_buffer[y], styled) for y in range(cursor.y)]
        added = rows_added_by_rewrap(widths, cursor.x, columns)
        renderer._cursor_pos = Point(x=cursor.x % columns, y=cursor.y + added)
        renderer._last_size = None  # counted once: the next draw is at the new width
    except AttributeError:  # a prompt_toolkit whose renderer changed: redraw as it does by itself
        log.debug("cannot count rewrapped rows", exc_info=True)


def _used_width(row: Mapping[int, Any], styled: Any) -> int:
    """Columns a drawn row takes (prompt_toolkit never writes the blank unstyled cells at its end)."""
    used = [x for x, cell in row.items() if cell.char != " " or (styled[cell.style] if styled else cell.style)]
    return max(used) + 1 if used else 0


__all__ = ["keep_clean_on_resize", "rows_added_by_rewrap", "terminal_rewraps"]
