"""The permission question: a small menu in Claude Code's manner that typing cannot answer by accident.

    ? Allow Bash: rm -rf build?
    ❯ 1. Yes
      2. Yes, and don't ask again: allow Bash(rm -rf build:*) for the rest of this session
      3. No, and tell the model what to do instead
      ↑↓ to move · Enter to choose · 1-3 · Esc for no

A question can open at any moment (a scheduled run asks while the user types), so only deliberate keys
answer it: arrows and Enter, a digit, Esc. Letters never do. Keys that arrive within `grace_s` of the
question appearing, or of a key it ignored, are ignored too: someone typing a sentence with an Enter or
a digit in it goes on typing into nothing, and their half-typed line comes back afterwards. Once typing
went into the question, Enter answers only after an arrow key (a late Enter meant "send my message"). Option 3
opens an input line for the instruction the model gets with the refusal. A question of a scheduled run
counts down its time limit (after which the model is told nobody answered) and can delete the schedule.

`QuestionMenu` is the pure state machine (keys and the time in, a `Choice` out); `QuestionBox` holds
the open question inside the prompt, sets the typed text aside and puts it back exactly, with what was
typed into the question meanwhile (and ignored by it) at the cursor: typing is never lost.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prompt_toolkit.document import Document

from agent.repl.fragment_wrap import ansi_lines, wrap_lines
from agent.repl.tool_output import printable

if TYPE_CHECKING:
    from prompt_toolkit.buffer import Buffer

__all__ = ["GRACE_S", "Choice", "Option", "QuestionBox", "QuestionMenu", "permission_options", "permission_title"]

Fragments = list[tuple[str, str]]
GRACE_S = 0.5  # keys this soon after the question appears (or after an ignored key) are ignored

# prompt_toolkit key names -> the menu's
_KEY_NAMES = {"c-m": "enter", "c-j": "enter", "escape": "escape", "up": "up", "down": "down", "left": "left",
              "right": "right", "home": "home", "end": "end", "c-a": "home", "c-e": "end", "c-h": "backspace",
              "delete": "delete", "c-u": "c-u", "pageup": "pageup", "pagedown": "pagedown"}


@dataclass(frozen=True)
class Option:
    answer: str  # "yes" | "always" | "note" | "delete"
    label: str


@dataclass(frozen=True)
class Choice:
    answer: str  # an Option's answer, or "no" (Esc, or an empty instruction)
    note: str = ""  # with "note": what the model should do instead


def permission_options(rule: str | None, task_id: str | None = None) -> list[Option]:
    """The menu for a permission question; `task_id` when a scheduled run asks."""
    options = [Option("yes", "Yes")]
    if rule:
        options.append(Option("always", f"Yes, and don't ask again: allow {rule} for the rest of this session"))
    options.append(Option("note", "No, and tell the model what to do instead"))
    if task_id:
        options.append(Option("delete", f"No, and delete scheduled task {task_id}"))
    return options


def permission_title(tool_name: str, subject: str) -> tuple[str, str]:
    """The question's title and the command shown whole under it: a one-line subject goes in the title
    (`Allow Bash: npm test?`), every line of a longer one below it."""
    lines = [printable(line) for line in subject.strip("\n").split("\n")] if subject.strip() else []
    if not lines:
        return f"Allow {tool_name}?", ""
    if len(lines) == 1:
        return f"Allow {tool_name}: {lines[0]}?", ""
    return f"Allow {tool_name} to run these {len(lines)} lines?", "\n".join(lines)


@dataclass
class QuestionMenu:
    """One question's state. Times are seconds on any monotonic clock, passed in."""

    title: str
    options: list[Option]
    opened_at: float
    detail: str = ""
    body: str = ""  # pre-rendered ANSI text shown between the title and the options (e.g. a diff)
    command: str = ""  # shown whole under the title, one row per line (a multi-line Bash command)
    description: str = ""  # what the model says the call does (Bash's `description`)
    asker: str = ""  # who asks, when it is not the user's own turn ("Scheduled task 1a2b3c4d ...")
    deadline: float | None = None  # no answer by then counts as nobody at the terminal
    grace_s: float = GRACE_S
    cursor: int = 0
    note: str | None = None  # the instruction being typed, once "tell the model" was chosen
    note_cursor: int = 0
    typed_ignored: bool = False  # a key was typed into the question and ignored: say why
    enter_armed: bool = True  # False after typing went into the question, until an arrow key is pressed
    scroll: int = 0  # first row shown of what the question asks about, when it is taller than the room
    page: int = 0  # rows of it shown at the last drawing; 0 when all of it fits
    typed: str = ""  # what was typed into the question and ignored: it goes back on the prompt line
    quiet_until: float = field(init=False)

    def __post_init__(self) -> None:
        self.quiet_until = self.opened_at + self.grace_s

    def press(self, key: str, now: float) -> Choice | None:
        """One key: a name (`enter`, `up`, `escape`, `backspace`, ...) or a typed character."""
        if key in ("pageup", "pagedown"):  # scrolling what is asked about answers nothing: no grace needed
            step = max(1, self.page - 1)
            self.scroll = max(0, self.scroll + (step if key == "pagedown" else -step))
            return None
        if self.note is not None:
            return self._note_key(key)
        if now < self.quiet_until:
            return self._ignore(key, now)
        if key in ("up", "down"):
            self.cursor = max(0, min(len(self.options) - 1, self.cursor + (1 if key == "down" else -1)))
            self.deadline, self.enter_armed = None, True  # someone is here, looking at the menu
            return None
        if key == "enter" and self.enter_armed:
            return self._choose(self.cursor)
        if key == "escape":
            return Choice("no")
        if len(key) == 1 and key.isdigit() and 1 <= int(key) <= len(self.options):
            return self._choose(int(key) - 1)
        return self._ignore(key, now)

    def paste(self, text: str, now: float) -> Choice | None:
        """Pasted text goes into the instruction; it never answers the menu."""
        if self.note is None:
            return self._ignore("paste", now, text)
        self._insert(re.sub(r"\s*[\r\n\t]+\s*", " ", text))  # one line: a newline would not show
        return None

    def seconds_left(self, now: float) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - now)

    def _ignore(self, key: str, now: float, text: str = "") -> None:
        self.quiet_until = now + self.grace_s  # still typing: the next Enter or digit is not an answer either
        if len(key) == 1 and key.isprintable():
            self.typed += key  # it goes back on the prompt line when the question closes
        elif key == "paste":
            self.typed += text
        elif key == "backspace":
            self.typed = self.typed[:-1]
        if len(key) == 1 or key in ("paste", "backspace", "enter"):
            # Someone was typing a message: their next Enter, however late, means "send", not "yes".
            self.typed_ignored, self.enter_armed = True, False
        return None

    def _choose(self, index: int) -> Choice | None:
        self.cursor = index
        answer = self.options[index].answer
        if answer == "note":
            self.note, self.note_cursor, self.deadline = "", 0, None
            return None
        return Choice(answer)

    def _note_key(self, key: str) -> Choice | None:
        note, at = self.note or "", self.note_cursor
        if key == "enter":
            return Choice("note", note.strip()) if note.strip() else Choice("no")
        if key == "escape":
            return Choice("no")
        if key == "backspace" and at:
            self.note, self.note_cursor = note[:at - 1] + note[at:], at - 1
        elif key == "delete":
            self.note = note[:at] + note[at + 1:]
        elif key == "c-u":
            self.note, self.note_cursor = note[at:], 0
        elif key in ("left", "right", "home", "end"):
            moves = {"left": at - 1, "right": at + 1, "home": 0, "end": len(note)}
            self.note_cursor = max(0, min(len(note), moves[key]))
        elif len(key) == 1 and key.isprintable():
            self._insert(key)
        return None

    def _insert(self, text: str) -> None:
        note, at = self.note or "", self.note_cursor
        self.note, self.note_cursor = note[:at] + text + note[at:], at + len(text)

    # -- drawing ----------------------------------------------------------------------------------

    def fragments(self, now: float, width: int | None = None, max_rows: int | None = None) -> Fragments:
        """The question wrapped to `width` (None: not wrapped). When it would take more than `max_rows` rows,
        what it asks about is shown a page at a time (PgUp/PgDn) with a line count; the answers stay in view."""
        content, footer = self._content_lines(), self._footer_lines(now)
        if width is not None:
            content, footer = wrap_lines(content, width, "    "), wrap_lines(footer, width, "     ")
        if max_rows is not None and len(content) + len(footer) > max_rows:
            self.page = max(3, max_rows - len(footer) - 1)
            self.scroll = max(0, min(self.scroll, len(content) - self.page))
            shown = content[self.scroll:self.scroll + self.page]
            status = (f"  lines {self.scroll + 1}-{self.scroll + len(shown)} of {len(content)} · "
                      "PgUp/PgDn to scroll")
            content = [*shown, [("class:question-hint", status)]]
        else:
            self.page, self.scroll = 0, 0
        out: Fragments = []
        for line in content + footer:
            out += [*line, ("", "\n")]
        return out

    def _content_lines(self) -> list[Fragments]:
        """What the question asks about: the title, the whole command, its description, the diff."""
        lines: list[Fragments] = [[("class:question", f"? {self.title}")]]
        lines += [[("class:question-command", f"    {line}")] for line in self.command.split("\n")] \
            if self.command else []
        if self.description:
            lines.append([("class:question-description", f"  {self.description}")])
        if self.detail:
            lines.append([("class:question-detail", f"  {self.detail}")])
        return lines + ansi_lines(self.body)

    def _footer_lines(self, now: float) -> list[Fragments]:
        lines: list[Fragments] = []
        if self.asker:
            lines.append([("class:question-detail", f"  {self.asker}")])
        left = self.seconds_left(now)
        if left is not None:
            lines.append([("class:question-countdown", f"  {math.ceil(left)}s left to answer; then the model "
                                                       "is told nobody was at the terminal")])
        for index, option in enumerate(self.options):
            chosen = index == self.cursor
            style = "class:question-selected" if chosen else "class:question-option"
            label = option.label.split("\n")  # a rule for a multi-line command: its lines one below the other
            lines.append([(style, f"{'❯' if chosen else ' '} {index + 1}. {label[0]}")])
            lines += [[(style, f"     {printable(line)}")] for line in label[1:]]
            if chosen and self.note is not None:
                lines.append(self._note_fragments())
        return lines + self._hint_lines()

    def _note_fragments(self) -> Fragments:
        note, at = self.note or "", self.note_cursor
        under = note[at] if at < len(note) else " "
        return [("", "     › "), ("class:question-input", note[:at]), ("class:question-input reverse", under),
                ("class:question-input", note[at + 1:])]

    def _hint_lines(self) -> list[Fragments]:
        if self.note is not None:
            return [[("class:question-hint", "  Enter to send · Esc for a plain no")]]
        out: list[Fragments] = []
        if self.typed_ignored:
            out.append([("class:hint", "  Typing does not answer this question; your text comes back after it. "
                                       "Choose with ↑↓ and Enter, or a digit.")])
        count = len(self.options)
        out.append([("class:question-hint", f"  ↑↓ to move · Enter to choose · 1-{count} · Esc for no")])
        return out


