"""Listing the files Glob and Grep search, and glob patterns as compiled regexes.

Inside a git work tree the list is `git ls-files` (tracked plus untracked files that .gitignore does not
exclude); elsewhere a walk that skips .git and well-known generated folders. git runs with fsmonitor off:
a hostile repository's config must not get to run a command through it.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import re2

logger = logging.getLogger(__name__)

SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", "dist", "build",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox",
})
GIT_TIMEOUT_S = 30
_SURROGATE = re.compile("[\ud800-\udfff]")


class GlobError(ValueError):
    """A glob pattern that cannot be compiled."""


# --- glob patterns -------------------------------------------------------------------------------

def _translate(pattern: str) -> str:
    """A glob as a regex body: `*` and `?` stay in one path segment, `**/` spans folders."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        at_segment_start = i == 0 or pattern[i - 1] == "/"
        if pattern.startswith("**", i) and at_segment_start and (i + 2 == n or pattern[i + 2] == "/"):
            out.append("(?:.*/)?" if i + 2 < n else ".*")
            i += 3
            continue
        if c == "*":
            while i + 1 < n and pattern[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append(f"[^/{body[1:]}]" if body[0] in "!^" else f"[{body}]")
            i = end
        elif c == "{" and (end := _closing_brace(pattern, i)) != -1:
            alternatives = _split_top_level(pattern[i + 1 : end])
            out.append("(?:" + "|".join(_translate(alt) for alt in alternatives) + ")")
            i = end
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _closing_brace(pattern: str, start: int) -> int:
    depth = 0
    for j in range(start, len(pattern)):
        depth += {"{": 1, "}": -1}.get(pattern[j], 0)
        if depth == 0:
            return j
    return -1


def _split_top_level(body: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in body:
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += {"{": 1, "}": -1}.get(ch, 0)
        current.append(ch)
    return [*parts, "".join(current)]


@lru_cache(maxsize=256)
def glob_to_regex(pattern: str) -> SurrogateSafeRegex:
    """Compile a glob for `fullmatch` against a `/`-separated relative path.

    Supports `*`, `?`, `[abc]`, `[!abc]`, `{a,b}` and `**` as a whole segment (`**/x`, `a/**/x`, `a/**`).
    RE2, not `re`: the model writes globs, and `*a*a*a*a*a*b` would backtrack for ages in `re`.
    """
    return _compile(_translate(pattern), pattern)


@lru_cache(maxsize=256)
def glob_or_parent_regex(*patterns: str) -> SurrogateSafeRegex:
    """A regex whose `fullmatch` says: one of the globs matches the path or one of its parent folders
    (gitignore's rule: a pattern matching a folder covers everything below it)."""
    body = "|".join(_translate(pattern) for pattern in patterns)
    return _compile(f"(?:{body})(?:/.*)?", " or ".join(patterns))


class SurrogateSafeRegex:
    """An RE2 regex that also matches paths holding lone surrogates (a file name that is not UTF-8, as
    Python decodes it), which RE2 cannot encode: each such character is matched as U+FFFD."""

    __slots__ = ("regex",)

    def __init__(self, regex: re2._Regexp) -> None:
        self.regex = regex

    def fullmatch(self, text: str) -> Any:
        try:
            return self.regex.fullmatch(text)
        except UnicodeEncodeError:
            return self.regex.fullmatch(_SURROGATE.sub("\ufffd", text))


def _compile(regex: str, pattern: str) -> SurrogateSafeRegex:
    options = re2.Options()
    options.log_errors = False
    options.dot_nl = True
    try:
        return SurrogateSafeRegex(re2.compile(regex, options=options))
    except re2.error:
        raise GlobError(f"Invalid glob pattern {pattern!r}: check its brackets and braces.") from None


# --- listing files -------------------------------------------------------------------------------

def _git_files(root: Path) -> list[Path] | None:
    """Files under root per git (honouring .gitignore), or None when root is not in a work tree."""
    try:
        done = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root, capture_output=True, timeout=GIT_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.debug("git ls-files failed in %s: %s", root, exc)
        return None
    if done.returncode != 0:
        return None
    names = [name for name in done.stdout.decode("utf-8", "surrogateescape").split("\0") if name]
    files = [root / name for name in dict.fromkeys(names)]  # unmerged files are listed once per stage
    return [path for path in files if path.is_file()]  # drop deleted files and submodule folders


def _walk_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        files.extend(Path(folder, name) for name in sorted(names))
    return files


def list_files(root: Path) -> list[Path]:
    """Searchable files under root. An ignored root (git lists nothing) falls back to the walk."""
    return _git_files(root) or _walk_files(root)


class RealPaths:
    """`os.path.realpath` for the many files of a search: each folder is resolved once, and each file
    costs one `lstat` (it is resolved fully only when it is itself a symlink)."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: os.PathLike[str] | str) -> str:
        text = os.fspath(path)
        folder, name = os.path.split(text)
        if name in ("", ".", "..") or not os.path.isabs(text) or os.path.islink(text):
            return os.path.realpath(text)
        real_folder = self._folders.get(folder)
        if real_folder is None:
            real_folder = self._folders[folder] = os.path.realpath(folder)
        return os.path.join(real_folder, name)
