"""The one renderer: every line the REPL shows goes through `Renderer`.

It turns conversation events into terminal output: streamed text, finished text blocks as Markdown,
one compact line per tool call, warnings and errors. It owns two kinds of output:

- the transcript, printed once and scrolled above the prompt, written through `sink(text, then)`
  (the REPL's sink prints above the prompt without corrupting it; tests pass a list);
- the live area, redrawn above the input line on every change: the unfinished end of the streaming
  text block, tools that are running and the spinner. `live_fragments()` returns it as prompt_toolkit
  style fragments, `(style, text)` tuples, so this module never imports prompt_toolkit.

A streaming block is Markdown from the first delta on: each part of it that can no longer change (a
paragraph, a heading, a closed code fence, a list item; see stream_markdown) is printed as Markdown as
soon as it is complete, and the live area draws only the rest, rendered too. A printed part leaves the
live area in the same step (`then`), so no line is shown twice or lost. rich is imported on first use,
not at start-up: the REPL's prompt must appear before the heavy imports are done.
"""

from __future__ import annotations

import io
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent.engine.events import (
    Compacted,
    Event,
    PermissionDenied,
    RetryNotice,
    SubagentProgress,
    TextBlockDone,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
    TurnStarted,
    UsageReport,
)
from agent.repl.stream_markdown import MarkdownStream, Piece, close_open_inline, last_lines_for_drawing
from agent.repl.subagent_lines import SubagentLines

Sink = Callable[[str, "Callable[[], None] | None"], None]
Fragments = list[tuple[str, str]]

LIVE_LINES = 12  # the most lines of a streaming block's unfinished end drawn above the input line
KEY_ARGUMENT_CHARS = 60
SUMMARY_CHARS = 80
VERBOSE_RESULTS = 20  # tool results Ctrl-O shows whole when it turns the verbose transcript on
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
CANCELLED = "cancelled by the user"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
TRAILING_SPACES = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)  # spaces before any closing styles


# --------------------------------------------------------------------------------- pure formatting


