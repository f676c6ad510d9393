"""`@path` at the prompt: Tab completes project file names, as in Claude Code.

A mention is `@` at the start of the line or after white space, followed by a path relative to the
project folder. Candidates are the entries of the folder typed so far whose names start with what
follows the last `/`; for a bare name (no `/` yet) also files deeper in the project whose names start
with it, found by a capped walk. Noise is skipped: `.git`, `node_modules`, build and cache folders, and
hidden entries unless the typed part starts with a dot. Paths that leave the project (`/`, `~`, `..`)
get no candidates. Stdlib and prompt_toolkit only: this module is on the path to the first prompt, and
the completer runs in a worker thread (`ThreadedCompleter`) so a large project never stalls typing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prompt_toolkit.completion import Completer, Completion
from prompt_toolkit.document import Document

MENTION_AT_CURSOR = re.compile(r"(?:^|(?<=\s))@([^\s@]*)$")
MAX_CANDIDATES = 50
MAX_WALKED = 5_000  # entries looked at by one deep search, so a huge tree costs a bounded time
NOISE_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", "dist", "build",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox",
})


def _leaves_project(folder: str) -> bool:
    return folder.startswith(("/", "~")) or ".." in folder.split("/")


def _is_noise(name: str, is_dir: bool, show_hidden: bool) -> bool:
    return (is_dir and name in NOISE_DIRS) or (name.startswith(".") and not show_hidden)


def _entries(folder: Path) -> list[tuple[str, bool]]:
    """(name, is a folder) of `folder`, sorted; [] when it cannot be listed."""
    try:
        with os.scandir(folder) as it:
            found = []
            for entry in it:
                try:
                    found.append((entry.name, entry.is_dir()))
                except OSError:
                    continue
    except OSError:
        return []
    return sorted(found, key=lambda item: item[0].lower())


def _deep_matches(root: Path, prefix: str, skip_top: bool) -> Iterator[str]:
    """Files below `root`'s subfolders whose names start with `prefix` (case-insensitive), breadth first."""
    lowered, walked = prefix.lower(), 0
    queue = [(root, "")]
    while queue and walked < MAX_WALKED:
        folder, rel = queue.pop(0)
        for name, is_dir in _entries(folder):
            walked += 1
            if walked > MAX_WALKED:
                return
            if _is_noise(name, is_dir, prefix.startswith(".")):
                continue
            path = f"{rel}{name}"
            if is_dir:
                if not os.path.islink(folder / name):  # never wander out through a link
                    queue.append((folder / name, path + "/"))
            elif name.lower().startswith(lowered) and not (skip_top and not rel):
                yield path


def file_candidates(root: Path, partial: str, limit: int = MAX_CANDIDATES) -> list[tuple[str, bool]]:
    """(project-relative path, is a folder) for what `@partial` may complete to, at most `limit`."""
    folder, _, prefix = partial.rpartition("/")
    if _leaves_project(partial):
        return []
    show_hidden, lowered = prefix.startswith("."), prefix.lower()
    base = f"{folder}/" if folder else ""
    out: list[tuple[str, bool]] = []
    for name, is_dir in _entries(root / folder if folder else root):
        if name.lower().startswith(lowered) and not _is_noise(name, is_dir, show_hidden):
            out.append((base + name, is_dir))
    if not folder and prefix:
        seen = {path for path, _ in out}
        for path in _deep_matches(root, prefix, skip_top=True):
            if len(out) >= limit:
                break
            if path not in seen:
                out.append((path, False))
    return out[:limit]


class FileMentionCompleter(Completer):
    """Completes `@partial` (the word at the cursor) to project paths; folders end with `/`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get_completions(self, document: Document, complete_event: Any) -> Iterable[Completion]:
        match = MENTION_AT_CURSOR.search(document.text_before_cursor)
        if match is None:
            return
        partial = match.group(1)
        for path, is_dir in file_candidates(self.root, partial):
            shown = path + "/" if is_dir else path
            yield Completion("@" + shown, start_position=-(len(partial) + 1), display=shown,
                             display_meta="folder" if is_dir else "")


__all__ = ["MENTION_AT_CURSOR", "FileMentionCompleter", "file_candidates"]
