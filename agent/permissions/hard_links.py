"""Hard links to files a Read deny rule covers: another name for the same bytes is the same file.

`ln .env notes.txt` gives the denied `.env` a second name that no path rule mentions, and resolving
symlinks does not help: a hard link is not a link to follow. So a file with more than one link is
compared by (device, inode) with the files the deny rules cover. Those are found by walking only from
each rule's literal folder (`~/.ssh` for `Read(~/.ssh/**)`, the file itself for `Read(./.env)`), within
a budget; when the walk is cut short the answer is "unknown", which the policy treats as a match
(fail closed). Files with a single link, the vast majority, cost one stat.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

WALK_BUDGET = 20_000  # directory entries looked at per question, over all rules
_GLOB = frozenset("*?[{")

Matcher = Callable[[str], bool]  # a resolved absolute path -> whether the rule covers it


@dataclass(frozen=True)
class DeniedInodes:
    inodes: frozenset[tuple[int, int]]
    complete: bool  # False: the walk was cut short, so a file not found here may still be denied


def literal_start(root: Path, pattern: str) -> Path:
    """The deepest folder (or file) a gitignore-style pattern is certainly below: `a/b/*.env` -> a/b."""
    parts: list[str] = []
    for part in pattern.split("/"):
        if not part or set(part) & _GLOB:
            break
        parts.append(part)
    return root.joinpath(*parts) if parts else root


def denied_inodes(targets: Iterable[tuple[Path, Matcher]], budget: int = WALK_BUDGET) -> DeniedInodes:
    """(device, inode) of the regular files below each start that its matcher covers."""
    found: set[tuple[int, int]] = set()
    left = budget
    for start, matches in targets:
        left = _collect(start, matches, found, left)
        if left < 0:
            return DeniedInodes(frozenset(found), False)
    return DeniedInodes(frozenset(found), True)


def _collect(start: Path, matches: Matcher, found: set[tuple[int, int]], left: int) -> int:
    try:
        info = os.stat(start, follow_symlinks=False)
    except OSError:
        return left
    if stat.S_ISREG(info.st_mode):
        if matches(str(start)):
            found.add((info.st_dev, info.st_ino))
        return left - 1
    if not stat.S_ISDIR(info.st_mode):
        return left
    for folder, dirs, files in os.walk(start, followlinks=False):
        left -= len(dirs) + len(files)
        if left < 0:
            return left
        for name in files:
            path = os.path.join(folder, name)
            if not matches(path):
                continue
            try:
                entry = os.stat(path, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(entry.st_mode):
                found.add((entry.st_dev, entry.st_ino))
    return left


def linked_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a regular file with more than one hard link, else None (nothing to compare)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
        return None
    return info.st_dev, info.st_ino


class LinkCheck:
    """Answers "is this file another name of a denied file?" for one search or one call, walking the
    rules' folders at most once, and only when a file with several links turns up."""

    def __init__(self, targets: Callable[[], list[tuple[Path, Matcher]]]) -> None:
        self._targets = targets
        self._denied: DeniedInodes | None = None

    def __call__(self, path: str) -> bool:
        identity = linked_identity(path)
        if identity is None:
            return False
        if self._denied is None:
            self._denied = denied_inodes(self._targets())
        return identity in self._denied.inodes or not self._denied.complete
