"""Private files: what the agent keeps about you (sessions, run transcripts, the run history, logs, the
prompt history, the trust store) is readable by you alone, whatever the umask.

Files are created 0600 in folders 0700 (missing parents too); an existing one is tightened when it is
opened (group and other bits removed), so a state folder made by an older version or under `umask 000`
becomes private on the next run. The one place that knows how, instead of chmod calls in every writer.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import stat
from pathlib import Path
from typing import Any

FILE_MODE, DIR_MODE = 0o600, 0o700
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def tighten(path: Path | str) -> None:
    """Remove group and other permissions from `path` if it has any (a file you do not own stays as is)."""
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode
        if mode & 0o077:
            os.chmod(path, stat.S_IMODE(mode) & ~0o077)


def private_dir(path: Path, *, tighten_existing: bool = True) -> Path:
    """`path` as a folder only you can enter: made 0700 with its missing parents; an existing one
    tightened unless `tighten_existing` is false (a folder the user chose, such as a log file's)."""
    missing: list[Path] = []
    folder = path
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, DIR_MODE)
        os.chmod(folder, DIR_MODE)  # mkdir's mode passes through the umask; 0700 must not
    if tighten_existing and not missing:
        tighten(path)
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_APPEND, *, tighten_dir: bool = True) -> int:
    """A descriptor on `path`, created 0600 in a private folder; an existing file is tightened."""
    private_dir(path.parent, tighten_existing=tighten_dir)
    fd = os.open(path, flags | os.O_CREAT | _CLOEXEC, FILE_MODE)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) and mode & 0o077:
            os.fchmod(fd, stat.S_IMODE(mode) & ~0o077)
    except OSError:
        os.close(fd)
        raise
    return fd


def private_file(path: Path, *, tighten_dir: bool = True) -> Path:
    """Make sure `path` exists as a private file (for a library that opens it itself: SQLite, logging,
    prompt_toolkit's history); its contents are left alone."""
    os.close(open_private(path, os.O_WRONLY | os.O_APPEND, tighten_dir=tighten_dir))
    return path


def write_private_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) as the whole of the private file `path`."""
    fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


class PrivateFileHandler(logging.FileHandler):
    """A logging.FileHandler whose file is private (0600) from its first byte."""

    def _open(self) -> Any:
        private_file(Path(self.baseFilename), tighten_dir=False)
        return super()._open()


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """RotatingFileHandler whose current file and every rotated one are private."""

    def _open(self) -> Any:
        private_file(Path(self.baseFilename), tighten_dir=False)
        return super()._open()

    def doRollover(self) -> None:
        super().doRollover()
        for index in range(1, self.backupCount + 1):
            backup = f"{self.baseFilename}.{index}"
            if os.path.exists(backup):
                tighten(backup)


__all__ = ["DIR_MODE", "FILE_MODE", "PrivateFileHandler", "PrivateRotatingFileHandler", "open_private",
           "private_dir", "private_file", "tighten", "write_private_text"]
