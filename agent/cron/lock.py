"""The per-project lock that makes exactly one session fire the durable tasks.

`.claude/scheduled_tasks.lock` is created with O_CREAT|O_EXCL and holds
`{"sessionId", "pid", "procStart", "acquiredAt"}`, the same file Claude Code writes, so each tool
honours the other's lock in a shared project. Whether the process a lock names still holds it is
decided in `lock_owner` (procStart, else acquiredAt; a bare `{"pid": 1}` is stale).

Taking over a stale lock is remove-then-create-again, and the removal must never hit a fresh lock that
another contender wrote after we judged the old one stale. On POSIX the remover opens the stale file,
takes a non-blocking flock on it, then checks that the path still names that very inode with the very
bytes it judged before unlinking. Contenders serialise on the stale inode (the losers get
EWOULDBLOCK, or find a different inode at the path afterwards), and an inode we hold open cannot be
recycled for the new lock. The final O_EXCL create decides between any two that both removed or found
nothing. Without flock (Windows, some network mounts) takeovers serialise instead on a guard file
`scheduled_tasks.lock.takeover`, created with O_EXCL and removed microseconds later; its holder
re-reads the lock and unlinks it only if it is still the file judged, and contenders that find the
guard back off. A guard left by a crash mid-takeover is cleared after 10 s. Claude Code takes neither
flock nor guard, so against it a microsecond window remains that only its cooperation could close.

A file that is not a JSON object with a usable pid is garbage. Garbage younger than `garbage_grace_s`
may be a contender between its O_EXCL create and its write, so it counts as held for now; older
garbage is stale and is taken over with one warning naming the file. The lock is read without ever
blocking and within a bound: only a regular file is read (never through a symlink, a FIFO opened
non-blocking is not read at all), and at most `MAX_LOCK_BYTES`. Anything else cannot be a lock and is
stale at once. Each problem is logged once, not on every tick, until the lock works again.

While another process holds the lock, `blocked_by` names it (and `problem` says why the lock cannot be
taken, when no live holder explains it), so the faces can say which process fires the durable tasks.

How the scheduler is meant to use it (all calls do small file I/O: run them in `asyncio.to_thread`):
each tick, an owner calls `is_held_by_us()` before firing durable tasks (someone may have taken
over if we looked dead); a non-owner calls the cheap `holder_is_alive()` and `try_acquire()` when it
returns False, plus `try_acquire()` every 5 s regardless. `release()` at shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.cron.lock_owner import (  # re-exported: the lock's public API
    LockInfo,
    holder_message,
    owner_is_alive,
    parse_proc_stat,
    proc_start_token,
)

__all__ = [
    "LOCK_FILE_NAME", "MAX_LOCK_BYTES", "LockInfo", "SchedulerLock", "holder_message", "other_holder",
    "owner_is_alive", "parse_proc_stat", "proc_start_token",
]

try:
    import fcntl as _fcntl
except ImportError:  # Windows: guard-file takeover
    _fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = "scheduled_tasks.lock"
MAX_LOCK_BYTES = 64 * 1024  # a real lock is about 120 bytes
_GUARD_ABANDONED_S = 10.0
# Never follow a symlink at the lock's path, never block opening a FIFO.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


# --- file primitives --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    raw: bytes
    stat: os.stat_result
    problem: str | None = None  # why this cannot be a lock file (then `raw` is empty)


def _kind(st: os.stat_result) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):
        if test(st.st_mode):
            return name
    return "not a regular file"


def _read_snapshot(path: Path) -> _Snapshot | None:
    """The file's bytes (bounded) and the stat of the same open file; None if there is no file."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError:
        # A symlink (ELOOP with O_NOFOLLOW), a socket (ENXIO): say what it is, if it is one.
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        if stat.S_ISREG(st.st_mode):
            raise
        return _Snapshot(b"", st, f"is {_kind(st)}, not a regular file")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return _Snapshot(b"", st, f"is {_kind(st)}, not a regular file")
        chunks, size = [], 0
        while size <= MAX_LOCK_BYTES and (chunk := os.read(fd, MAX_LOCK_BYTES + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_LOCK_BYTES:
            return _Snapshot(b"", st, f"is larger than {MAX_LOCK_BYTES // 1024} KiB")
        return _Snapshot(b"".join(chunks), st)
    finally:
        os.close(fd)


def _parse(snap: _Snapshot | None) -> LockInfo | None:
    return LockInfo.from_bytes(snap.raw) if snap is not None and snap.problem is None else None


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_mtime_ns, a.st_size) == (b.st_dev, b.st_ino, b.st_mtime_ns, b.st_size)


def _unlink_if_unchanged_flock(path: Path, judged: _Snapshot) -> bool:
    """Unlink `path` only if it is still the file judged; True when the path is now free to create."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return True
    except OSError:
        if judged.problem is None:
            raise
        return _unlink_if_same_inode(path, judged)  # a symlink or socket: nothing to open and lock
    try:
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another contender is removing it right now
        except OSError:  # a filesystem without flock (some network mounts)
            return _unlink_if_unchanged_guarded(path, judged)
        opened = os.fstat(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            return True
        if not (_same_file(opened, judged.stat) and _same_file(current, opened)):
            return False
        if judged.problem is None and os.read(fd, len(judged.raw) + 1) != judged.raw:
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)  # drops the flock


def _unlink_if_same_inode(path: Path, judged: _Snapshot) -> bool:
    try:
        current = os.lstat(path)
    except FileNotFoundError:
        return True
    if not _same_file(current, judged.stat):
        return False
    os.unlink(path)
    return True


def _unlink_if_unchanged_guarded(path: Path, judged: _Snapshot) -> bool:
    """Fallback without flock: takeovers serialise on an O_EXCL guard file held for microseconds."""
    guard = path.with_name(path.name + ".takeover")
    try:
        os.close(os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        _clear_abandoned_guard(guard)
        return False  # another contender is taking over right now
    try:
        current = _read_snapshot(path)
        if current is None:
            return True
        if current.raw != judged.raw or not _same_file(current.stat, judged.stat):
            return False
        os.unlink(path)
        return True
    finally:
        guard.unlink(missing_ok=True)


def _clear_abandoned_guard(guard: Path) -> None:
    """A guard lives for microseconds; one this old was left by a process that died mid-takeover."""
    with contextlib.suppress(FileNotFoundError):
        if time.time() - guard.stat().st_mtime > _GUARD_ABANDONED_S:
            logger.warning("Removing abandoned lock takeover guard %s", guard)
            guard.unlink(missing_ok=True)


def _unlink_if_unchanged(path: Path, judged: _Snapshot) -> bool:
    if _fcntl is not None:
        return _unlink_if_unchanged_flock(path, judged)
    return _unlink_if_unchanged_guarded(path, judged)


# --- the lock ---------------------------------------------------------------------------------------


class SchedulerLock:
    """Ownership of a project's durable tasks.

    I/O errors are logged (once per problem) and read as "not held"; programming errors raise.
    """

    def __init__(
        self,
        project_dir: Path | str,
        session_id: str,
        *,
        pid: int | None = None,
        garbage_grace_s: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not session_id:
            raise ValueError("session_id must be a non-empty string")
        self.path = Path(project_dir) / ".claude" / LOCK_FILE_NAME
        self.session_id = session_id
        self.pid = os.getpid() if pid is None else pid
        self._garbage_grace_s = garbage_grace_s
        self._clock = clock
        self._probe_cache: tuple[tuple[int, int, int, int], LockInfo | None, bool] | None = None
        self._warned: set[str] = set()
        self._unusable: str | None = None  # what was wrong with the file the last acquire judged
        self.blocked_by: LockInfo | None = None  # the live holder that refused the last try_acquire
        self.problem: str | None = None  # why the last try_acquire failed, when no live holder explains it

    # public API

    def try_acquire(self) -> bool:
        """True if we hold the lock now (also when we already did); False if another live session does."""
        self.blocked_by, self.problem, self._unusable = None, None, None
        try:
            held = self._acquire()
        except FileNotFoundError:
            logger.debug("No %s folder yet: nothing to lock", self.path.parent)
            return False
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.problem = (f"{self.path} {self._unusable} and cannot be removed ({reason})" if self._unusable
                            else f"cannot take {self.path} ({reason})")
            self._warn_io("acquire", exc)
            return False
        if held:
            self._warned.clear()  # working again: a new problem deserves a new warning
        return held

    def release(self) -> None:
        """Remove the lock file, but only while it still names this session and pid. Idempotent."""
        try:
            snap = _read_snapshot(self.path)
            info = _parse(snap)
            if snap is not None and info is not None and self._names_us(info):
                _unlink_if_unchanged(self.path, snap)
        except OSError as exc:
            self._warn_io("release", exc)

    def is_held_by_us(self) -> bool:
        """Re-read the file: another session may have taken over if it judged us dead."""
        info = self.holder()
        return info is not None and self._names_us(info)

    def holder(self) -> LockInfo | None:
        """The parsed lock file; None when there is none, it is garbage, or it cannot be read."""
        try:
            return _parse(_read_snapshot(self.path))
        except OSError as exc:
            self._warn_io("read", exc)
            return None

    def holder_is_alive(self) -> bool:
        """Cheap probe for every tick: does some live session (maybe us) hold the lock?

        One lstat, a re-read only when the file changed, and a liveness check of the named pid.
        """
        try:
            st = os.lstat(self.path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode)
            if self._probe_cache is None or self._probe_cache[0] != key:
                snap = _read_snapshot(self.path)
                if snap is None:
                    return False
                self._probe_cache = (key, _parse(snap), snap.problem is not None)
        except FileNotFoundError:
            return False
        except OSError as exc:
            self._warn_io("probe", exc)
            return False
        _, info, unusable = self._probe_cache
        if unusable:
            return False  # cannot be anybody's lock: let try_acquire take it over
        if info is None:
            return self._clock() - st.st_mtime < self._garbage_grace_s
        return owner_is_alive(info)

    # internals

    def _acquire(self) -> bool:
        for _ in range(3):
            if self._create():
                logger.debug("Acquired scheduler lock %s", self.path)
                return True
            snap = _read_snapshot(self.path)
            if snap is None:
                continue  # released between our create and our read: race for it again
            info = _parse(snap)
            if info is not None and self._names_us(info):
                return True
            if self._judge_held(snap, info):
                self.blocked_by = info
                return False
            if not _unlink_if_unchanged(self.path, snap):
                return False  # another contender got there first
            if info is not None:
                logger.info(
                    "Taking over scheduler lock from session %s (pid %d no longer holds it)",
                    info.session_id, info.pid,
                )
        return False

    def _create(self) -> bool:
        """O_EXCL create with our contents; False if a lock file already exists."""
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        info = LockInfo(
            session_id=self.session_id,
            pid=self.pid,
            proc_start=proc_start_token(self.pid),
            acquired_at_ms=int(self._clock() * 1000),
        )
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(info.to_bytes())
        except OSError:
            self.path.unlink(missing_ok=True)  # an empty file of ours would block others for a while
            raise
        return True

    def _judge_held(self, snap: _Snapshot, info: LockInfo | None) -> bool:
        if snap.problem is not None:
            self._unusable = snap.problem  # never a contender's half-written lock: stale at once
            self._warn_once(f"unusable {snap.problem}", "Scheduler lock %s %s; treating it as stale",
                            self.path, snap.problem)
            return False
        if info is not None:
            if owner_is_alive(info):
                return True
            if info.proc_start is None and info.acquired_at_ms is None:
                self._warn_once(f"bare pid {info.pid}", "Scheduler lock %s names pid %d but neither procStart "
                                "nor acquiredAt; treating it as stale", self.path, info.pid)
            return False
        age = self._clock() - snap.stat.st_mtime
        if age < self._garbage_grace_s:
            return True  # perhaps a contender between its create and its write
        self._warn_once("garbage", "Scheduler lock %s is unreadable (%d bytes); treating it as stale",
                        self.path, len(snap.raw))
        return False

    def _names_us(self, info: LockInfo) -> bool:
        return info.session_id == self.session_id and info.pid == self.pid

    def _warn_io(self, action: str, exc: OSError) -> None:
        """Log an I/O failure once per kind of failure, not once per tick."""
        self._warn_once(f"io {exc.errno}", "Scheduler lock %s: cannot %s: %s", self.path, action, exc)

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key in self._warned:
            logger.debug(message, *args)
            return
        self._warned.add(key)
        logger.warning(message, *args)


def other_holder(project_dir: Path | str, pid: int | None = None) -> LockInfo | None:
    """The live process other than `pid` (default: this one) that holds the project's lock, if any."""
    path = Path(project_dir) / ".claude" / LOCK_FILE_NAME
    try:
        info = _parse(_read_snapshot(path))
    except OSError:
        return None
    me = os.getpid() if pid is None else pid
    return info if info is not None and info.pid != me and owner_is_alive(info) else None
