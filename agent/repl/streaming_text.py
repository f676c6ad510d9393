"""The text blocks being streamed, Markdown from the first delta on: printed part by part, the rest drawn live.

Each part of a block that can no longer change (a paragraph, a heading, a closed code fence, a list
item; see stream_markdown) is printed to the transcript as Markdown as soon as it is complete, and the
live area draws only the rest, rendered too. A printed part leaves the live area in the same step
(the sink's `then`, once the printed copy is on the screen), so no line is shown twice or lost.

Apart from the renderer because this bookkeeping is one job with its own state: the open block, the
blocks with text not yet on the screen as printed Markdown, and the last live drawing (reused while
nothing changed). The renderer gives it how to write and how to render Markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.repl.stream_markdown import MarkdownStream, Piece, close_open_inline, last_lines_for_drawing

Fragments = list[tuple[str, str]]
Write = Callable[[str, "Callable[[], None] | None"], None]

LIVE_LINES = 12  # the most lines of a streaming block's unfinished end drawn above the input line


class StreamingText:
    """`write(text, then)` puts text in the transcript; `markdown_ansi(text)` renders Markdown as ANSI text
    for it; `markdown_lines(text, width)` renders Markdown as fragment lines for the live area;
    `invalidate()` asks for a redraw of the live area."""

    def __init__(self, write: Write, invalidate: Callable[[], None], markdown_ansi: Callable[[str], str],
                 markdown_lines: Callable[[str, int], list[Fragments]]) -> None:
        self._write = write
        self._invalidate = invalidate
        self._markdown_ansi = markdown_ansi
        self._markdown_lines = markdown_lines
        self._md: MarkdownStream | None = None  # the text block being streamed
        self._live_md: list[MarkdownStream] = []  # blocks with text not yet on the screen as printed Markdown
        self._drawn: tuple[Any, ...] = ()  # (what, width, colour), lines: the last live Markdown drawing

    @property
    def writing(self) -> bool:
        """The open block has text (the spinner says Writing, not Thinking)."""
        return self._md is not None and bool(self._md.text)

    def turn_started(self) -> None:
        """A new turn streams into a new block."""
        self._md = None

    def feed(self, delta: str) -> None:
        if self._md is None:
            self._md = MarkdownStream()
            self._live_md.append(self._md)
        for piece in self._md.feed(delta):
            self._print_piece(self._md, piece)

    def finish_block(self, text: str) -> None:
        if self._md is None and text.strip():  # no deltas came: the whole block at once
            self._md = MarkdownStream(text)
            self._live_md.append(self._md)
        self.flush()

    def flush(self) -> None:
        """The block ended (or a tool call, a cancel, the turn's end cut it): print what is left of it."""
        md, self._md = self._md, None
        if md is None:
            return
        piece = md.finish()
        if piece is not None:
            self._print_piece(md, piece)
        self._prune_live()

    def discard_tail(self) -> None:
        """A retry streams the block again: the printed parts stay, the unprinted rest goes."""
        if self._md is not None:
            self._md.discard_tail()
            self._md = None
            self._prune_live()

    def _print_piece(self, md: MarkdownStream, piece: Piece) -> None:
        """Print a finished part as Markdown; it stays in the live area until the printed copy is on screen."""

        def shown() -> None:
            md.mark_shown(piece.end)
            self._prune_live()
            self._invalidate()

        text = self._markdown_ansi(piece.text)
        self._write(("\n" if piece.blank_before else "") + text, shown)

    def _prune_live(self) -> None:
        self._live_md = [md for md in self._live_md if not md.finished_on_screen]

    def live_lines(self, width: int, color: bool) -> list[Fragments]:
        """The unfinished text drawn as Markdown, its last LIVE_LINES lines, one fragment list per line
        (the last drawing is reused while the text, the width and the colour stay the same)."""
        return self._live_markdown(width, color)[-LIVE_LINES:]

    def _live_markdown(self, width: int, color: bool) -> list[Fragments]:
        pieces = [md.live() for md in self._live_md]
        key = (tuple((p.text, p.blank_before) for p in pieces), width, color)
        if self._drawn[:1] == (key,):
            return self._drawn[1]
        lines: list[Fragments] = []
        for piece in pieces:
            text = close_open_inline(last_lines_for_drawing(piece.text, LIVE_LINES + 2, (LIVE_LINES + 2) * width))
            if text.strip():
                lines += [[]] if piece.blank_before else []
                drawn = self._markdown_lines(text, width)
                while drawn and not "".join(chunk for _, chunk, *_ in drawn[0]).strip():
                    drawn.pop(0)  # the piece's own blank line before it says how it is spaced
                lines += drawn
        self._drawn = (key, lines)
        return lines


__all__ = ["LIVE_LINES", "StreamingText"]
