"""Grep's streaming matcher agrees with a plain line-by-line search, across block boundaries."""

from __future__ import annotations

import io
import re

import pytest

import agent.tools.grep_engine as engine
from agent.tools.grep_engine import compile_matcher, iter_blocks, scan

TEXT = (
    "alpha one\r\nbeta two\nfoo\r\n\nfoo bar\nend foo\n"
    + "filler line\n" * 40
    + "start\nfoo at 47\ntrailing foo\nlast line without newline foo"
)
PATTERNS = ["foo", "^foo", "foo$", "^$", "o+", "(?i)ALPHA", "^", "x*", "\\Afoo", "bar|two", "[^a-z ]"]


def reference(text: str, pattern: str, before: int, after: int) -> list[tuple[int, str, bool]]:
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()
    regex = re.compile(pattern.replace("\\A", "^"))
    hits = [i for i, line in enumerate(lines) if regex.search(line)]
    keep: dict[int, bool] = {}
    for i in hits:
        for j in range(max(i - before, 0), min(i + after + 1, len(lines))):
            keep[j] = keep.get(j, False) or j in hits
    return [(j + 1, lines[j], keep[j]) for j in sorted(keep)]


@pytest.mark.parametrize("block", [7, 64, 1 << 20])
@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize(("before", "after"), [(0, 0), (2, 0), (0, 3), (3, 3)])
def test_scan_matches_a_line_by_line_reference(monkeypatch: pytest.MonkeyPatch, block: int, pattern: str,
                                               before: int, after: int) -> None:
    monkeypatch.setattr(engine, "BLOCK_BYTES", block)
    got = [(line.number, line.text.decode(), line.is_match) for line in
           scan(io.BytesIO(TEXT.encode()), compile_matcher(pattern), max_bytes=1 << 30, before=before, after=after)]
    assert got == reference(TEXT, pattern, before, after)


def test_a_line_longer_than_the_cap_is_cut_and_the_next_line_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MAX_LINE_BYTES", 10)
    monkeypatch.setattr(engine, "BLOCK_BYTES", 4)
    blocks = b"".join(iter_blocks(io.BytesIO(b"x" * 50 + b"\nnext\n"), max_bytes=1 << 30))
    assert blocks == b"x" * 10 + b"\nnext\n"


def test_reading_stops_at_max_bytes() -> None:
    assert b"".join(iter_blocks(io.BytesIO(b"a\n" * 100), max_bytes=10)) == b"a\n" * 5


def test_ignore_case_and_never_across_lines() -> None:
    assert next(scan(io.BytesIO(b"x\nNEEDLE\n"), compile_matcher("needle", True), max_bytes=99)).number == 2
    assert list(scan(io.BytesIO(b"a\nb\n"), compile_matcher("a\\sb"), max_bytes=99)) == []
