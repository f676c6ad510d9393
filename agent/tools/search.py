"""Glob and Grep: find files by name and by content.

Both list files the same way: inside a git work tree, `git ls-files` (tracked plus untracked files that
.gitignore does not exclude); elsewhere a walk that skips .git and well-known generated folders. The
work runs in a thread. Paths in results are absolute, as Claude Code's are, so they can go straight to
Read or Edit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.tools.base import Tool, ToolContext, ToolError, ToolResult
from agent.tools.files import BINARY_SNIFF_BYTES, plural

logger = logging.getLogger(__name__)

SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", "dist", "build",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox",
})
GLOB_MAX_RESULTS = 100
GREP_MAX_FILE_BYTES = 5 * 1024 * 1024
GREP_MAX_LINE_CHARS = 1000
MAX_OUTPUT_CHARS = 30_000
GIT_TIMEOUT_S = 30

FILE_TYPES: dict[str, tuple[str, ...]] = {
    "py": ("*.py", "*.pyi"), "js": ("*.js", "*.jsx", "*.mjs", "*.cjs"), "ts": ("*.ts", "*.tsx", "*.mts"),
    "go": ("*.go",), "rust": ("*.rs",), "java": ("*.java",), "c": ("*.c", "*.h"),
    "cpp": ("*.cpp", "*.cc", "*.cxx", "*.hpp", "*.hh", "*.h"), "rb": ("*.rb",), "php": ("*.php",),
    "sh": ("*.sh", "*.bash"), "md": ("*.md", "*.markdown"), "json": ("*.json",),
    "yaml": ("*.yaml", "*.yml"), "toml": ("*.toml",), "html": ("*.html", "*.htm"), "css": ("*.css",),
    "sql": ("*.sql",), "swift": ("*.swift",), "kotlin": ("*.kt", "*.kts"), "txt": ("*.txt",),
}


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
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob for `fullmatch` against a `/`-separated relative path.

    Supports `*`, `?`, `[abc]`, `[!abc]`, `{a,b}` and `**` as a whole segment (`**/x`, `a/**/x`, `a/**`).
    """
    return re.compile(_translate(pattern), re.DOTALL)


# --- listing files -------------------------------------------------------------------------------

