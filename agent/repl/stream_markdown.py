"""Markdown that streams: finished blocks go to the scrollback at once, only the unfinished tail stays live.

A reply arrives in small deltas. `MarkdownStream` keeps the text of one block and cuts it, as it grows,
into pieces that can no longer change: a paragraph once a blank line or the next block follows it, a
heading once its line is complete, a fenced code block once its closing fence is, a list item once the
next item has started. Those pieces are printed to the scrollback as Markdown; the rest (the tail) is drawn in the
live area, with its unclosed `**`, `` ` `` and `~~` closed for the drawing (`close_open_inline`) so no
raw marker flashes on the screen. The pieces and the tail always add up to the whole text, so nothing
is shown twice or lost.

Only complete lines are parsed: CommonMark's block parser never reopens a block it has closed, so a
block followed by the start of another (on a complete line) is final. markdown-it-py (rich's own
Markdown parser) is imported on first use, never at start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

SELF_ENDING = ("heading_open", "hr")  # blocks that are final as soon as their line is complete
ENDED_BY_BLANK_LINE = ("paragraph_open", "blockquote_open", "table_open")  # (lists and code go on after one)
INLINE_MARK = re.compile(r"\\.|`+|\*+|~~")
BLOCK_START = re.compile(r"^ {0,3}(?:#{1,6}(?:\s|$)|[-*+]\s|\d{1,9}[.)]\s|>)")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
BARE_HEADING = re.compile(r"(?:^|\n) {0,3}#{1,6}[ \t]*$")  # `##` typed, its words not yet

_parser: Any = None


def _parse(text: str) -> list[Any]:
    global _parser  # one parser for the process: building it costs more than a parse
    if _parser is None:
        from markdown_it import MarkdownIt

        # as rich.markdown parses, minus the inline pass: only the block structure matters here
        _parser = MarkdownIt().enable("strikethrough").enable("table").disable("inline")
    return _parser.parse(text)


@dataclass(frozen=True)
class Boundary:
    offset: int  # where a finished piece ends in the text given
    blank_before: bool  # the next piece is printed after a blank line (not after a rule, nor within a list)


def find_boundaries(text: str) -> list[Boundary]:
    """The ends of the finished pieces of `text` (which starts at a block boundary), in order."""
    end = text.rfind("\n") + 1
    if end == 0:
        return []
    lines = text[:end].split("\n")[:-1]
    if _starts_with_open_fence(lines):
        return []  # nothing ends inside a code fence: skip the parse, the costly part of a long one
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    tokens = _parse(text[:end])
    blocks = [t for t in tokens if t.level == 0 and t.nesting >= 0 and t.map]
    if not blocks:
        return []
    found = [Boundary(starts[nxt.map[0]], prev.type != "hr") for prev, nxt in pairwise(blocks)]
    last = blocks[-1]
    if last.type in ("bullet_list_open", "ordered_list_open"):
        items = [t for t in tokens if t.type == "list_item_open" and t.level == 1 and t.map[0] >= last.map[0]]
        found += [Boundary(starts[item.map[0]], False) for item in items[1:]]
    elif (last.type in SELF_ENDING or _is_closed_fence(last, lines)
          or (last.type in ENDED_BY_BLANK_LINE and last.map[1] < len(lines))):  # blank lines after it
        found.append(Boundary(starts[last.map[1]], last.type != "hr"))
    return [b for b in found if b.offset > 0]


def _starts_with_open_fence(lines: list[str]) -> bool:
    """Whether the first block is a code fence still open at the last of `lines`."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    opening = FENCE.match(lines[first]) if first is not None else None
    if first is None or opening is None:
        return False
    return not any(_closes(line, opening.group(1)) for line in lines[first + 1:])


def _closes(line: str, fence: str) -> bool:
    """Whether `line` closes a code fence opened with `fence` (the same character, at least as many)."""
    return line.strip().startswith(fence) and set(line.strip()) == {fence[0]}


def _is_closed_fence(token: Any, lines: list[str]) -> bool:
    if token.type != "fence" or token.map[1] - token.map[0] < 2:
        return False
    closing = lines[token.map[1] - 1].strip()
    return len(closing) >= len(token.markup) and set(closing) == {token.markup[0]}


@dataclass(frozen=True)
class Piece:
    text: str
    end: int  # offset in the block's text just after this piece
    blank_before: bool


