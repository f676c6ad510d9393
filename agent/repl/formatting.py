"""How the chat writes things in few characters: a call as one line, durations, times, tokens, cost.

Pure functions of their arguments (no I/O, no rich): the renderer, the toolbar, the slash commands and
the resumed-session view all use them, so they live apart from the renderer's state and output.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

KEY_ARGUMENT_CHARS = 60
SUMMARY_CHARS = 80
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def shorten(text: str, limit: int) -> str:
    """The first line of `text`, cut to `limit` characters with an ellipsis."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > limit or len(lines) > 1:
        return first[: max(1, limit - 1)].rstrip() + "…"
    return first


def call_title(name: str, key_argument: str) -> str:
    """`Edit(src/app.py)`: a tool call as the chat names it (just the name when it has no key argument)."""
    shown = shorten(key_argument, KEY_ARGUMENT_CHARS)
    return f"{name}({shown})" if shown else name


def tool_line(name: str, key_argument: str, summary: str, is_error: bool) -> str:
    """`● Edit(src/app.py) · edited 3 lines`: the one line a finished tool call gets."""
    outcome = shorten(summary, SUMMARY_CHARS) or ("failed" if is_error else "done")
    return f"● {call_title(name, key_argument)} · {outcome}"


def format_duration(seconds: float, units: int = 2) -> str:
    """`45s`, `4m 10s`, `2h 5m`, `3d 4h`: two units at most (`units=1`: `4m`, `2h`, `3d`)."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    for big, big_unit, small, small_unit in ((days, "d", hours, "h"), (hours, "h", minutes, "m"),
                                             (minutes, "m", secs, "s")):
        if big:
            return f"{big}{big_unit} {small}{small_unit}" if small and units > 1 else f"{big}{big_unit}"
    return f"{secs}s"


def format_until(target_ms: int, now_ms: int, units: int = 2) -> str:
    """`in 4m 10s` (`in 4m` with `units=1`), or `now` when the time has come."""
    delta = (target_ms - now_ms) / 1000
    return "now" if delta < 1 else f"in {format_duration(delta, units)}"


def format_local_time(epoch_ms: int, tz: Any = None) -> str:
    """`Nov 23 9:03 AM` in local time (portable: no `%-I`)."""
    when = datetime.fromtimestamp(epoch_ms / 1000, tz) if tz else datetime.fromtimestamp(epoch_ms / 1000)
    return f"{when:%b} {when.day} {when.hour % 12 or 12}:{when.minute:02d} {when:%p}"


def format_tokens(count: int) -> str:
    """`950`, `12.3k`, `1.2M`."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"


def format_cost(usd: float | None) -> str:
    return "unknown (no price for this model)" if usd is None else f"${usd:.4f}" if usd < 1 else f"${usd:.2f}"


def without_leading_blank_lines(text: str) -> str:
    """rich starts some blocks (lists, tables) with a blank line; the caller decides the spacing."""
    lines = text.split("\n")
    while len(lines) > 1 and not _ANSI.sub("", lines[0]).strip():
        lines.pop(0)
    return "\n".join(lines)


__all__ = [
    "KEY_ARGUMENT_CHARS",
    "call_title",
    "format_cost",
    "format_duration",
    "format_local_time",
    "format_tokens",
    "format_until",
    "shorten",
    "tool_line",
    "without_leading_blank_lines",
]
