"""Reading and writing JSON files that someone else may have written: they cannot hang, crash or shrink us.

The tasks file and the settings files come with a repository, so they are untrusted input:

- only a regular file is read (a symlink to one is fine). The open does not block (a FIFO would wait
  for a writer forever), and a FIFO, socket, device (`/dev/zero`) or folder is refused at once;
- at most `cap` bytes are read; a bigger file is refused, not truncated;
- text is strict UTF-8 (a leading byte-order mark is skipped); bytes that are not UTF-8, such as an
  encoded lone surrogate, are an error naming the byte offset;
- a number Python cannot hold as int or float (`1e999999`, 5000 digits, and the `NaN`/`Infinity` that
  Python's own json writes) is kept as its text (`RawNumber`): data that validation rejects where a
  number is expected, and that a rewrite writes back exactly as it was;
- nesting deeper than `MAX_DEPTH` is an error (deeper still would exhaust Python's stack);
- `dump_json` escapes lone surrogates (from `"\\ud800"` escapes) instead of failing or writing bytes that
  are not UTF-8.

Errors are `JSONFileError` with a short reason; callers add the file name and what to do.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MIB",
    "JSONFileError",
    "RawNumber",
    "dump_json",
    "has_lone_surrogate",
    "load_json",
    "read_regular_file",
    "replace_lone_surrogates",
]

MIB = 1024 * 1024
MAX_DEPTH = 64
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class JSONFileError(Exception):
    """The file cannot be used; `reason` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RawNumber:
    """A JSON number Python cannot hold as int or float, kept as the text it was written as."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawNumber({self.text[:20]!r}{'...' if len(self.text) > 20 else ''})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def read_regular_file(path: Path, cap: int) -> bytes | None:
    """The bytes of a regular file of at most `cap` bytes; None when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:  # ENXIO for a socket, ELOOP, EACCES ...
        raise JSONFileError(exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise JSONFileError(f"it is {kind}, not a regular file")
        chunks, size = [], 0
        while size <= cap and (chunk := os.read(fd, min(cap + 1 - size, MIB))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise JSONFileError(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if size > cap:
        raise JSONFileError(f"it is larger than the {_size(cap)} limit")
    return b"".join(chunks)


def _size(cap: int) -> str:
    return f"{cap // MIB} MiB" if cap % MIB == 0 else f"{cap} bytes"


def load_json(data: bytes) -> Any:
    """Parse UTF-8 JSON bytes under the rules in the module docstring. Raises JSONFileError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONFileError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(text.removeprefix("\ufeff"), parse_constant=RawNumber, parse_int=_int,
                           parse_float=_float)
    except json.JSONDecodeError as exc:
        raise JSONFileError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise JSONFileError(f"nested more than {MAX_DEPTH} levels deep") from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise JSONFileError(f"nested more than {MAX_DEPTH} levels deep")
    return value


def _int(text: str) -> int | RawNumber:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return RawNumber(text)


def _float(text: str) -> float | RawNumber:
    value = float(text)
    return value if math.isfinite(value) else RawNumber(text)


def _walk(value: Any):
    """Every value inside `value` with its depth (iterative: the input may be deep)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _depth_exceeds(value: Any, limit: int) -> bool:
    return any(depth > limit for item, depth in _walk(value) if isinstance(item, (dict, list)))


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) holds an unpaired surrogate, as a "\\ud800" escape makes."""
    return any(isinstance(item, str) and _LONE_SURROGATE.search(item) for item, _ in _walk(value))


def replace_lone_surrogates(value: Any) -> Any:
    """`value` with every unpaired surrogate in its strings (keys too) replaced by U+FFFD: such a string
    cannot be encoded as UTF-8, so it would fail every later write (transcript, request, stdout)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {replace_lone_surrogates(k): replace_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_lone_surrogates(item) for item in value]
    return value


def dump_json(value: Any, *, indent: int | None = 2) -> str:
    """JSON text (UTF-8 characters, not escapes) with RawNumbers as read and lone surrogates escaped."""
    raw: dict[str, str] = {}
    token = os.urandom(16).hex()  # placeholders no string in the data can collide with

    def placeholder(obj: Any) -> str:
        if not isinstance(obj, RawNumber):
            raise TypeError(f"{type(obj).__name__} is not JSON data")
        key = f"{token}:{len(raw)}"
        raw[json.dumps(key)] = obj.text
        return key

    text = json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False, default=placeholder)
    for quoted, number in raw.items():
        text = text.replace(quoted, number, 1)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
