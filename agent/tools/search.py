"""Glob and Grep: find files by name and by content.

Both list files the same way (see listing.py) and run in a thread. Paths in results are absolute, as
Claude Code's are, so they can go straight to Read or Edit. Every file they list or open is judged
after resolving symlinks (ToolContext.file_verdict): files a deny rule covers are skipped silently; files
outside the project (a symlink leading out), or that an ask rule covers, are skipped with a note telling
the model to Read one, which asks the user. Grep opens regular files only (safe_open), matches with RE2
and streams (grep_engine), so memory is bounded by head_limit and the output cap, not by the matches.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.tools.base import FileVerdict, Tool, ToolContext, ToolError, ToolResult
from agent.tools.file_text import BINARY_SNIFF_BYTES, plural
from agent.tools.grep_engine import Matcher, compile_matcher, scan
from agent.tools.listing import SKIPPED_DIRS, GlobError, SurrogateSafeRegex, glob_to_regex, list_files
from agent.tools.safe_open import UnsafeFileError, kind_of, open_regular

__all__ = ["GLOB_MAX_RESULTS", "SKIPPED_DIRS", "GlobTool", "GrepTool", "glob_to_regex", "list_files"]

GLOB_MAX_RESULTS = 100
GREP_MAX_FILE_BYTES = 64 * 1024 * 1024  # larger files are skipped
GREP_MAX_LINE_CHARS = 1000
MAX_OUTPUT_CHARS = 30_000
_EXAMPLES = 3

FILE_TYPES: dict[str, tuple[str, ...]] = {
    "py": ("*.py", "*.pyi"), "js": ("*.js", "*.jsx", "*.mjs", "*.cjs"), "ts": ("*.ts", "*.tsx", "*.mts"),
    "go": ("*.go",), "rust": ("*.rs",), "java": ("*.java",), "c": ("*.c", "*.h"),
    "cpp": ("*.cpp", "*.cc", "*.cxx", "*.hpp", "*.hh", "*.h"), "rb": ("*.rb",), "php": ("*.php",),
    "sh": ("*.sh", "*.bash"), "md": ("*.md", "*.markdown"), "json": ("*.json",),
    "yaml": ("*.yaml", "*.yml"), "toml": ("*.toml",), "html": ("*.html", "*.htm"), "css": ("*.css",),
    "sql": ("*.sql",), "swift": ("*.swift",), "kotlin": ("*.kt", "*.kts"), "txt": ("*.txt",),
}


def _compile_glob(pattern: str) -> SurrogateSafeRegex:
    try:
        return glob_to_regex(pattern)
    except GlobError as exc:
        raise ToolError(str(exc)) from None


def _search_root(path: str | None, ctx: ToolContext) -> Path:
    root = ctx.resolve(path) if path else ctx.project_dir
    if not root.exists():
        raise ToolError(f"Path does not exist: {root}. Check it, or leave path out to search the project.")
    return Path(os.path.normpath(root))


@dataclass
class _Skipped:
    """Files left out because reading them needs the user's permission."""

    paths: list[Path] = field(default_factory=list)
    count: int = 0

    def add(self, path: Path) -> None:
        self.count += 1
        if len(self.paths) < _EXAMPLES:
            self.paths.append(path)

    def note(self) -> str:
        if not self.count:
            return ""
        examples = ", ".join(str(p) for p in self.paths) + (", ..." if self.count > len(self.paths) else "")
        return (
            f"\n\n({plural(self.count, 'file')} skipped without being opened, because reading "
            f"{'it' if self.count == 1 else 'them'} needs the user's permission (outside the project, "
            f"e.g. through a symlink, or covered by an ask rule): {examples}. Read one to ask.)"
        )


def _permitted(paths: Iterable[Path], verdict: FileVerdict, skipped: _Skipped) -> Iterator[Path]:
    for path in paths:
        decision = verdict(path)
        if decision == "allow":
            yield path
        elif decision == "ask":
            skipped.add(path)


