"""What a file edit changes, as unified-diff lines: shown in a permission question before an Edit or
Write runs, and kept in the transcript after it ran.

Pure (difflib only). The lines old and new text share at the start and the end are found by comparing
blocks of text and skipped before diffing, so an edit in a large file costs about one pass over it in
C; a changed middle too large to diff cheaply gets counts only.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

CONTEXT_LINES = 3
MAX_KEPT_LINES = 400  # diff lines kept; the rest are only counted (nobody reads more in a terminal)
MAX_DIFF_LINES = 20_000  # a changed middle larger than this is counted, not diffed (difflib is quadratic)
_BLOCK = 4096  # characters compared at a time when looking for the shared start and end


@dataclass(frozen=True)
class FileChange:
    """A change to one file. `lines` are unified-diff body lines: `@@ -a,b +c,d @@` hunk headers, then
    lines starting with " ", "-" or "+"; `omitted` diff lines were left out after the first ones."""

    path: str
    added: int
    removed: int
    lines: tuple[str, ...] = field(default=())
    omitted: int = 0
    created: bool = False  # a new file: `lines` are its first lines, each with "+"

    @property
    def stats(self) -> str:
        """`+3 -1`."""
        return f"+{self.added} -{self.removed}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "added": self.added, "removed": self.removed, "lines": list(self.lines),
                "omitted": self.omitted, "created": self.created}


def _lines(text: str) -> list[str]:
    """Lines without their line endings (CR LF or LF), a final line without one included."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def new_file_change(path: str, text: str, keep: int = MAX_KEPT_LINES) -> FileChange:
    """A file that does not exist yet: its first lines and its line count."""
    lines = _lines(text)
    return FileChange(path, len(lines), 0, tuple("+" + line for line in lines[:keep]),
                      max(0, len(lines) - keep), created=True)


def diff_texts(path: str, old: str, new: str, keep: int = MAX_KEPT_LINES) -> FileChange:
    """The unified diff of an existing file's old and new text (line endings ignored)."""
    if old == new:
        return FileChange(path, 0, 0)
    lo, hi_a, hi_b = _changed_span(old, new)
    changed_a, changed_b = _lines(old[lo:hi_a]), _lines(new[lo:hi_b])
    if len(changed_a) + len(changed_b) > MAX_DIFF_LINES:
        return FileChange(path, len(changed_b), len(changed_a), (), 0)
    begin = _back_lines(old, lo, CONTEXT_LINES)  # the context lines around the changed span
    after = _forward_lines(old, hi_a, CONTEXT_LINES) - hi_a
    a_mid, b_mid = _lines(old[begin:hi_a + after]), _lines(new[begin:hi_b + after])
    if a_mid == b_mid:  # only line endings differ
        return FileChange(path, 0, 0)
    start = old.count("\n", 0, begin)
    out: list[str] = []
    added = removed = 0
    matcher = difflib.SequenceMatcher(a=a_mid, b=b_mid, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(start + i1, i2 - i1)} +{_range(start + j1, j2 - j1)} @@")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out += [" " + line for line in a_mid[x1:x2]]
                continue
            out += ["-" + line for line in a_mid[x1:x2]]
            out += ["+" + line for line in b_mid[y1:y2]]
            removed += x2 - x1
            added += y2 - y1
    return FileChange(path, added, removed, tuple(out[:keep]), max(0, len(out) - keep))


def _changed_span(old: str, new: str) -> tuple[int, int, int]:
    """(lo, hi_old, hi_new): old[:lo] == new[:lo] and old[hi_old:] == new[hi_new:], each a run of whole
    lines, found by comparing blocks of text (C speed), not line by line."""
    lo = _common_prefix(old, new)
    lo = old.rfind("\n", 0, lo) + 1  # back to the start of a line both share
    room = min(len(old), len(new)) - lo
    same = _common_suffix(old, new, room)
    cut = old.find("\n", len(old) - same)  # the first line break inside the shared end ...
    end = len(old) - (cut + 1) if cut != -1 else 0  # ... after which whole shared lines follow
    return lo, len(old) - end, len(new) - end


def _common_prefix(a: str, b: str) -> int:
    n, i = min(len(a), len(b)), 0
    while i < n and a[i:i + _BLOCK] == b[i:i + _BLOCK]:
        i += _BLOCK
    while i < n and a[i] == b[i]:
        i += 1
    return min(i, n)


def _common_suffix(a: str, b: str, limit: int) -> int:
    la, lb, i = len(a), len(b), 0
    while i + _BLOCK <= limit and a[la - i - _BLOCK:la - i] == b[lb - i - _BLOCK:lb - i]:
        i += _BLOCK
    while i < limit and a[la - i - 1] == b[lb - i - 1]:
        i += 1
    return i


def _back_lines(text: str, pos: int, count: int) -> int:
    """Where the line `count` lines before the one starting at `pos` starts."""
    for _ in range(count):
        if pos == 0:
            break
        pos = text.rfind("\n", 0, pos - 1) + 1
    return pos


def _forward_lines(text: str, pos: int, count: int) -> int:
    """Where the line `count` lines after the one starting at `pos` starts (or the end)."""
    for _ in range(count):
        found = text.find("\n", pos)
        if found == -1:
            return len(text)
        pos = found + 1
    return pos


def _range(start: int, length: int) -> str:
    """A hunk range as `diff -u` writes it: 1-based start, length omitted when 1."""
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"
