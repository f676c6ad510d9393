"""Read, Write and Edit: the file tools, with Claude Code's names and input fields.

File I/O runs in a worker thread so a large file never stalls the event loop. How text is decoded
(binary refused), read within a limit and written atomically is file_text.py's.
"""

from __future__ import annotations

import asyncio
import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolError, ToolResult
from agent.tools.file_change import FileChange, diff_texts, new_file_change
from agent.tools.file_text import (
    MAX_LINE_CHARS,
    count_lines,
    cut_line,
    decode_text,
    number_lines,
    plural,
    read_bytes,
    split_lines,
    write_atomically,
)
from agent.tools.safe_open import kind_of

DEFAULT_READ_LINES = 2000
MAX_READ_BYTES = 32 * 1024 * 1024  # Read refuses larger files: Grep or offset/limit through Bash instead
MAX_EDIT_BYTES = 64 * 1024 * 1024  # Edit holds the file, its copy and the result in memory
MAX_READ_OUTPUT_CHARS = 100_000
SNIPPET_CONTEXT_LINES = 4
_RELATIVE = " (a relative path is taken from the project folder)"


class _PathTool(Tool):
    """Shared by the file tools: the path argument drives display, permissions and the outside check."""

    def key_argument(self, args: BaseModel) -> str:
        return str(args.file_path)  # type: ignore[attr-defined]

    def permission_subject(self, args: BaseModel) -> str | None:
        return str(Path(args.file_path).expanduser())  # type: ignore[attr-defined]

    def touched_paths(self, args: BaseModel, ctx: ToolContext) -> list[Path]:
        return [Path(os.path.realpath(ctx.resolve(args.file_path)))]  # type: ignore[attr-defined]


class ReadInput(BaseModel):
    file_path: str = Field(description=f"The absolute path to the file to read{_RELATIVE}")
    offset: int = Field(
        1, ge=0, description="The line number to start reading from (1-based; 0 also means the first line). "
        "Only provide if the file is too large to read at once",
    )
    limit: int = Field(
        DEFAULT_READ_LINES, ge=1, description="The number of lines to read. Only provide if the file is "
        "too large to read at once",
    )


class ReadTool(_PathTool):
    name = "Read"
    read_only = True
    Input = ReadInput
    description = (
        "Reads a file from the local filesystem.\n\n"
        "- file_path should be an absolute path; relative paths are taken from the project folder.\n"
        f"- By default it reads up to {DEFAULT_READ_LINES} lines from the start of the file; for long "
        "files pass offset (1-based line) and limit to read a part, though reading the whole file is "
        "usually best.\n"
        f"- Lines longer than {MAX_LINE_CHARS} characters are cut.\n"
        "- Results are numbered like `cat -n`: the line number, a tab, then the line. The numbers are "
        "not part of the file: never include them in Edit's old_string or new_string.\n"
        "- It reads files, not folders: list a folder with Glob or `ls` through Bash.\n"
        f"- Binary files, files over {MAX_READ_BYTES // (1024 * 1024)} MB and anything that is not a regular "
        "file (a FIFO, socket or device) are refused. When several files might be useful, read them in one "
        "response."
    )

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, ReadInput)
        offset = max(args.offset, 1)  # Claude-trained models send offset 0 for "from the start"
        return await asyncio.to_thread(self._read, ctx.resolve(args.file_path), offset, args.limit)

    def _read(self, path: Path, offset: int, limit: int) -> ToolResult:
        text = decode_text(read_bytes(path, MAX_READ_BYTES), path).text
        total = count_lines(text)
        if not total:
            return ToolResult("(This file exists but is empty: 0 lines.)", summary="empty file")
        if offset > total:
            raise ToolError(
                f"offset {offset} is beyond the end of {path}: the file has {plural(total, 'line')}."
            )
        window = [cut_line(line) for line in _line_window(text, offset, limit, MAX_READ_OUTPUT_CHARS)]
        shown, budget = 0, MAX_READ_OUTPUT_CHARS
        for line in window:
            budget -= len(line) + 8
            if budget < 0 and shown:
                break
            shown += 1
        body = number_lines(window[:shown], offset)
        last = offset + shown - 1
        if last < total:
            body += (
                f"\n\n(Showing lines {offset}-{last} of {total}. "
                f"Call Read with offset={last + 1} to continue.)"
            )
        return ToolResult(body, summary=f"read {plural(shown, 'line')}")