def _cap_output(text: str, what: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    cut = text[:MAX_OUTPUT_CHARS].rsplit("\n", 1)[0]
    return f"{cut}\n\n(Output cut at {MAX_OUTPUT_CHARS:,} characters: narrow the {what}.)"


class _SearchTool(Tool):
    read_only = True

    def search_place(self, args: BaseModel, ctx: ToolContext) -> Path:
        """The folder or file this call searches, absolute, not yet resolved."""
        path = args.path  # type: ignore[attr-defined]
        return ctx.resolve(path) if path else ctx.project_dir

    def permission_subject(self, args: BaseModel) -> str | None:
        path = args.path  # type: ignore[attr-defined]
        return str(Path(path).expanduser()) if path else "."

    def touched_paths(self, args: BaseModel, ctx: ToolContext) -> list[Path]:
        return [Path(os.path.realpath(self.search_place(args, ctx)))]  # no RuntimeError on a symlink loop

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

    def search_place(self, args: BaseModel, ctx: ToolContext) -> Path:
        assert isinstance(args, GlobInput)
        pattern = Path(args.pattern).expanduser()  # an absolute pattern searches its own folder
        return _split_absolute(pattern)[0] if pattern.is_absolute() else super().search_place(args, ctx)

    def permission_subject(self, args: BaseModel) -> str | None:
        assert isinstance(args, GlobInput)
        pattern = Path(args.pattern).expanduser()
        return str(_split_absolute(pattern)[0]) if pattern.is_absolute() else super().permission_subject(args)

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, GlobInput)
        return await asyncio.to_thread(self._glob, args, ctx)

    def _glob(self, args: GlobInput, ctx: ToolContext) -> ToolResult:
        pattern, root = args.pattern, _search_root(args.path, ctx)
        if Path(pattern).expanduser().is_absolute():
            root, pattern = _split_absolute(Path(pattern).expanduser())
            if not root.exists():
                raise ToolError(f"Path does not exist: {root}.")
        if not root.is_dir():
            raise ToolError(f"{root} is not a folder; Glob searches folders.")
        regex, skipped = _compile_glob(pattern), _Skipped()
        listed = (p for p in list_files(root) if regex.fullmatch(p.relative_to(root).as_posix()))
        matches = list(_permitted(listed, ctx.file_verdict(self.name, root), skipped))
        if not matches:
            hint = "" if "/" in pattern else (
                f' Without "/", {pattern!r} matches only the top folder; try "**/{pattern}".'
            )
            return ToolResult(f"No files found.{hint}{skipped.note()}", summary="0 files")
        matches.sort(key=lambda p: (-_mtime(p), str(p)))
        lines = [str(p) for p in matches[:GLOB_MAX_RESULTS]]
        if len(matches) > GLOB_MAX_RESULTS:
            lines.append(
                f"(Showing the {GLOB_MAX_RESULTS} newest of {len(matches)} files: use a more specific "
                "pattern or path.)"
            )
        return ToolResult("\n".join(lines) + skipped.note(), summary=plural(len(matches), "file"))


def _split_absolute(pattern: Path) -> tuple[Path, str]:
    """An absolute pattern as (the folder before the first wildcard, the rest)."""
    parts = pattern.parts
    fixed = next((i for i, part in enumerate(parts) if any(ch in part for ch in "*?[{")), len(parts) - 1)
    return Path(*parts[:fixed]), "/".join(parts[fixed:])


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# --- Grep ----------------------------------------------------------------------------------------

_CONTENT_ONLY = ' (output_mode "content" only)'


class GrepInput(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    pattern: str = Field(description="The regular expression to search for in file contents (RE2 syntax, like ripgrep)")
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


class GrepTool(_SearchTool):
    name = "Grep"
    Input = GrepInput
    description = (
        "Searches file contents with a regular expression (RE2 syntax, like ripgrep).\n\n"
        "- Always use Grep for content search instead of grep or rg through Bash.\n"
        '- Filter files with glob (e.g. "*.py", "**/*.{ts,tsx}") or type (e.g. "py", "js").\n'
        '- output_mode: "files_with_matches" (default) lists matching files, newest first; "content" '
        'shows matching lines as path:line:text (-n line numbers on by default, -A/-B/-C context '
        'lines); "count" shows matches per file.\n'
        "- Escape regex metacharacters for literal text (`interface\\{\\}` to find `interface{}`). "
        "Patterns match within one line. No look-around or backreferences.\n"
        "- Skips .git, ignored folders, binary files, files that are not regular files and files over "
        f"{GREP_MAX_FILE_BYTES // (1024 * 1024)} MB. head_limit keeps the first N results."
    )

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, GrepInput)
        return await asyncio.to_thread(self._grep, args, ctx)

    def _grep(self, args: GrepInput, ctx: ToolContext) -> ToolResult:
        matcher = compile_matcher(args.pattern, args.case_insensitive)
        root, skipped = _search_root(args.path, ctx), _Skipped()
        files = list(_permitted(_candidates(root, args), ctx.file_verdict(self.name, root), skipped))
        tally = _Tally()
        if args.output_mode == "files_with_matches":
            found = [path for path in files if _file_matches(path, matcher)]
            found.sort(key=lambda p: (-_mtime(p), str(p)))
            entries, total = _take((str(p) for p in found), args.head_limit)
            summary = plural(len(found), "file")
        elif args.output_mode == "count":
            entries, total = _take(_count_entries(files, matcher, tally), args.head_limit)
            summary = plural(tally.matches, "match", "matches")
        else:
            entries, total = _take(_content_entries(files, matcher, args, tally), args.head_limit)
            summary = plural(tally.matches, "match", "matches")
        if not entries:
            return ToolResult("No matches found." + skipped.note(), summary=summary)
        if len(entries) < total and args.head_limit is not None and len(entries) == args.head_limit:
            entries.append(f"(Showing the first {args.head_limit} of {total}.)")
        text = _cap_output("\n".join(entries), "pattern, path or glob, or use head_limit")
        return ToolResult(text + skipped.note(), summary=summary)