def shorten(text: str, limit: int) -> str:
    """The first line of `text`, cut to `limit` characters with an ellipsis."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > limit or len(lines) > 1:
        return first[: max(1, limit - 1)].rstrip() + "…"
    return first


def tool_line(name: str, key_argument: str, summary: str, is_error: bool) -> str:
    """`● Edit(src/app.py) · edited 3 lines`: the one line a finished tool call gets."""
    call = f"{name}({shorten(key_argument, KEY_ARGUMENT_CHARS)})" if key_argument.strip() else name
    outcome = shorten(summary, SUMMARY_CHARS) or ("failed" if is_error else "done")
    return f"● {call} · {outcome}"


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


def wrap_lines(text: str, width: int) -> list[str]:
    """Hard-wrap `text` to `width` columns, keeping its own line breaks."""
    width = max(10, width)
    out: list[str] = []
    for line in text.split("\n"):
        out += [line[i:i + width] for i in range(0, len(line), width)] or [""]
    return out


HYPERLINK_PROGRAMS = ("iTerm.app", "WezTerm", "vscode", "ghostty")


def terminal_has_hyperlinks(env: Mapping[str, str]) -> bool:
    """Whether the terminal turns OSC 8 links into clickable text (a guess; AGENT_HYPERLINKS=0/1 decides)."""
    setting = env.get("AGENT_HYPERLINKS", "").strip()
    if setting in ("0", "1"):
        return setting == "1"
    if env.get("TMUX") or env.get("TERM", "") in ("dumb", "linux"):
        return False  # tmux passes them on only when configured to
    vte = env.get("VTE_VERSION", "")
    return (env.get("TERM_PROGRAM") in HYPERLINK_PROGRAMS or bool(env.get("KITTY_WINDOW_ID"))
            or bool(env.get("WT_SESSION")) or (vte.isdigit() and int(vte) >= 5000))



def without_leading_blank_lines(text: str) -> str:
    """rich starts some blocks (lists, tables) with a blank line; the caller decides the spacing."""
    lines = text.split("\n")
    while len(lines) > 1 and not _ANSI.sub("", lines[0]).strip():
        lines.pop(0)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- renderer


@dataclass
class _Turn:
    started: float
    source: str
    tokens: int = 0  # reported by the API so far this turn
    streamed_chars: int = 0  # text streamed since the last usage report (estimated as tokens)


class Renderer:
    """Renders events and messages. `width()` gives the terminal width; `invalidate()` asks the UI to
    redraw the live area; `color=False` gives plain text (tests, dumb terminals)."""

    def __init__(self, sink: Sink, *, color: bool = True, width: Callable[[], int] = lambda: 80,
                 invalidate: Callable[[], None] = lambda: None, clock: Callable[[], float] = time.monotonic,
                 hyperlinks: bool = False) -> None:
        self._sink = sink
        self.color = color
        self.hyperlinks = hyperlinks  # False: a link shows its URL after its text
        self._width = width
        self._invalidate = invalidate
        self._clock = clock
        self._md: MarkdownStream | None = None  # the text block being streamed
        self._live_md: list[MarkdownStream] = []  # blocks with text not yet on the screen as printed Markdown
        self._drawn: tuple[Any, ...] = ()  # (what, width, colour), lines: the last live Markdown drawing
        self._running: dict[str, str] = {}  # tool_use_id -> "Name(key)" while the call runs
        self._keys: dict[str, str] = {}  # tool_use_id -> key argument
        self._subagents = SubagentLines(format_tokens)  # a live line under each running Task call
        self._turn: _Turn | None = None
        self.waiting = False  # a question to the user is open
        self.last_result: tuple[str, str, str] | None = None  # (call, tool name, content) for /expand
        self.recent_results: deque[tuple[str, str, str]] = deque(maxlen=VERBOSE_RESULTS)  # for Ctrl-O
        self.verbose = False  # Ctrl-O: every tool result whole

    # -- transcript output ------------------------------------------------------------------------

    def write(self, text: str, then: Callable[[], None] | None = None) -> None:
        """Raw text (ANSI allowed) into the transcript; `then` runs once it is on the screen."""
        self._sink(text if text.endswith("\n") else text + "\n", then)

    def dim_line(self, text: str) -> None:
        """A dim line without rich, for output before rich has loaded (the start-up banner)."""
        self.write(f"\x1b[2m{text}\x1b[0m" if self.color else text)

    def line(self, text: str, style: str | None = None) -> None:
        """One line of plain text (no markup is interpreted) in a rich style such as "dim" or "red"."""
        from rich.text import Text

        self.print(Text(text, style=style or ""))

    def info(self, text: str) -> None:
        self.line(text, "dim")

    def success(self, text: str) -> None:
        self.line(text, "green")

    def warn(self, text: str) -> None:
        self.line(text, "yellow")

    def error(self, text: str) -> None:
        self.line(text, "bold red")

    def user_prompt(self, text: str) -> None:
        """Echo a prompt that was typed earlier (queued) when its turn starts."""
        self.line("> " + text.replace("\n", "\n  "), "bold")

    def scheduled_header(self, fired_ms: int, prompt: str) -> None:
        """`Running scheduled task (Nov 23 9:03 AM): <prompt>`."""
        self.line(f"Running scheduled task ({format_local_time(fired_ms)}): {shorten(prompt, 200)}", "bold cyan")

    def markdown(self, text: str, then: Callable[[], None] | None = None) -> None:
        from agent.repl.rich_fragments import render_ansi

        self.write(without_leading_blank_lines(render_ansi(self._markdown(text), self._width(), self.color)), then)

    def _markdown(self, text: str) -> Any:
        from agent.repl.markdown_style import ChatMarkdown

        return ChatMarkdown(text, hyperlinks=self.hyperlinks)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None,
              no_wrap: Sequence[int] = ()) -> None:
        """A borderless table; columns listed in `no_wrap` are never wrapped (the others give way)."""
        from rich.table import Table

        table = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
        for i, header in enumerate(headers):
            table.add_column(header, no_wrap=i in no_wrap, overflow="ellipsis" if i in no_wrap else "fold")
        for row in rows:
            table.add_row(*row)
        self.write(TRAILING_SPACES.sub(r"\1", self.to_text(table)))  # rich pads every cell to its column

    def print(self, renderable: Any, then: Callable[[], None] | None = None) -> None:
        """Render anything rich can render to ANSI text at the terminal's width and write it."""
        self.write(self.to_text(renderable), then)

    def to_text(self, renderable: Any) -> str:
        from rich.console import Console

        buffer = io.StringIO()
        console = Console(file=buffer, width=max(20, self._width()), force_terminal=self.color,
                          color_system="auto" if self.color else None, no_color=not self.color,
                          highlight=False, emoji=False, markup=False, soft_wrap=False)
        console.print(renderable)
        return buffer.getvalue()

    # -- events -----------------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Show one conversation event."""
        if isinstance(event, TextDelta):
            self._stream_text(event.text)
            if self._turn is not None:
                self._turn.streamed_chars += len(event.text)
            self._invalidate()
        elif isinstance(event, TextBlockDone):
            self._finish_block(event.text)
        elif isinstance(event, ToolCallStarted):
            self._flush_stream()
            self._keys[event.tool_use_id] = event.key_argument
            shown = shorten(event.key_argument, KEY_ARGUMENT_CHARS)
            self._running[event.tool_use_id] = f"{event.name}({shown})" if shown else event.name
            if event.name == "Task":
                self._subagents.start(event.tool_use_id, str(event.input.get("subagent_type") or "agent"),
                                      self._clock())
            self._invalidate()
        elif isinstance(event, ToolCallFinished):
            self._running.pop(event.tool_use_id, None)
            self._tool_finished(event, self._keys.pop(event.tool_use_id, ""))
        else:
            self._handle_other(event)

    def _tool_finished(self, event: ToolCallFinished, key: str) -> None:
        """The call's line (`· +3 -1` for a file change), then its diff or the first lines of its output."""
        from agent.repl import diffs, tool_output

        change = event.change if not event.is_error else None
        summary = change.stats if change is not None else event.summary
        self.line(tool_line(event.name, key, summary, event.is_error), "red" if event.is_error else None)
        subagent_summary = self._subagents.finish(event.tool_use_id)
        if subagent_summary and not event.is_error:  # a Task that failed to start: its red line says why
            self.info("  " + subagent_summary)
        width = self._width()
        shown = shorten(key, KEY_ARGUMENT_CHARS)
        title = f"{event.name}({shown})" if shown else event.name
        if self.verbose:
            body = tool_output.full_output(title, event.name, event.content, color=self.color)
        elif change is not None:
            body = diffs.compact_diff(change, color=self.color, width=width)
        elif tool_output.wants_preview(event.name, event.summary, event.is_error):
            body = tool_output.preview(event.name, event.content, color=self.color, width=width)
        else:
            body = ""
        if body:
            self.write(body)
        self.last_result = (title, event.name, event.content)
        self.recent_results.append(self.last_result)

    def toggle_verbose(self) -> None:
        """Ctrl-O, as in Claude Code: the verbose transcript on (the last results whole, and every
        result whole from now on) or off (previews again)."""
        from agent.repl.tool_output import full_output

        self.verbose = not self.verbose
        if not self.verbose:
            self.info("Verbose transcript off: tool results as previews again (Ctrl-O turns it on).")
            return
        count = len(self.recent_results)
        last = f"; the last {count} tool results:" if count else "; no tool result yet."
        self.info(f"Verbose transcript on: every tool result whole (Ctrl-O turns it off){last}")
        for title, name, content in self.recent_results:
            self.write(full_output(title, name, content, color=self.color))

    def show_last_result(self) -> None:
        """Ctrl-O and /expand: the last tool result, whole."""
        from agent.repl.tool_output import full_output

        if self.last_result is None:
            self.info("No tool result yet: Ctrl-O (or /expand) shows the last one whole.")
            return
        title, name, content = self.last_result
        self.write(full_output(title, name, content, color=self.color))

    def _subagent_progress(self, event: SubagentProgress) -> None:
        """A subagent's event: its live line changes; with the verbose transcript its tool calls print whole."""
        finished = self._subagents.update(event, self._clock())
        inner = event.event
        if finished is not None and self.verbose and isinstance(inner, ToolCallFinished):
            from agent.repl.tool_output import full_output

            name, key = finished
            self.line(f"  ⎿ {event.agent_type}: " + tool_line(name, key, inner.summary, inner.is_error),
                      "red" if inner.is_error else "dim")
            shown = shorten(key, KEY_ARGUMENT_CHARS)
            self.write(full_output(f"{name}({shown})" if shown else name, name, inner.content, color=self.color))
        self._invalidate()

    def _handle_other(self, event: Event) -> None:
        if isinstance(event, SubagentProgress):
            self._subagent_progress(event)
        elif isinstance(event, TurnStarted):
            self._turn = _Turn(self._clock(), event.source)
            self._md = None
        elif isinstance(event, UsageReport):
            if self._turn is not None:
                usage = event.turn_usage
                self._turn.tokens = usage.context_tokens + usage.output_tokens
                self._turn.streamed_chars = 0
        elif isinstance(event, PermissionDenied):
            what = "" if event.domain else " not run"  # a network refusal: the command itself did run
            self.line(f"  {event.name}{what}: {shorten(event.reason, 160)}", "yellow")
            if event.stopped:
                self.info("  Stopped: the model waits for what you type next.")
        elif isinstance(event, RetryNotice):
            if event.discarded_output and self._md is not None:
                self._md.discard_tail()  # the printed parts stay; the retry streams the block again
                self._md = None
                self._prune_live()
            if event.wait_s > 0:
                self.warn(f"{event.reason}: retrying in {event.wait_s:.0f}s (attempt {event.attempt})")
            else:  # said while the retry already streams (its text differs from what was shown)
                self.warn(event.reason)
        elif isinstance(event, Compacted):
            self.info(f"Compacted the conversation: {format_tokens(event.before_tokens)} → "
                      f"{format_tokens(event.after_tokens)} tokens ({event.messages_summarized} messages "
                      "summarised)")
        elif isinstance(event, TurnFinished):
            self._end_turn(event)

    def _end_turn(self, event: TurnFinished) -> None:
        self._flush_stream()
        self._running.clear()
        self._keys.clear()
        self._subagents.clear()
        self._turn = None
        if event.is_error and event.error == CANCELLED:
            self.warn("Interrupted.")
        elif event.is_error:
            self.error(event.error or "The turn failed.")
        self._invalidate()

    def _stream_text(self, delta: str) -> None:
        if self._md is None:
            self._md = MarkdownStream()
            self._live_md.append(self._md)
        for piece in self._md.feed(delta):
            self._print_piece(self._md, piece)

    def _finish_block(self, text: str) -> None:
        if self._md is None and text.strip():  # no deltas came: the whole block at once
            self._md = MarkdownStream(text)
            self._live_md.append(self._md)
        self._flush_stream()

    def _flush_stream(self) -> None:
        """The block ended (or a tool call, a cancel, the turn's end cut it): print what is left of it."""
        md, self._md = self._md, None
        if md is None:
            return
        piece = md.finish()
        if piece is not None:
            self._print_piece(md, piece)
        self._prune_live()

    def _print_piece(self, md: MarkdownStream, piece: Piece) -> None:
        """Print a finished part as Markdown; it stays in the live area until the printed copy is on screen."""
        from agent.repl.rich_fragments import render_ansi

        def shown() -> None:
            md.mark_shown(piece.end)
            self._prune_live()
            self._invalidate()

        text = without_leading_blank_lines(render_ansi(self._markdown(piece.text), self._width(), self.color))
        self.write(("\n" if piece.blank_before else "") + text, then=shown)

    def _prune_live(self) -> None:
        self._live_md = [md for md in self._live_md if not md.finished_on_screen]

    # -- live area --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._turn is not None

    def status_text(self) -> str:
        """The spinner line: `⠙ Thinking… 4s · 1.2k tokens · Ctrl-C to interrupt`."""
        if self._turn is None:
            return ""
        elapsed = self._clock() - self._turn.started
        frame = SPINNER[int(elapsed * 10) % len(SPINNER)]
        if self.waiting:
            verb = "Waiting for your answer"
        elif self._running:
            verb = "Running " + next(iter(self._running.values())).split("(")[0]
        else:
            verb = "Writing" if self._md is not None and self._md.text else "Thinking"
        tokens = self._turn.tokens + self._turn.streamed_chars // 4
        count = f" · {format_tokens(tokens)} tokens" if tokens else ""
        return f"{frame} {verb}… {int(elapsed)}s{count} · Ctrl-C to interrupt"

    def live_fragments(self, width: int | None = None) -> Fragments:
        """The live area above the input line: streaming text, running tools, spinner."""
        width = width or self._width()
        fragments: Fragments = []
        for line in self._live_markdown(width)[-LIVE_LINES:]:
            fragments += [*line, ("", "\n")]
        now = self._clock()
        for tool_use_id, call in self._running.items():
            fragments.append(("fg:ansibrightblack", shorten(f"○ {call} …", width - 1) + "\n"))
            progress = self._subagents.live_line(tool_use_id, now)
            if progress:
                fragments.append(("fg:ansibrightblack", "  " + shorten(progress, width - 3) + "\n"))
        status = self.status_text()
        if status and len(status) >= width:  # narrow: the toolbar says how to interrupt too
            status = status.removesuffix(" · Ctrl-C to interrupt")
        if status:
            fragments.append(("fg:ansicyan", shorten(status, width - 1) + "\n"))
        return fragments

    def _live_markdown(self, width: int) -> list[Fragments]:
        """The unfinished text drawn as Markdown, one fragment list per line (the last drawing is reused)."""
        pieces = [md.live() for md in self._live_md]
        key = (tuple((p.text, p.blank_before) for p in pieces), width, self.color)
        if self._drawn[:1] == (key,):
            return self._drawn[1]

        from agent.repl.rich_fragments import render_lines

        lines: list[Fragments] = []
        for piece in pieces:
            text = close_open_inline(last_lines_for_drawing(piece.text, LIVE_LINES + 2, (LIVE_LINES + 2) * width))
            if text.strip():
                lines += [[]] if piece.blank_before else []
                drawn = render_lines(self._markdown(text), width, self.color)
                while drawn and not "".join(chunk for _, chunk, *_ in drawn[0]).strip():
                    drawn.pop(0)  # the piece's own blank line before it says how it is spaced
                lines += drawn
        self._drawn = (key, lines)
        return lines


__all__ = [
    "Renderer",
    "format_cost",
    "format_duration",
    "format_local_time",
    "format_tokens",
    "format_until",
    "shorten",
    "tool_line",
    "wrap_lines",
]