def _line_window(text: str, offset: int, limit: int, budget: int) -> list[str]:
    """Lines offset.. (1-based) of text, at most `limit`, stopping once about `budget` characters are
    taken: a file of millions of short lines is never split into a list as a whole."""
    pos = 0
    for _ in range(offset - 1):
        pos = text.index("\n", pos) + 1
    lines: list[str] = []
    while len(lines) < limit and pos < len(text) and budget >= 0:
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        line = text[pos:end]
        lines.append(line[:-1] if line.endswith("\r") else line)
        budget -= min(len(line), MAX_LINE_CHARS) + 8
        pos = end + 1
    return lines


class WriteInput(BaseModel):
    file_path: str = Field(description=f"The absolute path to the file to write{_RELATIVE}")
    content: str = Field(description="The content to write to the file")


class WriteTool(_PathTool):
    name = "Write"
    Input = WriteInput
    description = (
        "Writes a file to the local filesystem, creating missing parent folders.\n\n"
        "- This overwrites the file if it exists: Read an existing file first, and prefer Edit for "
        "changes to existing files, since Edit only sends the part that changes.\n"
        "- Use it to create new files only when the task needs them; never create documentation files "
        "(*.md, README) unless asked.\n"
        "- The content is written exactly as given."
    )

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, WriteInput)
        path = ctx.resolve(args.file_path)
        return await asyncio.to_thread(self._write, path, args.content, args.file_path, ctx.hides(path))

    def _write(self, path: Path, content: str, shown: str, hidden: bool = False) -> ToolResult:
        if path.is_dir():
            raise ToolError(f"{path} is a directory; give Write the path of a file.")
        if path.exists() and not path.is_file():  # a FIFO or device (or a link to one) is never replaced
            raise ToolError(f"{path} is {kind_of(path.stat().st_mode)}, not a regular file; Write only "
                            "writes regular files.")
        existed = path.exists()
        change = None if hidden else write_change(path, content, shown)  # a diff would show the old text
        try:
            write_atomically(path, content.encode("utf-8"))
        except OSError as exc:
            raise ToolError(f"Cannot write {path}: {exc.strerror or exc}") from None
        lines = plural(count_lines(content), "line")
        if existed:
            return ToolResult(f"Overwrote {path} ({lines}).", summary=f"wrote {lines}", change=change)
        return ToolResult(f"Created {path} ({lines}).", summary=f"created, {lines}", change=change)


class EditInput(BaseModel):
    file_path: str = Field(description=f"The absolute path to the file to modify{_RELATIVE}")
    old_string: str = Field(description="The exact text to replace")
    new_string: str = Field(description="The text to replace it with (must be different from old_string)")
    replace_all: bool = Field(False, description="Replace every occurrence of old_string (default false)")


class EditTool(_PathTool):
    name = "Edit"
    Input = EditInput
    description = (
        "Performs exact string replacements in a file.\n\n"
        "- Read the file before editing it.\n"
        "- old_string must match the file exactly, indentation and whitespace included. Copy it from "
        "Read's output without the line-number prefix (everything after the tab).\n"
        "- The edit fails if old_string is not found, or if it occurs more than once: then include more "
        "surrounding lines to make it unique, or set replace_all to change every occurrence (useful for "
        "renaming a variable).\n"
        "- The file's line endings and encoding are kept.\n"
        "- An empty old_string with a file that does not exist creates the file with new_string."
    )

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, EditInput)
        path = ctx.resolve(args.file_path)
        if ctx.hides(path):
            return await asyncio.to_thread(self._edit_hidden, path, args)
        return await asyncio.to_thread(self._edit, path, args)

    def _edit_hidden(self, path: Path, args: EditInput) -> ToolResult:
        """Edit of a file a Read deny rule covers: done, but nothing of its text comes back (no snippet,
        no diff, no hint about near matches), so that Edit cannot be used to read it."""
        try:
            result = self._edit(path, args, hidden=True)
        except ToolError:
            raise ToolError(f"The edit could not be applied to {path}. Its contents are hidden by a Read deny "
                            "rule, so no more is said.") from None
        return ToolResult(f"Edited {path}. Its contents are not shown: a Read deny rule covers this file.",
                          summary=result.summary)

    def _edit(self, path: Path, args: EditInput, hidden: bool = False) -> ToolResult:
        if args.old_string == args.new_string:
            raise ToolError("old_string and new_string are the same, so there is nothing to change.")
        if args.old_string == "" and not path.exists():
            return WriteTool()._write(path, args.new_string, args.file_path, hidden)
        decoded = decode_text(read_bytes(path, MAX_EDIT_BYTES), path)
        edit = apply_edit(decoded.text, args.old_string, args.new_string, args.replace_all, path)
        try:
            write_atomically(path, edit.updated.encode(decoded.encoding))
        except OSError as exc:
            raise ToolError(f"Cannot write {path}: {exc.strerror or exc}") from None
        changed = _changed_lines(edit.old, edit.new) * edit.count
        times = "every occurrence" if edit.count > 1 else "1 occurrence"
        snippet = _snippet(edit.updated, edit.first_at, edit.new)
        return ToolResult(
            f"Edited {path}: replaced {times} ({edit.count}). Snippet of the result:\n{snippet}",
            summary=f"edited {plural(changed, 'line')}",
            change=diff_texts(args.file_path, decoded.text, edit.updated),
        )