@dataclass
class _Tally:
    matches: int = 0


def _take(entries: Iterator[str], limit: int | None) -> tuple[list[str], int]:
    """The first `limit` entries (and no more than the output can show), and how many there were.

    Entries past those are counted, not kept: memory stays bounded however many lines match.
    """
    kept: list[str] = []
    total = chars = 0
    for entry in entries:
        total += 1
        if (limit is None or len(kept) < limit) and chars <= MAX_OUTPUT_CHARS:
            kept.append(entry)
            chars += len(entry) + 1
    return kept, total


def _candidates(root: Path, args: GrepInput) -> list[Path]:
    """Files to search: the root itself when it is a file, else its listing filtered by glob and type."""
    if not root.is_dir():
        if not root.is_file():
            raise ToolError(f"{root} is {kind_of(root.stat().st_mode)}, not a regular file or a folder; "
                            "Grep searches only regular files.")
        return [root]
    filters: list[str] = []
    if args.type:
        if args.type not in FILE_TYPES:
            raise ToolError(f"Unknown type {args.type!r}; use one of {', '.join(FILE_TYPES)}, or glob.")
        filters.extend(FILE_TYPES[args.type])
    type_globs = [_compile_glob(f) for f in filters]
    user_glob = _compile_glob(args.glob) if args.glob else None
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


def _scan_file(path: Path, matcher: Matcher, before: int = 0, after: int = 0) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, text, is a match) for a regular text file; nothing for binary, huge or odd files."""
    try:
        with open_regular(path, GREP_MAX_FILE_BYTES) as handle:
            if b"\0" in handle.read(BINARY_SNIFF_BYTES):
                return
            handle.seek(0)
            for line in scan(handle, matcher, max_bytes=GREP_MAX_FILE_BYTES, before=before, after=after):
                yield line.number, line.text, line.is_match
    except (UnsafeFileError, OSError):  # not regular, too large, vanished, unreadable: not searched
        return


def _file_matches(path: Path, matcher: Matcher) -> bool:
    return next(_scan_file(path, matcher), None) is not None


def _count_entries(files: list[Path], matcher: Matcher, tally: _Tally) -> Iterator[str]:
    for path in files:
        count = sum(1 for _ in _scan_file(path, matcher))
        if count:
            tally.matches += count
            yield f"{path}:{count}"


def _content_entries(files: list[Path], matcher: Matcher, args: GrepInput, tally: _Tally) -> Iterator[str]:
    """ripgrep-style output: `path:N:line` for matches, `path-N-line` for context, `--` between groups."""
    before = args.before if args.before is not None else (args.context or 0)
    after = args.after if args.after is not None else (args.context or 0)
    started = False
    for path in files:
        last = None
        for number, raw, is_match in _scan_file(path, matcher, before, after):
            tally.matches += is_match
            if (before or after) and started and (last is None or number > last + 1):
                yield "--"
            started, last = True, number
            sep = ":" if is_match else "-"
            text = raw[: GREP_MAX_LINE_CHARS * 4].decode("utf-8", "replace")
            if len(text) > GREP_MAX_LINE_CHARS:
                text = text[:GREP_MAX_LINE_CHARS] + " [...]"
            yield f"{path}{sep}{number}{sep}{text}" if args.line_numbers else f"{path}{sep}{text}"