def _git_files(root: Path) -> list[Path] | None:
    """Files under root per git (honouring .gitignore), or None when root is not in a work tree."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
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


def _search_root(path: str | None, ctx: ToolContext) -> Path:
    root = ctx.resolve(path) if path else ctx.project_dir
    if not root.exists():
        raise ToolError(f"Path does not exist: {root}. Check it, or leave path out to search the project.")
    return Path(os.path.normpath(root))


def _cap_output(text: str, what: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    cut = text[:MAX_OUTPUT_CHARS].rsplit("\n", 1)[0]
    return f"{cut}\n\n(Output cut at {MAX_OUTPUT_CHARS:,} characters: narrow the {what}.)"


class _SearchTool(Tool):
    read_only = True

    def permission_subject(self, args: BaseModel) -> str | None:
        path = args.path  # type: ignore[attr-defined]
        return str(Path(path).expanduser()) if path else "."

    def touched_paths(self, args: BaseModel, ctx: ToolContext) -> list[Path]:
        path = args.path  # type: ignore[attr-defined]
        return [(ctx.resolve(path) if path else ctx.project_dir).resolve()]

    def key_argument(self, args: BaseModel) -> str:
        path = args.path  # type: ignore[attr-defined]
        pattern = args.pattern  # type: ignore[attr-defined]
        return f"{pattern} in {path}" if path else str(pattern)


# --- Glob ----------------------------------------------------------------------------------------

class GlobInput(BaseModel):
    pattern: str = Field(
        description='The glob pattern to match files against, e.g. "**/*.py" or "src/**/*.ts"',
    )
    path: str | None = Field(
        None, description="The folder to search in. Leave it out to search the project folder.",
    )


class GlobTool(_SearchTool):
    name = "Glob"
    Input = GlobInput
    description = (
        "Fast file pattern matching for any size of codebase.\n\n"
        '- Supports glob patterns like "**/*.js", "src/**/*.ts" or "*.{json,toml}". `*` stays inside '
        "one folder, so use `**/` to search subfolders.\n"
        "- Returns absolute paths of matching files, most recently modified first, at most "
        f"{GLOB_MAX_RESULTS}.\n"
        "- Skips .git and ignored folders (.gitignore, node_modules, virtualenvs, build output).\n"
        "- Use it to find files by name; use Grep to find files by content. Run several searches in "
        "one response when useful."
    )

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, GlobInput)
        return await asyncio.to_thread(self._glob, args, ctx)

    def _glob(self, args: GlobInput, ctx: ToolContext) -> ToolResult:
        pattern, root = args.pattern, _search_root(args.path, ctx)
        if Path(pattern).expanduser().is_absolute():
            root, pattern = _split_absolute(Path(pattern).expanduser())
        if not root.is_dir():
            raise ToolError(f"{root} is not a folder; Glob searches folders.")
        regex = glob_to_regex(pattern)
        matches = [p for p in list_files(root) if regex.fullmatch(p.relative_to(root).as_posix())]
        if not matches:
            hint = "" if "/" in pattern else (
                f' Without "/", {pattern!r} matches only the top folder; try "**/{pattern}".'
            )
            return ToolResult(f"No files found.{hint}", summary="0 files")
        matches.sort(key=lambda p: (-_mtime(p), str(p)))
        lines = [str(p) for p in matches[:GLOB_MAX_RESULTS]]
        if len(matches) > GLOB_MAX_RESULTS:
            lines.append(
                f"(Showing the {GLOB_MAX_RESULTS} newest of {len(matches)} files: use a more specific "
                "pattern or path.)"
            )
        return ToolResult("\n".join(lines), summary=plural(len(matches), "file"))


def _split_absolute(pattern: Path) -> tuple[Path, str]:
    """An absolute pattern as (the folder before the first wildcard, the rest)."""
    parts = pattern.parts
    fixed = next((i for i, part in enumerate(parts) if any(ch in part for ch in "*?[{")), len(parts) - 1)
    root = Path(*parts[:fixed])
    if not root.exists():
        raise ToolError(f"Path does not exist: {root}.")
    return root, "/".join(parts[fixed:])


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# --- Grep ----------------------------------------------------------------------------------------

_CONTENT_ONLY = ' (output_mode "content" only)'


class GrepInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    pattern: str = Field(description="The regular expression to search for in file contents (Python syntax)")
    path: str | None = Field(None, description="File or folder to search in. Defaults to the project folder.")
    glob: str | None = Field(
        None, description='Only search files matching this glob, e.g. "*.py" or "*.{ts,tsx}" (a glob '
        "without / matches file names at any depth)",
    )
    type: str | None = Field(None, description=f"File type to search: one of {', '.join(FILE_TYPES)}")
    output_mode: Literal["content", "files_with_matches", "count"] = Field(
        "files_with_matches",
        description='"content" shows matching lines, "files_with_matches" shows file paths (default), '
        '"count" shows match counts per file',
    )
    case_insensitive: bool = Field(False, alias="-i", description="Case insensitive search")
    line_numbers: bool = Field(True, alias="-n", description=f"Show line numbers{_CONTENT_ONLY}")
    context: int | None = Field(
        None, ge=0, alias="-C", description=f"Lines of context before and after each match{_CONTENT_ONLY}",
    )
    before: int | None = Field(
        None, ge=0, alias="-B", description=f"Lines of context before each match{_CONTENT_ONLY}",
    )
    after: int | None = Field(
        None, ge=0, alias="-A", description=f"Lines of context after each match{_CONTENT_ONLY}",
    )
    head_limit: int | None = Field(
        None, ge=1, description="Show only the first N lines, files or counts of the output",
    )


@dataclass
class _FileMatches:
    path: Path
    lines: list[str]  # kept for output_mode "content" only
    hits: list[int]  # 0-based indexes of matching lines


class GrepTool(_SearchTool):
    name = "Grep"
    Input = GrepInput
    description = (
        "Searches file contents with a regular expression (Python `re` syntax).\n\n"
        "- Always use Grep for content search instead of grep or rg through Bash.\n"
        '- Filter files with glob (e.g. "*.py", "**/*.{ts,tsx}") or type (e.g. "py", "js").\n'
        '- output_mode: "files_with_matches" (default) lists matching files, newest first; "content" '
        'shows matching lines as path:line:text (-n line numbers on by default, -A/-B/-C context '
        'lines); "count" shows matches per file.\n'
        "- Escape regex metacharacters for literal text (`interface\\{\\}` to find `interface{}`). "
        "Patterns match within one line.\n"
        "- Skips .git, ignored folders, binary files and files over "
        f"{GREP_MAX_FILE_BYTES // (1024 * 1024)} MB. head_limit keeps the first N results."
    )

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, GrepInput)
        return await asyncio.to_thread(self._grep, args, ctx)

    def _grep(self, args: GrepInput, ctx: ToolContext) -> ToolResult:
        try:
            regex = re.compile(args.pattern, re.IGNORECASE if args.case_insensitive else 0)
        except re.error as exc:
            raise ToolError(
                f"Invalid regular expression {args.pattern!r}: {exc}. Escape special characters such as "
                "( [ { . * + ? with a backslash to match them literally."
            ) from None
        root = _search_root(args.path, ctx)
        keep_lines = args.output_mode == "content"
        found = [m for path in _candidates(root, args) if (m := _search_file(path, regex, keep_lines))]
        if args.output_mode == "files_with_matches":
            found.sort(key=lambda m: (-_mtime(m.path), str(m.path)))
            entries = [str(m.path) for m in found]
            summary = plural(len(found), "file")
        elif args.output_mode == "count":
            entries = [f"{m.path}:{len(m.hits)}" for m in found]
            summary = plural(sum(len(m.hits) for m in found), "match", "matches")
        else:
            entries = _content_lines(found, args)
            summary = plural(sum(len(m.hits) for m in found), "match", "matches")
        if not entries:
            return ToolResult("No matches found.", summary=summary)
        limit = args.head_limit
        if limit is not None and len(entries) > limit:
            entries = [*entries[:limit], f"(Showing the first {limit} of {len(entries)}.)"]
        text = _cap_output("\n".join(entries), "pattern, path or glob, or use head_limit")
        return ToolResult(text, summary=summary)


def _candidates(root: Path, args: GrepInput) -> list[Path]:
    """Files to search: the root itself when it is a file, else its listing filtered by glob and type."""
    if root.is_file():
        return [root]
    filters: list[str] = []
    if args.type:
        if args.type not in FILE_TYPES:
            raise ToolError(f"Unknown type {args.type!r}; use one of {', '.join(FILE_TYPES)}, or glob.")
        filters.extend(FILE_TYPES[args.type])
    type_globs = [glob_to_regex(f) for f in filters]
    user_glob = glob_to_regex(args.glob) if args.glob else None
    on_path = bool(args.glob and "/" in args.glob)  # like rg: a glob without "/" matches file names
    selected = []
    for path in sorted(list_files(root)):
        subject = path.relative_to(root).as_posix() if on_path else path.name
        if user_glob and not user_glob.fullmatch(subject):
            continue
        if type_globs and not any(g.fullmatch(path.name) for g in type_globs):
            continue
        selected.append(path)
    return selected


def _search_file(path: Path, regex: re.Pattern[str], keep_lines: bool) -> _FileMatches | None:
    try:
        if path.stat().st_size > GREP_MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return None
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[-1] == "":
        lines.pop()
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    hits = [i for i, line in enumerate(lines) if regex.search(line)]
    return _FileMatches(path, lines if keep_lines else [], hits) if hits else None


def _content_lines(found: list[_FileMatches], args: GrepInput) -> list[str]:
    """ripgrep-style output: `path:N:line` for matches, `path-N-line` for context, `--` between groups."""
    before = args.before if args.before is not None else (args.context or 0)
    after = args.after if args.after is not None else (args.context or 0)
    out: list[str] = []
    for match in found:
        hits = set(match.hits)
        for start, end in _merged_ranges(match.hits, before, after, len(match.lines)):
            if out and (before or after):
                out.append("--")
            for i in range(start, end):
                sep = ":" if i in hits else "-"
                number = f"{i + 1}{sep}" if args.line_numbers else ""
                line = match.lines[i]
                if len(line) > GREP_MAX_LINE_CHARS:
                    line = line[:GREP_MAX_LINE_CHARS] + " [...]"
                out.append(f"{match.path}{sep}{number}{line}")
    return out


def _merged_ranges(hits: list[int], before: int, after: int, total: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for hit in hits:
        start, end = max(hit - before, 0), min(hit + after + 1, total)
        if ranges and start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], end))
        else:
            ranges.append((start, end))
    return ranges
