"""Open only regular files, never block, read at most a cap.

A FIFO opened for reading blocks until a writer appears, `/dev/zero` never ends, a socket cannot be
opened at all: a repository can commit any of them (or a symlink to one) under an innocent name. So we
`stat` first (a device is never even opened: opening some has side effects), open with O_NONBLOCK (a FIFO
swapped in after the stat still cannot block), and check the open descriptor again with `fstat`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class UnsafeFileError(OSError):
    """The path is not a regular file, or is larger than the caller's cap. The message says which."""


class NotRegularFileError(UnsafeFileError):
    pass


class FileTooLargeError(UnsafeFileError):
    def __init__(self, path: Path, size: int, limit: int) -> None:
        super().__init__(f"{path} is too large to read ({size:,} bytes; the limit is {limit:,} bytes)")
        self.size, self.limit = size, limit


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words a person knows."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"))
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def _refuse(path: Path, mode: int) -> NotRegularFileError:
    return NotRegularFileError(f"{path} is {kind_of(mode)}, not a regular file, so it is not read")


def open_regular(path: Path, limit: int | None = None) -> BinaryIO:
    """A binary reader for a regular file (symlinks followed), or UnsafeFileError / OSError at once."""
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise _refuse(path, before.st_mode)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno is not None and exc.errno == getattr(os, "ENXIO", None):  # a socket swapped in
            raise NotRegularFileError(f"{path} is a socket, not a regular file, so it is not read") from None
        raise
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode):
            raise _refuse(path, now.st_mode)
        if limit is not None and now.st_size > limit:
            raise FileTooLargeError(path, now.st_size, limit)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, limit: int) -> bytes:
    """All bytes of a regular file of at most `limit` bytes (checked again while reading: it may grow)."""
    with open_regular(path, limit) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(path, len(data), limit)
    return data
