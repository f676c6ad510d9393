"""What the faces were shown of one model request's text, so that a retry does not show it twice.

When a streamed response fails part-way (a dropped connection, `event: error`), the model client sends
the whole request again. The text of the failed attempt may already be on the screen, and a terminal
cannot take back what it printed. So the retry's text goes through `ShownText`: while it repeats what
was shown, nothing is emitted; past that, only the new part is. A retry that says something else is
announced with `RetryNotice(discarded_output=True)` (the face drops what of the abandoned text it still
can) and then shown from its start.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.engine.events import Event, RetryNotice, TextBlockDone, TextDelta

BLOCK_END = "\x00"  # a text block's end, in the comparison strings (never in model text the API sends)


class ShownText:
    """Passes an attempt's text deltas and block ends to `emit`, holding back what was already shown."""

    def __init__(self, emit: Callable[[Event], None] | None) -> None:
        self._emit = emit
        self._shown = ""  # what the face shows of this request, block ends included
        self._attempt = ""  # the current attempt's text so far
        self._number = 1
        self._diverged = False

    def new_attempt(self, number: int) -> None:
        self._number = number
        self._attempt = ""
        self._diverged = False

    def delta(self, text: str) -> None:
        self._advance(text, lambda: TextDelta(text))

    def block_done(self, block_text: str) -> None:
        self._advance(BLOCK_END, lambda: TextBlockDone(block_text))

    def _advance(self, piece: str, event: Callable[[], Event]) -> None:
        before = len(self._attempt)
        self._attempt += piece
        if not self._diverged:
            if self._shown.startswith(self._attempt):
                return  # the retry repeats what is on the screen
            if not self._attempt.startswith(self._shown):
                self._restart()
                return
            if before < len(self._shown):  # this piece straddles the end of what was shown
                rest = self._attempt[len(self._shown):]
                self._shown = self._attempt
                if piece != BLOCK_END:
                    self._send(TextDelta(rest))
                    return
        self._shown = self._attempt
        self._send(event())

    def _restart(self) -> None:
        """The retry says something else: drop the abandoned text and show this attempt from its start."""
        self._diverged = True
        self._send(RetryNotice("the retried response differs from the text shown; showing it anew", 0.0,
                               self._number, discarded_output=True))
        *done, current = self._attempt.split(BLOCK_END)
        for block in done:
            if block:
                self._send(TextDelta(block))
            self._send(TextBlockDone(block))
        if current:
            self._send(TextDelta(current))
        self._shown = self._attempt

    def _send(self, event: Event) -> None:
        if self._emit is not None:
            self._emit(event)
