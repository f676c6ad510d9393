"""What a file edit changes, as unified-diff lines: shown in a permission question before an Edit or
Write runs, and kept in the transcript after it ran.

Pure (difflib only). Lines the old and new text share at the start and the end are skipped before
diffing, so an edit in a large file costs about one pass over it; a middle part too large to diff
cheaply gets counts only.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

CONTEXT_LINES = 3
MAX_KEPT_LINES = 400  # diff lines kept; the rest are only counted (nobody reads more in a terminal)
MAX_DIFF_LINES = 20_000  # a changed middle larger than this is counted, not diffed (difflib is quadratic)


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
    a, b = _lines(old), _lines(new)
    if a == b:
        return FileChange(path, 0, 0)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    start = max(0, head - CONTEXT_LINES)  # keep context around the changed middle
    a_mid = a[start:len(a) - max(0, tail - CONTEXT_LINES)]
    b_mid = b[start:len(b) - max(0, tail - CONTEXT_LINES)]
    if len(a_mid) + len(b_mid) > MAX_DIFF_LINES:
        changed_a, changed_b = len(a) - head - tail, len(b) - head - tail
        return FileChange(path, changed_b, changed_a, (), 0)
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


def _range(start: int, length: int) -> str:
    """A hunk range as `diff -u` writes it: 1-based start, length omitted when 1."""
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"
