"""Text files as the file tools read and write them: decoding, bounded reads, atomic writes, numbering.

Text is UTF-8, or UTF-8 or UTF-16 with a byte-order mark (kept on write); anything with NUL bytes near the
start or that does not decode is treated as binary and refused, so the model never sees mojibake and never
writes it back. Only regular files are read, never more than a limit; writes replace the file atomically.
Separate from the tools (files.py) because Read, Write, Edit and Grep share it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from agent.tools.base import ToolError
from agent.tools.safe_open import FileTooLargeError, NotRegularFileError, read_regular

MAX_LINE_CHARS = 2000
BINARY_SNIFF_BYTES = 8192


def count_lines(text: str) -> int:
    """Lines as an editor counts them: a final line without a newline still counts."""
    if not text:
        return 0
    return text.count("\n") + (0 if text.endswith("\n") else 1)


def plural(n: int, word: str, words: str | None = None) -> str:
    """`1 line`, `2 lines`; `words` is the plural when adding "s" is wrong."""
    return f"{n} {word}" if n == 1 else f"{n} {words or word + 's'}"


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # a codec name that round-trips the file, BOM included


def decode_text(data: bytes, path: Path) -> DecodedText:
    """Decode a file's bytes, or raise ToolError saying it is binary."""
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\0" in data[:BINARY_SNIFF_BYTES]:
        raise _binary_error(path)
    else:
        encoding = "utf-8"
    try:
        return DecodedText(data.decode(encoding), encoding)
    except UnicodeDecodeError:
        raise _binary_error(path) from None


def _binary_error(path: Path) -> ToolError:
    return ToolError(
        f"{path} looks like a binary file (or is not UTF-8 text), so it cannot be read as text. "
        "If you need to inspect it, use Bash with tools such as `file`, `xxd | head` or `strings`."
    )


def _missing_error(path: Path) -> ToolError:
    return ToolError(f"File does not exist: {path}. Check the path, or use Glob to find the file.")


def read_bytes(path: Path, limit: int) -> bytes:
    """A regular file's bytes, at most `limit`; FIFOs, sockets and devices are refused at once."""
    if path.is_dir():
        raise ToolError(
            f"{path} is a directory, not a file. Use Glob to find files in it, or Bash with `ls`."
        )
    try:
        return read_regular(path, limit)
    except FileNotFoundError:
        raise _missing_error(path) from None
    except PermissionError:
        raise ToolError(f"Permission denied reading {path}.") from None
    except FileTooLargeError as exc:
        raise ToolError(
            f"{path} is too large to read ({exc.size:,} bytes; the limit is {limit:,}). Use Grep to find "
            "the part you need, or Bash with `head`, `tail` or `sed -n 'START,ENDp'`."
        ) from None
    except NotRegularFileError as exc:
        raise ToolError(f"{exc}. Only regular files can be read.") from None
    except OSError as exc:
        raise ToolError(f"Cannot read {path}: {exc.strerror or exc}") from None


def split_lines(text: str) -> list[str]:
    """Lines split at line feeds only, as editors number them, each without its CR LF or LF."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def number_lines(lines: list[str], first: int) -> str:
    """Claude Code's `cat -n` form as 2.1.328 sends it (recorded): the line number, a tab, then the line."""
    return "\n".join(f"{first + i}\t{line}" for i, line in enumerate(lines))


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and os.replace, keeping the old file's mode."""
    target = Path(os.path.realpath(path))  # write through a symlink instead of replacing it
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def cut_line(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + f"... [line cut: {len(line):,} characters]"
