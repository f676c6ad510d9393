"""Diffs a person reads: in an Edit or Write permission question, and under the call once it ran.

The change itself is computed in the tools layer (`planned_change` runs Edit's own replacement logic on
the file as it is now, so the question shows exactly what Edit would write); this module only lays it
out: line numbers, `-` red and `+` green, long diffs cut to their first lines and `… +N lines`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent.repl.tool_output import DIM, GREEN, INDENT, RED, fit, more_line, paint, plural, printable
from agent.tools.file_change import FileChange

log = logging.getLogger(__name__)

QUESTION_LINES = 20  # diff lines in a permission question (it must fit above the prompt)
NEW_FILE_LINES = 10  # first lines of a new file in a question
TRANSCRIPT_LINES = 8  # changed lines kept under a finished Edit or Write
WHOLE_LINES = 5000  # a question pages through the whole diff; beyond this it says how many lines are left out
UNCUT = 1 << 20  # a width no line reaches
_HUNK = re.compile(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def question_body(tool_name: str, args: dict[str, Any], project: Path, *, color: bool, width: int | None,
                  max_lines: int = QUESTION_LINES) -> str:
    """What an Edit or Write call would change, for its permission question; "" for other tools and
    when the change cannot be worked out (the tool reports why when it runs). Reads the file. At most
    `max_lines` diff lines cut to `width`; `width=None`: the whole diff, lines uncut (up to WHOLE_LINES),
    for a question that wraps and pages it itself."""
    from agent.tools.file_preview import planned_change

    try:
        change = planned_change(tool_name, args, project)
    except OSError as exc:  # the file vanished or cannot be read: the question goes on without a diff
        log.debug("no diff for the question: %s", exc)
        return ""
    if change is None:
        return ""
    whole = width is None
    limit, width = (WHOLE_LINES, UNCUT) if width is None else (max_lines, width)
    if change.created:
        header, limit = f"new file · {plural(change.added, 'line')}", limit if whole else min(NEW_FILE_LINES, limit)
    elif not change.added + change.removed:
        header = f"{change.path} · no change"
    elif not change.lines:
        header = f"{change.path} · {change.stats} (too large to show)"
    else:
        header = f"{change.path} · {change.stats}"
    lines = _numbered(change, limit, color, width)
    return "\n".join([paint(INDENT[:2] + fit(printable(header), width - 3), DIM, color), *lines]) + "\n"


def compact_diff(change: FileChange, *, color: bool, width: int, limit: int = TRANSCRIPT_LINES) -> str:
    """The changed lines under a finished Edit or Write (context left out), at most `limit` of them."""
    return "".join(line + "\n" for line in _numbered(change, limit, color, width, context=False))


def _numbered(change: FileChange, limit: int, color: bool, width: int, *, context: bool = True) -> list[str]:
    """Diff lines as `  12 - old` / `  12 + new`, `⋮` between hunks, cut after `limit` lines."""
    rows = list(_rows(change, context))
    digits = max((len(str(number)) for _, number, _ in rows if number), default=1)
    out: list[str] = []
    for sign, number, text in rows[:limit]:
        if sign == "⋮":
            out.append(paint(f"{INDENT}{'⋮':>{digits}}", DIM, color))
            continue
        line = fit(f"{INDENT}{number:>{digits}} {sign} {printable(text)}", width - 1)
        out.append(paint(line, {"-": RED, "+": GREEN}.get(sign, ""), color))
    hidden = len(rows) - min(len(rows), limit) + change.omitted  # omitted: counted, not kept
    if hidden:
        out.append(more_line(hidden, color))
    return out


def _rows(change: FileChange, context: bool) -> Iterator[tuple[str, int, str]]:
    """(sign, line number, text) per diff line; ("⋮", 0, "") between hunks."""
    old = new = 1
    first = True
    for line in change.lines:
        hunk = _HUNK.match(line)
        if hunk:
            old, new = int(hunk.group(1)), int(hunk.group(2))
            if not first:
                yield "⋮", 0, ""
            first = False
            continue
        sign, text = line[:1], line[1:]
        if sign == "-":
            yield "-", old, text
            old += 1
        elif sign == "+":
            yield "+", new, text
            new += 1
        else:
            if context:
                yield " ", new, text
            old += 1
            new += 1
