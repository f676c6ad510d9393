"""What the live area above the input line shows besides streaming text: the tool calls still running
(a subagent's line under each Task call) and the spinner's status line.

Pure: the renderer keeps the turn's state and passes in what it knows; this returns the status text
and prompt_toolkit style fragments, `(style, text)` tuples (prompt_toolkit itself is never imported).
Apart from the renderer so the drawing rules (the spinner's frame and verb, the token estimate, what a
narrow terminal drops) are one place, testable without events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from agent.repl.formatting import format_tokens, shorten

Fragments = list[tuple[str, str]]

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
INTERRUPT_HINT = " · Ctrl-C to interrupt"


@dataclass
class TurnProgress:
    """A running turn as the status line counts it."""

    started: float
    source: str
    tokens: int = 0  # reported by the API so far this turn
    streamed_chars: int = 0  # text streamed since the last usage report (estimated as tokens)


def spinner_verb(*, waiting: bool, running_call: str | None, writing: bool) -> str:
    """What the turn does now: waiting for an answer, running a tool, writing text or thinking."""
    if waiting:
        return "Waiting for your answer"
    if running_call is not None:
        return "Running " + running_call.split("(")[0]
    return "Writing" if writing else "Thinking"


def status_line(turn: TurnProgress, now: float, verb: str) -> str:
    """The spinner line: `⠙ Thinking… 4s · 1.2k tokens · Ctrl-C to interrupt`."""
    elapsed = now - turn.started
    frame = SPINNER[int(elapsed * 10) % len(SPINNER)]
    tokens = turn.tokens + turn.streamed_chars // 4
    count = f" · {format_tokens(tokens)} tokens" if tokens else ""
    return f"{frame} {verb}… {int(elapsed)}s{count}{INTERRUPT_HINT}"


def live_fragments(text_lines: list[Fragments], running: Mapping[str, str],
                   subagent_line: Callable[[str], str | None], status: str, width: int) -> Fragments:
    """The live area: the streaming text's lines, a line per running call (`running`: tool_use_id ->
    `Name(key)`) with its subagent's line under it, then the status line."""
    fragments: Fragments = []
    for line in text_lines:
        fragments += [*line, ("", "\n")]
    for tool_use_id, call in running.items():
        fragments.append(("fg:ansibrightblack", shorten(f"○ {call} …", width - 1) + "\n"))
        progress = subagent_line(tool_use_id)
        if progress:
            fragments.append(("fg:ansibrightblack", "  " + shorten(progress, width - 3) + "\n"))
    if status and len(status) >= width:  # narrow: the toolbar says how to interrupt too
        status = status.removesuffix(INTERRUPT_HINT)
    if status:
        fragments.append(("fg:ansicyan", shorten(status, width - 1) + "\n"))
    return fragments


__all__ = ["SPINNER", "TurnProgress", "live_fragments", "spinner_verb", "status_line"]
