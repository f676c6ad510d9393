"""Grep's matcher: RE2 patterns over files streamed in blocks.

RE2 matches in time linear in the text, so a pattern like `(a+)+$` cannot hang the agent on a long line,
and its syntax is close to ripgrep's, which the model expects. A pattern RE2 rejects (look-around,
backreferences) is an error that says so, as ripgrep's is without `-P`: no slower engine is tried.

Files are read in blocks of whole lines: memory is bounded by the block size and the longest line kept
(`MAX_LINE_BYTES`), not by the file or the number of matches. A block the pattern does not match at
all is skipped with one RE2 call; only blocks with a match are searched line by line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import re2

from agent.tools.base import ToolError

BLOCK_BYTES = 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024  # a longer line is searched and shown in its first MiB only
MAX_CONTEXT_LINES = 1000  # -A/-B/-C above this are clamped


@dataclass(frozen=True)
class Matcher:
    line: re2._Regexp  # searched against one line, its line ending removed
    block: re2._Regexp | None  # the same in multi-line mode, to skip blocks without a match; None: never skip


def compile_matcher(pattern: str, ignore_case: bool = False) -> Matcher:
    """The pattern compiled by RE2, or a ToolError naming what RE2 rejected."""
    options = re2.Options()
    options.log_errors = False  # RE2 would write to the terminal
    options.never_nl = True  # a match never spans lines, as in ripgrep
    options.case_sensitive = not ignore_case
    try:
        line = re2.compile(pattern, options=options)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise ToolError(
            f"Invalid regular expression {pattern!r}: {detail}. Grep uses RE2 syntax, like ripgrep: no "
            "look-around ((?=, (?!, (?<=) and no backreferences (\\1). Escape ( [ { . * + ? with a "
            "backslash to match them literally."
        ) from None
    # \A and \z mean "start/end of the text": of the line when searching lines, of the block otherwise.
    anchored = "\\A" in pattern or "\\z" in pattern
    block = None if anchored else re2.compile(f"(?m:{pattern})", options=options)
    return Matcher(line, block)


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    text: bytes  # without its line ending
    is_match: bool


def iter_blocks(handle: BinaryIO, max_bytes: int) -> Iterator[bytes]:
    """The file as blocks of whole lines (the last may lack its newline), reading at most max_bytes.

    A line longer than MAX_LINE_BYTES is cut there: its first MAX_LINE_BYTES come as one line.
    """
    carry, skipping, remaining = b"", False, max_bytes
    while remaining > 0 and (chunk := handle.read(min(BLOCK_BYTES, remaining))):
        remaining -= len(chunk)
        if skipping:  # drop the rest of an over-long line
            newline = chunk.find(b"\n")
            if newline == -1:
                continue
            chunk, skipping = chunk[newline + 1 :], False
        data = carry + chunk
        cut = data.rfind(b"\n")
        if cut == -1:
            carry = data
            if len(carry) > MAX_LINE_BYTES:
                yield carry[:MAX_LINE_BYTES] + b"\n"
                carry, skipping = b"", True
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1]
    if carry:
        yield carry


def _block_lines(block: bytes) -> list[bytes]:
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def _tail(block: bytes, count: int, last_number: int) -> list[tuple[int, bytes]]:
    """The last `count` lines of a block, numbered, the last being line `last_number`."""
    body = block[:-1] if block.endswith(b"\n") else block
    parts = body.rsplit(b"\n", count)
    tail = parts[1:] if len(parts) > count else parts
    first = last_number - len(tail) + 1
    return [(first + i, line[:-1] if line.endswith(b"\r") else line) for i, line in enumerate(tail)]


def scan(handle: BinaryIO, matcher: Matcher, *, max_bytes: int, before: int = 0, after: int = 0) -> Iterator[Line]:
    """Matching lines and their context lines, in file order, each line once. Lazy: stop when you like."""
    before, after = min(before, MAX_CONTEXT_LINES), min(after, MAX_CONTEXT_LINES)
    ring: deque[tuple[int, bytes]] = deque(maxlen=before or 1)
    number = pending_after = 0
    for block in iter_blocks(handle, max_bytes):
        if not pending_after and matcher.block is not None and b"\r" not in block \
                and not matcher.block.search(block):
            number += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            if before:
                ring.extend(_tail(block, before, number))
            continue
        for text in _block_lines(block):
            number += 1
            if matcher.line.search(text):
                if before:
                    yield from (Line(n, t, False) for n, t in ring)
                    ring.clear()
                yield Line(number, text, True)
                pending_after = after
            elif pending_after:
                yield Line(number, text, False)
                pending_after -= 1
            elif before:
                ring.append((number, text))


def first_match(handle: BinaryIO, matcher: Matcher, *, max_bytes: int) -> bool:
    return next(scan(handle, matcher, max_bytes=max_bytes), None) is not None


def count_matches(handle: BinaryIO, matcher: Matcher, *, max_bytes: int) -> int:
    return sum(1 for _ in scan(handle, matcher, max_bytes=max_bytes))