@dataclass(frozen=True)
class AppliedEdit:
    updated: str  # the file's new text
    old: str  # old_string and new_string as replaced (adapted to the file's line endings)
    new: str
    count: int  # occurrences replaced
    first_at: int  # where the first one was


def apply_edit(text: str, old_string: str, new_string: str, replace_all: bool, path: Path) -> AppliedEdit:
    """Edit's result on a file's current text, without touching the file; ToolError when Edit would
    refuse. The permission question's diff uses it too, so it shows exactly what Edit will write."""
    if old_string == new_string:
        raise ToolError("old_string and new_string are the same, so there is nothing to change.")
    if old_string == "":
        if text:
            raise ToolError(
                f"old_string is empty but {path} is not; give the text to replace, or use Write to "
                "replace the whole file."
            )
        return AppliedEdit(new_string, "", new_string, 1, 0)
    old, new, count = _find_replacement(text, old_string, new_string, path)
    if count > 1 and not replace_all:
        raise ToolError(
            f"old_string occurs {count} times in {path}. Include more surrounding lines so it "
            "matches exactly one place, or set replace_all to true to change every occurrence."
        )
    return AppliedEdit(text.replace(old, new), old, new, count, text.find(old))


def current_text(path: Path) -> str:
    """A file's text as Edit reads it (regular files only, at most MAX_EDIT_BYTES); ToolError if not."""
    return decode_text(read_bytes(path, MAX_EDIT_BYTES), path).text


def write_change(path: Path, content: str, shown: str) -> FileChange | None:
    """What writing `content` to `path` changes; None when the current file cannot be read as text."""
    try:
        old = current_text(path)
    except ToolError:
        return new_file_change(shown, content) if not os.path.lexists(path) else None
    return diff_texts(shown, old, content)


def _find_replacement(text: str, old: str, new: str, path: Path) -> tuple[str, str, int]:
    """old/new adapted to the file's line endings, and how often old occurs. Raises if absent."""
    if "\r\n" in text and text.count("\r\n") * 2 > text.count("\n"):  # mostly CRLF
        crlf_old = old.replace("\r\n", "\n").replace("\n", "\r\n")
        crlf_new = new.replace("\r\n", "\n").replace("\n", "\r\n")
        if crlf_old in text:
            return crlf_old, crlf_new, text.count(crlf_old)
    if old in text:
        return old, new, text.count(old)
    hint = ""
    if old.strip() and old.strip() in text:
        hint = " The text occurs with different leading or trailing whitespace."
    raise ToolError(
        f"old_string was not found in {path}.{hint} Check whitespace and indentation (tabs vs spaces), "
        "and Read the file first to copy the exact text."
    )


def _changed_lines(old: str, new: str) -> int:
    """How many lines one replacement changes, counting a replaced line once."""
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False)
    changed = sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )
    return max(changed, 1)


def _snippet(text: str, start: int, new: str) -> str:
    """The first changed region with a few lines of context, numbered like Read."""
    first_line = text.count("\n", 0, start)
    span = max(count_lines(new), 1)
    lines = split_lines(text)
    lo = max(first_line - SNIPPET_CONTEXT_LINES, 0)
    hi = min(first_line + span + SNIPPET_CONTEXT_LINES, len(lines))
    return number_lines([cut_line(line) for line in lines[lo:hi]], lo + 1)
