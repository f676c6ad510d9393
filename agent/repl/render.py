"""The one renderer: every line the REPL shows goes through `Renderer`.

It turns conversation events into terminal output: streamed text, finished text blocks as Markdown,
one compact line per tool call, warnings and errors. It owns two kinds of output:

- the transcript, printed once and scrolled above the prompt, written through `sink(text, then)`
  (the REPL's sink prints above the prompt without corrupting it; tests pass a list);
- the live area, redrawn above the input line on every change: the unfinished end of the streaming
  text block, tools that are running and the spinner. `live_fragments()` returns it as prompt_toolkit
  style fragments, `(style, text)` tuples, so this module never imports prompt_toolkit.

The renderer keeps the turn's state and routes each event; its helpers own the rest: formatting (how
a call, a duration, a token count is written), streaming_text (a streaming block printed part by part
as Markdown, the rest drawn live) and live_area (the running calls and the spinner line). rich is
imported on first use, not at start-up: the REPL's prompt must appear before the heavy imports are done.
"""

from __future__ import annotations

import io
import re
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
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
from agent.repl.formatting import (
    call_title,
    format_local_time,
    format_tokens,
    shorten,
    tool_line,
    without_leading_blank_lines,
)
from agent.repl.live_area import TurnProgress, live_fragments, spinner_verb, status_line
from agent.repl.streaming_text import StreamingText
from agent.repl.subagent_lines import SubagentLines

Sink = Callable[[str, "Callable[[], None] | None"], None]
Fragments = list[tuple[str, str]]

VERBOSE_RESULTS = 20  # tool results Ctrl-O shows whole when it turns the verbose transcript on
CANCELLED = "cancelled by the user"
TRAILING_SPACES = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)  # spaces before any closing styles
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
        self._stream = StreamingText(self.write, invalidate, self._markdown_ansi, self._markdown_lines)
        self._running: dict[str, str] = {}  # tool_use_id -> "Name(key)" while the call runs
        self._keys: dict[str, str] = {}  # tool_use_id -> key argument
        self._subagents = SubagentLines(format_tokens)  # a live line under each running Task call
        self._turn: TurnProgress | None = None
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
        self.write(self._markdown_ansi(text), then)

    def _markdown(self, text: str) -> Any:
        from agent.repl.markdown_style import ChatMarkdown

        return ChatMarkdown(text, hyperlinks=self.hyperlinks)

    def _markdown_ansi(self, text: str) -> str:
        """Markdown as ANSI text for the transcript, at the terminal's width."""
        from agent.repl.rich_fragments import render_ansi

        return without_leading_blank_lines(render_ansi(self._markdown(text), self._width(), self.color))

    def _markdown_lines(self, text: str, width: int) -> list[Fragments]:
        """Markdown as fragment lines for the live area."""
        from agent.repl.rich_fragments import render_lines

        return render_lines(self._markdown(text), width, self.color)

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
            self._stream.feed(event.text)
            if self._turn is not None:
                self._turn.streamed_chars += len(event.text)
            self._invalidate()
        elif isinstance(event, TextBlockDone):
            self._stream.finish_block(event.text)
        elif isinstance(event, ToolCallStarted):
            self._stream.flush()
            self._keys[event.tool_use_id] = event.key_argument
            self._running[event.tool_use_id] = call_title(event.name, event.key_argument)
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
        title = call_title(event.name, key)
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
            self.write(full_output(call_title(name, key), name, inner.content, color=self.color))
        self._invalidate()

    def _handle_other(self, event: Event) -> None:
        if isinstance(event, SubagentProgress):
            self._subagent_progress(event)
        elif isinstance(event, TurnStarted):
            self._turn = TurnProgress(self._clock(), event.source)
            self._stream.turn_started()
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
            if event.discarded_output:
                self._stream.discard_tail()
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
        self._stream.flush()
        self._running.clear()
        self._keys.clear()
        self._subagents.clear()
        self._turn = None
        if event.is_error and event.error == CANCELLED:
            self.warn("Interrupted.")
        elif event.is_error:
            self.error(event.error or "The turn failed.")
        self._invalidate()

    # -- live area --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._turn is not None

    def status_text(self) -> str:
        """The spinner line: `⠙ Thinking… 4s · 1.2k tokens · Ctrl-C to interrupt`."""
        if self._turn is None:
            return ""
        now = self._clock()
        running_call = next(iter(self._running.values()), None)
        verb = spinner_verb(waiting=self.waiting, running_call=running_call, writing=self._stream.writing)
        return status_line(self._turn, now, verb)

    def live_fragments(self, width: int | None = None) -> Fragments:
        """The live area above the input line: streaming text, running tools, spinner."""
        width = width or self._width()
        text_lines = self._stream.live_lines(width, self.color)
        now = self._clock()

        def subagent_line(tool_use_id: str) -> str | None:
            return self._subagents.live_line(tool_use_id, now)

        return live_fragments(text_lines, self._running, subagent_line, self.status_text(), width)


__all__ = ["Renderer", "shorten", "terminal_has_hyperlinks"]  # shorten: for app.py, which imports it from here