def with_typed(document: Document, typed: str) -> Document:
    """The line set aside when the question opened, with what was typed meanwhile at its cursor."""
    at = document.cursor_position
    return Document(document.text[:at] + typed + document.text[at:], at + len(typed))


@dataclass
class _Open:
    menu: QuestionMenu
    future: asyncio.Future[Choice]


class QuestionBox:
    """One question at a time inside the prompt, with the typed text set aside meanwhile."""

    def __init__(self, buffer: Callable[[], Buffer | None], invalidate: Callable[[], None], *,
                 clock: Callable[[], float] = time.monotonic, grace_s: float = GRACE_S) -> None:
        self._buffer = buffer
        self._invalidate = invalidate
        self.clock = clock
        self.grace_s = grace_s
        self._open: _Open | None = None

    @property
    def current(self) -> QuestionMenu | None:
        return self._open.menu if self._open is not None else None

    async def ask(self, title: str, options: list[Option], *, detail: str = "", body: str = "", asker: str = "",
                  command: str = "", description: str = "", timeout: float | None = None) -> Choice | None:
        """The choice, or None when `timeout` seconds pass with nobody touching the menu."""
        now = self.clock()
        menu = QuestionMenu(title, options, now, detail=detail, body=body, asker=asker, command=command,
                            description=description, grace_s=self.grace_s,
                            deadline=None if timeout is None else now + timeout)
        question = self._open = _Open(menu, asyncio.get_running_loop().create_future())
        buffer = self._buffer()
        saved = buffer.document if buffer is not None else None
        if buffer is not None:
            buffer.set_document(Document(""), bypass_readonly=True)
        self._invalidate()
        try:
            while True:
                left = menu.seconds_left(self.clock())
                if left is not None and left <= 0:
                    return None
                await asyncio.wait({question.future}, timeout=left)
                if question.future.done():
                    return question.future.result()
        finally:
            self._open = None
            if buffer is not None and saved is not None:
                buffer.set_document(with_typed(saved, menu.typed), bypass_readonly=True)
            self._invalidate()

    def key_press(self, key: str, data: str = "") -> None:
        """A prompt_toolkit key press while the question is up (`key` as in KeyPress.key)."""
        question = self._open
        if question is None or question.future.done():
            return
        name = getattr(key, "value", key)
        if name == "<bracketed-paste>":
            choice = question.menu.paste(data, self.clock())
        else:
            typed = data if len(data) == 1 and data.isprintable() else "other"
            choice = question.menu.press(_KEY_NAMES.get(name, typed), self.clock())
        if choice is not None:
            question.future.set_result(choice)
        self._invalidate()

    def fragments(self, width: int | None = None, max_rows: int | None = None) -> Fragments:
        question = self._open
        return question.menu.fragments(self.clock(), width, max_rows) if question is not None else []
