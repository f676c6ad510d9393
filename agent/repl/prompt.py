"""The prompt_toolkit side of the REPL: the input line, its keys, toolbar, completion and questions.

The prompt stays up all the time, turns included, so the user can type while the model works. Three
things make that safe:

- transcript output goes through `TerminalSink`, which erases the prompt, writes the ANSI text and
  draws the prompt again below it, so colours survive and the half-typed line comes back as it was
  (what `patch_stdout(raw=True)` does through `run_in_terminal`, minus its writer thread, its 0.2 s
  batching and its switch to cooked mode, during which a Ctrl-C or Ctrl-D would be lost);
- the live area (streaming text, running tools, spinner) is part of the prompt message, redrawn in
  place, and left out of the final render of an accepted line so it never lands in the scrollback;
- a permission question is asked inside the same prompt as a small menu (`agent.repl.question`): the
  typed text is set aside and put back exactly afterwards, and while the question is up every key goes
  to the menu, where letters never answer and keys typed right as it appears are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.application.current import get_app_or_none
from prompt_toolkit.completion import Completer, Completion, ThreadedCompleter, merge_completers
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import FileHistory, History, InMemoryHistory, ThreadedHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.keys import Keys
from prompt_toolkit.styles import Style

from agent.repl.file_mentions import FileMentionCompleter
from agent.repl.formatting import format_until, shorten
from agent.repl.keys import add_chat_keys, mode_indicator, set_key_timeouts
from agent.settings import state_dir
from agent.settings.private import private_file

if TYPE_CHECKING:
    from pathlib import Path

    from prompt_toolkit.buffer import Buffer
    from prompt_toolkit.key_binding import KeyPressEvent

    from agent.cron.scheduler import CronScheduler
    from agent.engine.queue import CommandQueue
    from agent.repl.commands.base import SessionStats
    from agent.repl.question import QuestionBox
    from agent.repl.render import Renderer

Fragments = list[tuple[str, str]]
COMMAND_WORD = re.compile(r"/[A-Za-z][\w:-]*")  # `:` for namespaced custom commands
EXIT_CONFIRM_S = 2.0  # a second Ctrl-C on an empty line within this time exits
# The toolbar counts down in seconds only in the last minutes before a fire: the idle chat redraws only
# when the shown text changes, and a redraw every second is most of what an idle chat costs.
SECONDS_SHOWN_WITHIN_MS = 5 * 60_000

STYLE = Style.from_dict({
    # Only the text is coloured: styled blank cells would be written to the row's end, and a terminal that
    # rewraps on resize (tmux, VTE, iTerm2) would turn that full-width row into several (reflow.py).
    "bottom-toolbar": "noreverse",
    "toolbar-text": "fg:ansibrightblack",
    "hint": "fg:ansiyellow",
    "prompt": "bold",
    "question": "fg:ansiyellow bold",
    # `-` not `.`: a dotted class would inherit the title's yellow bold
    "question-detail": "fg:ansiyellow",
    "question-command": "bold",
    "question-description": "fg:ansibrightblack",
    "question-option": "",
    "question-selected": "fg:ansicyan bold",
    "question-countdown": "fg:ansiyellow",
    "question-hint": "fg:ansibrightblack",
    "question-input": "bold",
})


class PromptHost(Protocol):
    """What the prompt line reads from the chat application (`agent.repl.app.Repl` is the one host)."""

    project: Path
    questions: QuestionBox
    renderer: Renderer
    queue: CommandQueue
    scheduler: CronScheduler | None
    model_name: str | None
    last_ctrl_c: float
    stats: SessionStats

    @property
    def ready(self) -> bool: ...

    @property
    def turn_running(self) -> bool: ...

    def is_busy(self) -> bool: ...

    def may_exit_on_ctrl_d(self) -> bool: ...

    def command_summaries(self) -> list[tuple[str, str]]: ...

    def on_ctrl_c(self, buffer: Buffer) -> None: ...

    def interrupt(self) -> None: ...

    def permission_mode(self) -> str | None: ...

    def set_permission_mode(self, mode: str) -> bool: ...


def make_history(env: Mapping[str, str]) -> History:
    """Persistent history in the state folder; in memory when that folder cannot be made."""
    folder = state_dir(env)
    try:
        path = private_file(folder / "history")  # what you typed: yours alone
        return ThreadedHistory(FileHistory(str(path)))  # read off the event loop
    except OSError:
        return InMemoryHistory()


def is_command_line(text: str) -> bool:
    """`/loop 5m x` is a command; `/usr/bin is odd` (a path) and `// note` are prompts."""
    word = text.strip().split(None, 1)[0] if text.strip() else ""
    return bool(COMMAND_WORD.fullmatch(word))


class SlashCompleter(Completer):
    """Completes the command name while the line is just `/partial`."""

    def __init__(self, commands: Callable[[], Iterable[tuple[str, str]]]) -> None:
        self._commands = commands  # (name, summary) pairs

    def get_completions(self, document: Document, complete_event: Any) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or " " in text or "\n" in text:
            return
        for name, summary in self._commands():
            if name.startswith(text[1:].lower()):
                yield Completion("/" + name, start_position=-len(text), display_meta=summary)


class TerminalSink:
    """Writes transcript text above the prompt; writes made in one loop iteration go out together."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending: list[tuple[str, Callable[[], None] | None]] = []
        self._scheduled = False

    def __call__(self, text: str, then: Callable[[], None] | None = None) -> None:
        self._pending.append((text, then))
        app = get_app_or_none()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (start-up, shutdown): write straight away
            self._write_pending()
            return
        if not self._scheduled and (app is None or not app.is_running):
            # Before the prompt's first draw (the banner): write now, so the prompt is drawn below it and
            # sizes itself from where the cursor really is, not from a position report asked before.
            self._write_pending()
            return
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        app = get_app_or_none()
        if app is None or not app.is_running:
            self._write_pending()
        elif app.is_done:  # an accepted line is being drawn for the last time: write after it
            self._scheduled = True
            asyncio.get_running_loop().call_later(0.01, self._flush)
        else:
            # Like run_in_terminal, minus its switch to cooked mode: keys typed meanwhile (Ctrl-C,
            # Ctrl-D) still reach the prompt instead of the tty's line discipline.
            app.renderer.erase()
            self._write_pending()
            app.renderer.request_absolute_cursor_position()
            app.invalidate()

    def _write_pending(self) -> None:
        items, self._pending = self._pending, []
        try:
            self._stream.write("".join(text for text, _ in items))
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: nothing to show it on
            pass
        finally:
            for _, then in items:
                if then is not None:
                    then()


