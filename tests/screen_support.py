"""What a terminal really shows: the chat's raw pty output fed into pyte, a VT100 emulator.

The text-only reader in pty_support sees every byte ever written; this one sees the screen as a person
does, after cursor moves and erases: the rows (`rows()`), the scrollback above them (`history()`), the
cursor. It answers cursor position requests (so prompt_toolkit draws its bottom toolbar) and resizes
the pty and the emulator together. `reflow=True` rewraps lines on resize as tmux, iTerm2, VTE and
kitty do (pyte itself, like xterm, only cuts or pads lines).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pexpect
import pyte
from fake_api import FakeAnthropic, child_env


class Screen(pyte.HistoryScreen):
    """A pyte screen with a scrollback that marks the rows continued by autowrap (`row.wrapped`), as
    terminals do to rewrap them."""

    def __init__(self, columns: int, lines: int, answer: Callable[[str], None]) -> None:
        super().__init__(columns, lines, history=5000, ratio=0.5)
        self._answer = answer

    def write_process_input(self, data: str) -> None:  # pyte's answer to a status request (ESC[6n)
        self._answer(data)

    def draw(self, data: str) -> None:
        for char in data:
            if self.cursor.x == self.columns and pyte.modes.DECAWM in self.mode:
                self.buffer[self.cursor.y].wrapped = True
            super().draw(char)

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        super().erase_in_line(how, private)
        if how in (0, 2):
            self.buffer[self.cursor.y].wrapped = False

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        super().erase_in_display(how, *args, **kwargs)
        rows = range(self.cursor.y, self.lines) if how == 0 else range(self.cursor.y + 1) if how == 1 else \
            range(self.lines)
        for y in rows:
            self.buffer[y].wrapped = False


def wrapped(row: Any) -> bool:
    return getattr(row, "wrapped", False)


class ScreenTerminal:
    """A chat in a pty, its output on a pyte screen sized as the pty."""

    def __init__(self, child: pexpect.spawn, rows: int, cols: int, answer_cpr: bool) -> None:
        self.child = child
        self.raw = ""
        self.screen = Screen(cols, rows, self._answer if answer_cpr else lambda data: None)
        self.stream = pyte.Stream(self.screen)

    def _answer(self, data: str) -> None:
        self.child.send(data)

    def pump(self, timeout: float = 0.05) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF):
            return
        self.raw += data
        self.stream.feed(data)

    def settle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump()

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not happen within {timeout}s; screen:\n" + "\n".join(self.rows()))
            self.pump()

    def wait_for_text(self, pattern: str, timeout: float = 10.0) -> None:
        regex = re.compile(pattern)
        self.wait_for(lambda: bool(regex.search("\n".join(self.rows()))), f"{pattern!r} on screen", timeout)

    def rows(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    def history(self) -> list[str]:
        """The scrollback (rows that scrolled off the top), oldest first."""
        return ["".join(row[x].data for x in range(self.screen.columns)).rstrip() for row in self.screen.history.top]

    def all_lines(self) -> list[str]:
        return self.history() + self.rows()

    def type(self, text: str) -> None:
        self.child.send(text)

    def resize(self, rows: int, cols: int, reflow: bool = False) -> None:
        if reflow:
            _reflow(self.screen, rows, cols)
        else:
            _cut(self.screen, rows, cols)
        self.child.setwinsize(rows, cols)


def _cut(screen: Screen, rows: int, cols: int) -> None:
    """Resize as xterm does: rows beyond the width are cut; fewer rows drop the ones below the cursor
    first, then scroll the top ones into the scrollback (pyte alone would drop the top rows and leave
    the cursor where it was)."""
    scroll = max(0, screen.cursor.y + 1 - rows)
    if scroll:
        y, x = screen.cursor.y, screen.cursor.x
        screen.cursor.y = screen.lines - 1
        for _ in range(scroll):
            screen.index()  # the top row goes into the scrollback
        screen.cursor.y, screen.cursor.x = y - scroll, x
    for y in [y for y in screen.buffer if y >= rows]:
        del screen.buffer[y]
    screen.lines = min(screen.lines, rows)
    screen.resize(rows, cols)


def _reflow(screen: Screen, rows: int, cols: int) -> None:
    """Rewrap the screen's rows (autowrapped ones joined, then cut at the new width), keeping the cursor
    on its character and the bottom of the content at the bottom, as reflowing terminals do."""
    old = [screen.buffer[y] for y in range(screen.lines)]
    cursor_y, cursor_x = screen.cursor.y, screen.cursor.x
    logical: list[tuple[list, int | None]] = []  # (cells, cursor offset within them)
    cells: list = []
    cursor_at: int | None = None
    last_used = max([y for y in range(screen.lines) if any(c.data.strip() for c in old[y].values())] + [cursor_y])
    for y in range(last_used + 1):
        row = old[y]
        width = max([x + 1 for x, c in row.items() if c.data != " " or c.bg != "default"] + [0])
        if y == cursor_y:
            cursor_at = len(cells) + cursor_x
            width = max(width, cursor_x)
        cells += [row[x] for x in range(screen.columns if wrapped(row) else width)]
        if not wrapped(row) or y == last_used:
            logical.append((cells, cursor_at))
            cells, cursor_at = [], None
    new_rows: list[tuple[list, bool]] = []  # (cells, wrapped)
    new_cursor = (0, 0)
    for cells, cursor_at in logical:
        chunks = [cells[i:i + cols] for i in range(0, len(cells), cols)] or [[]]
        if cursor_at is not None:
            new_cursor = (len(new_rows) + cursor_at // cols, cursor_at % cols)
        new_rows += [(chunk, i < len(chunks) - 1) for i, chunk in enumerate(chunks)]
    new_rows = new_rows[:max(rows, new_cursor[0] + 1)]  # rows below the cursor that no longer fit go first
    overflow = max(0, max(len(new_rows), new_cursor[0] + 1) - rows)
    for cells, _ in new_rows[:overflow]:  # pushed into the scrollback
        row = screen.buffer.default_factory()
        row.update(enumerate(cells))
        screen.history.top.append(row)
    new_rows = new_rows[overflow:]
    screen.buffer.clear()
    screen.lines, screen.columns = rows, cols
    for y, (cells, is_wrapped) in enumerate(new_rows):
        screen.buffer[y].update(enumerate(cells))
        screen.buffer[y].wrapped = is_wrapped
    screen.set_margins()
    screen.dirty.update(range(rows))
    screen.cursor.y, screen.cursor.x = max(0, new_cursor[0] - overflow), new_cursor[1]


def spawn_screen(fake_api: FakeAnthropic, home: Path, project: Path, *args: str, rows: int = 30, cols: int = 100,
                 answer_cpr: bool = True, **env_overrides: str) -> ScreenTerminal:
    """`python -m agent` in `project` on a fresh (just cleared) `rows` x `cols` screen."""
    env = child_env(fake_api, home, TERM="xterm-256color", **env_overrides)
    env.pop("PROMPT_TOOLKIT_NO_CPR", None)
    if not answer_cpr:
        env["PROMPT_TOOLKIT_NO_CPR"] = "1"
    child = pexpect.spawn(sys.executable, ["-m", "agent", "--cwd", str(project), *args], env=env, cwd=str(project),
                          dimensions=(rows, cols), encoding="utf-8", codec_errors="replace", timeout=15)
    return ScreenTerminal(child, rows, cols, answer_cpr)