@dataclass
class MarkdownStream:
    """One text block while it streams: what is printed (`committed`), what is on the screen (`shown`)."""

    text: str = ""
    committed: int = 0  # text[:committed] has been handed to the transcript
    shown: int = 0  # text[:shown] is on the screen, so the live area starts there
    done: bool = False  # the block ended: everything is committed
    _blank_at: dict[int, bool] = field(default_factory=lambda: {0: False})
    _printed_any: bool = False

    def feed(self, delta: str) -> list[Piece]:
        """Add streamed text; the pieces that just became final, to print in order."""
        self.text += delta
        pieces: list[Piece] = []
        base = self.committed
        for boundary in find_boundaries(self.text[base:]):
            piece = self._cut(base + boundary.offset, boundary.blank_before)
            if piece is not None:
                pieces.append(piece)
        return pieces

    def finish(self) -> Piece | None:
        """The block ended: the rest is final too (None when it is only blank)."""
        self.done = True
        return self._cut(len(self.text), False)

    def discard_tail(self) -> None:
        """Forget what is not printed yet (a retry will stream it again)."""
        self.text = self.text[:self.committed]
        self.done = True

    def _cut(self, end: int, next_blank: bool) -> Piece | None:
        start = self.committed
        if end <= start:
            return None
        text = self.text[start:end]
        self.committed = end
        if not text.strip():  # blank lines between blocks: nothing to print, nothing changes
            self._blank_at[end] = self._blank_at.get(start, True)
            if self.shown == start:
                self.shown = end
            return None
        blank = self._blank_at.get(start, True) and self._printed_any
        self._blank_at[end] = next_blank
        self._printed_any = True
        return Piece(text, end, blank)

    def mark_shown(self, end: int) -> None:
        """The printed copy of text[:end] is on the screen: the live area no longer shows it."""
        self.shown = max(self.shown, end)

    def live(self) -> Piece:
        """What the live area shows: the text from `shown` on (printed but not yet on screen, and the tail)."""
        blank = self._blank_at.get(self.shown, True) and self._printed_any and self.shown > 0
        return Piece(self.text[self.shown:], len(self.text), blank)

    @property
    def finished_on_screen(self) -> bool:
        return self.done and not self.text[self.shown:].strip()


def close_open_inline(text: str) -> str:
    """`text` for drawing while it streams: a trailing partial marker dropped, open spans closed.

    `Hello **wor` draws as `Hello **wor**` (bold, no stars), `Hello **` as `Hello `, `## ` alone as
    nothing; text inside an unclosed code fence is left as it is (it is drawn as code).
    """
    if _inside_open_fence(text):
        return text
    text = BARE_HEADING.sub("", text) if not text.endswith("\n") else text
    start = _last_paragraph_start(text)
    head, para = text[:start], text[start:]
    opened: list[tuple[str, int]] = []  # (marker, position in para)
    trailing: tuple[str, int] | None = None
    for match in INLINE_MARK.finditer(para):
        mark, pos = match.group(), match.start()
        if mark.startswith("\\"):
            continue
        in_code = bool(opened) and opened[-1][0].startswith("`")
        if in_code and mark != opened[-1][0]:
            continue
        if opened and opened[-1][0] == mark and pos > 0 and not para[pos - 1].isspace():
            opened.pop()
        elif match.end() == len(para):
            trailing = (mark, pos)  # being typed: `**` with nothing after it yet
        elif not para[match.end()].isspace():
            opened.append((mark, pos))
    if trailing is not None:
        para = para[:trailing[1]]
    for mark, pos in reversed(opened):  # close a span that has words in it; drop an opener alone at the end
        para = para.rstrip() + mark if para[pos + len(mark):].strip() else para[:pos]
    return head + para


def last_lines_for_drawing(text: str, max_lines: int, max_chars: int) -> str:
    """The end of a long unfinished block, enough to draw its last `max_lines` lines: drawing costs
    grow with the text and the live area shows only its end. Cut at a line, or in one long line at a
    word; an open fence keeps its first line (the end is still drawn as code, in its language)."""
    lines = text.split("\n")
    if len(lines) <= max_lines and len(text) <= max_chars:
        return text
    opener = _open_fence_line(text)
    end = "\n".join(lines[-max_lines:])
    if len(end) > max_chars:
        end = end[-max_chars:]
        end = end[end.find(" ") + 1:] if " " in end[:40] else end
    return f"{opener}\n{end}" if opener is not None and not end.startswith(opener) else end


def _inside_open_fence(text: str) -> bool:
    return _open_fence_line(text) is not None


def _open_fence_line(text: str) -> str | None:
    """The opening line of a code fence that `text` leaves open, if any."""
    opener: str | None = None
    fence = ""
    for line in text.split("\n"):
        match = FENCE.match(line)
        if not match:
            continue
        if not fence:
            fence, opener = match.group(1), line
        elif _closes(line, fence):
            fence, opener = "", None
    return opener


def _last_paragraph_start(text: str) -> int:
    """Where the last paragraph-like run of lines begins (inline spans never cross it)."""
    position, start = 0, 0
    for line in text.split("\n"):
        if not line.strip() or BLOCK_START.match(line) or FENCE.match(line):
            start = position if line.strip() else position + len(line) + 1
        position += len(line) + 1
    return min(start, len(text))


__all__ = ["Boundary", "MarkdownStream", "Piece", "close_open_inline", "find_boundaries", "last_lines_for_drawing"]