def build_prompt_session(repl: PromptHost, history: History) -> PromptSession:
    question_up = Condition(lambda: repl.questions.current is not None)

    def message() -> Fragments:
        app = get_app_or_none()
        if app is not None and app.is_done:  # the accepted line goes to the scrollback without the live area
            return [("class:prompt", "> ")]
        size = app.output.get_size() if app is not None else None
        width, rows = (size.columns, size.rows) if size is not None else (80, 24)
        todos, live, hint = todo_fragments(repl, width), repl.renderer.live_fragments(width), hint_fragments(repl)
        used = sum(text.count("\n") for _, text, *_ in todos + live + hint) + 2  # the input line and the toolbar
        question = repl.questions.fragments(width, max_rows=max(6, rows - used - 1))
        return [*todos, *live, *question, *hint, ("class:prompt", "> ")]

    files = ThreadedCompleter(FileMentionCompleter(repl.project))  # `@path`; walks off the event loop
    session: PromptSession = PromptSession(
        message=message,
        history=history,
        completer=merge_completers([SlashCompleter(repl.command_summaries), files]),
        complete_while_typing=~question_up,  # its menu would reserve rows the question needs
        key_bindings=_key_bindings(repl, question_up),
        bottom_toolbar=lambda: toolbar_fragments(repl),
        prompt_continuation=lambda width, line_number, is_soft_wrap: "  ",
        style=STYLE,
        include_default_pygments_style=False,
        reserve_space_for_menu=4,
        erase_when_done=False,
        enable_suspend=True,
    )
    set_key_timeouts(session.app)
    return session


def todo_fragments(repl: PromptHost, width: int) -> Fragments:
    """The model's todo list (TodoWrite), drawn above the live area while a turn runs."""
    session = getattr(repl, "session", None)
    board = getattr(getattr(session, "ctx", None), "todos", None)
    if board is None or not board.items or not repl.turn_running:
        return []
    from agent.tools.todos import render_todos

    styles = {"completed": "fg:ansibrightblack strike", "in_progress": "bold", "pending": ""}
    return [(styles.get(item.get("status", ""), ""), "  " + shorten(line, width - 3) + "\n")
            for item, line in zip(board.items, render_todos(board.items), strict=True)]


def hint_fragments(repl: PromptHost) -> Fragments:
    """A one-line hint above the input line, when there is something to say."""
    if time.monotonic() - repl.last_ctrl_c < EXIT_CONFIRM_S and not repl.is_busy():
        return [("class:hint", "Press Ctrl-C again to exit\n")]
    if repl.queue and not repl.ready:
        return [("class:hint", "Starting up…\n")]
    return []


def toolbar_fragments(repl: PromptHost) -> Fragments:
    """`claude-sonnet-4-6 · next: 3f9a12c0 in 4m 10s · queue: 1 · Ctrl-C to interrupt`."""
    parts = [repl.model_name or "starting…"]
    if mode := mode_indicator(repl.permission_mode()):
        parts.append(f"{mode} (shift+tab to cycle)")
    nxt = repl.scheduler.next_fire_time() if repl.scheduler is not None else None
    if nxt is not None:
        now_ms = time.time_ns() // 1_000_000
        units = 2 if nxt[1] - now_ms < SECONDS_SHOWN_WITHIN_MS else 1  # `in 9m`, then `in 4m 59s`
        parts.append(f"next: {nxt[0].id} {format_until(nxt[1], now_ms, units)}")
    if repl.queue:
        parts.append(f"queue: {len(repl.queue)}")
    stats = getattr(repl, "stats", None)  # hosts without session statistics show no context warning
    if stats is not None and (left := context_left_percent(stats.context_tokens, stats.context_window)):
        parts.append(left)
    if repl.questions.current is not None:
        parts.append("↑↓ Enter to answer · Esc for no")
    else:
        parts.append("Ctrl-C to interrupt" if repl.turn_running else "/help")
    return [("class:toolbar-text", " " + " · ".join(parts))]


def context_left_percent(tokens: int, window: int, under: float = 0.2) -> str:
    """`context left: 12% (/compact)` once less than `under` of the model's context window is left."""
    if window <= 0:
        return ""
    left = max(0.0, 1 - tokens / window)
    return f"context left: {int(left * 100)}% (/compact)" if left < under else ""


def _key_bindings(repl: PromptHost, question_up: Condition) -> KeyBindings:
    kb = KeyBindings()
    add_chat_keys(kb, repl, question_up)  # Esc interrupts, Shift-Tab cycles the permission mode

    @kb.add("enter", filter=~question_up)
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.apply_completion(state.current_completion)
            return
        if buffer.document.text_before_cursor.endswith("\\") and buffer.document.is_cursor_at_the_end:
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")  # a trailing backslash continues the input on a new line
            return
        buffer.validate_and_handle()

    @kb.add("escape", "enter", filter=~question_up)
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("c-c")
    @kb.add("<sigint>")  # Ctrl-C that arrived as a signal (the terminal was in cooked mode)
    def _ctrl_c(event: KeyPressEvent) -> None:
        repl.on_ctrl_c(event.current_buffer)

    @kb.add("c-d")
    def _ctrl_d(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if question_up():
            return
        if buffer.text:
            buffer.delete()
        elif repl.may_exit_on_ctrl_d():  # the first press warns when session loops would stop
            event.app.exit(exception=EOFError)

    @kb.add("c-o", filter=~question_up)
    def _expand(event: KeyPressEvent) -> None:
        """Ctrl-O, as in Claude Code: the verbose transcript on or off (tool results whole)."""
        repl.renderer.toggle_verbose()

    @kb.add("<any>", filter=question_up)
    @kb.add(Keys.BracketedPaste, filter=question_up)
    @kb.add("escape", filter=question_up, eager=True)
    @kb.add("tab", filter=question_up)
    @kb.add("enter", filter=question_up)
    def _question_key(event: KeyPressEvent) -> None:
        """While a question is up every key goes to it (the typed text is set aside meanwhile)."""
        repl.questions.key_press(event.key_sequence[0].key, event.data)

    for key in ("up", "down", "left", "right", "home", "end", "c-a", "c-e", "backspace", "delete", "c-u",
                "pageup", "pagedown"):
        kb.add(key, filter=question_up)(_question_key)

    return kb


def terminal_supports_color(stream: TextIO, env: Mapping[str, str] = os.environ) -> bool:
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    with contextlib.suppress(AttributeError, ValueError):
        return stream.isatty()
    return False
