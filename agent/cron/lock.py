"""The per-project lock that makes exactly one session fire the durable tasks.

`.claude/scheduled_tasks.lock` is created with O_CREAT|O_EXCL and holds
`{"sessionId", "pid", "procStart", "acquiredAt"}`, the same file Claude Code writes, so each tool
honours the other's lock in a shared project. A lock is held while its pid lives and that process
started at `procStart` (the start-time field of /proc/<pid>/stat on Linux, psutil's create_time
elsewhere); a recycled pid therefore does not keep a dead session's lock alive. Zombies count as dead.

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
garbage is stale and is taken over with one warning naming the file.

How the scheduler is meant to use it (all calls do small file I/O: run them in `asyncio.to_thread`):
each tick, an owner calls `is_held_by_us()` before firing durable tasks (someone may have taken
over if we looked dead); a non-owner calls the cheap `holder_is_alive()` and `try_acquire()` when it
returns False, plus `try_acquire()` every 5 s regardless. `release()` at shutdown.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

try:
    import fcntl as _fcntl
except ImportError:  # Windows: guard-file takeover
    _fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

LOCK_FILE_NAME = "scheduled_tasks.lock"
_USE_PROC_STAT = sys.platform.startswith("linux")
_LINUX_TOKEN = re.compile(r"\d+")
_GUARD_ABANDONED_S = 10.0


@dataclass(frozen=True)
class LockInfo:
    """The parsed contents of a lock file. `proc_start` is None when missing or not a string/number."""

    session_id: str
    pid: int
    proc_start: str | None
    acquired_at_ms: int | None

    @classmethod
    def from_bytes(cls, raw: bytes) -> LockInfo | None:
        """Parse a lock file; None for garbage (not JSON, not an object, no usable pid)."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        pid = _as_pid(data.get("pid"))
        if pid is None:
            return None
        session = data.get("sessionId")
        start = data.get("procStart")
        if isinstance(start, (int, float)) and not isinstance(start, bool):
            start = str(start)
        acquired = data.get("acquiredAt")
        return cls(
            session_id=session if isinstance(session, str) else "",
            pid=pid,
            proc_start=start if isinstance(start, str) else None,
            acquired_at_ms=acquired if isinstance(acquired, int) and not isinstance(acquired, bool) else None,
        )

    def to_bytes(self) -> bytes:
        doc = {
            "sessionId": self.session_id,
            "pid": self.pid,
            "procStart": self.proc_start,
            "acquiredAt": self.acquired_at_ms,
        }
        return json.dumps(doc).encode()


def _as_pid(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdecimal():
        value = int(value)
    return value if isinstance(value, int) and value > 0 else None


# --- process identity -------------------------------------------------------------------------------


def parse_proc_stat(text: str) -> tuple[str, str]:
    """(state, start-time token) from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so the
    fields are counted from the last ')'. Raises ValueError on text that does not have that shape.
    """
    head, sep, rest = text.rpartition(")")
    fields = rest.split()
    if not sep or "(" not in head or len(fields) < 20 or not _LINUX_TOKEN.fullmatch(fields[19]):
        raise ValueError(f"not a /proc/<pid>/stat line: {text[:80]!r}")
    return fields[0], fields[19]  # field 3 (state) and field 22 (starttime)


def _process_state(pid: int) -> tuple[bool, str | None]:
    """(alive, start token or None when unknown) for a pid. Zombies and dead pids are not alive."""
    if _USE_PROC_STAT:
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
                state, token = parse_proc_stat(f.read())
        except (OSError, ValueError):
            # Gone, or hidden from us (hidepid): ask the kernel whether the pid exists at all.
            return psutil.pid_exists(pid), None
        return state not in ("Z", "X"), token
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False, None
        return True, str(proc.create_time())
    except psutil.NoSuchProcess:
        return False, None
    except psutil.Error:  # AccessDenied and the like: it exists, its start time is unknown
        return True, None


def proc_start_token(pid: int) -> str | None:
    """The start-time token a lock records for `pid`; None if there is no such process or it is unreadable."""
    alive, token = _process_state(pid)
    return token if alive else None


def _same_start(recorded: str | None, actual: str | None) -> bool:
    """False only when both tokens are interpretable on this platform and differ."""
    if recorded is None or actual is None:
        return True
    if _USE_PROC_STAT:
        return not _LINUX_TOKEN.fullmatch(recorded) or int(recorded) == int(actual)
    try:
        return abs(float(recorded) - float(actual)) < 1e-3
    except ValueError:
        return True


def owner_is_alive(info: LockInfo) -> bool:
    """Whether the process a lock names still runs and is the one that wrote it (not a reused pid)."""
    alive, token = _process_state(info.pid)
    return alive and _same_start(info.proc_start, token)


# --- file primitives --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    raw: bytes
    stat: os.stat_result


def _read_snapshot(path: Path) -> _Snapshot | None:
    """The file's bytes and the stat of the same open file; None if there is no file."""
    try:
        with open(path, "rb") as f:
            return _Snapshot(f.read(), os.fstat(f.fileno()))
    except FileNotFoundError:
        return None


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_mtime_ns, a.st_size) == (b.st_dev, b.st_ino, b.st_mtime_ns, b.st_size)


def _unlink_if_unchanged_flock(path: Path, judged: _Snapshot) -> bool:
    """Unlink `path` only if it is still the file judged; True when the path is now free to create."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
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
        if os.read(fd, len(judged.raw) + 1) != judged.raw:
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)  # drops the flock


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

    I/O errors are logged (once per kind) and read as "not held"; programming errors raise.
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
        self._probe_cache: tuple[tuple[int, int, int], LockInfo | None] | None = None
        self._last_warning: tuple[str, int | None] | None = None

    # public API

    def try_acquire(self) -> bool:
        """True if we hold the lock now (also when we already did); False if another live session does."""
        try:
            held = self._acquire()
        except FileNotFoundError:
            logger.debug("No %s folder yet: nothing to lock", self.path.parent)
            return False
        except OSError as exc:
            self._warn_io("acquire", exc)
            return False
        self._last_warning = None
        return held

    def release(self) -> None:
        """Remove the lock file, but only while it still names this session and pid. Idempotent."""
        try:
            snap = _read_snapshot(self.path)
            info = LockInfo.from_bytes(snap.raw) if snap is not None else None
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
            snap = _read_snapshot(self.path)
        except OSError as exc:
            self._warn_io("read", exc)
            return None
        return LockInfo.from_bytes(snap.raw) if snap is not None else None

    def holder_is_alive(self) -> bool:
        """Cheap probe for every tick: does some live session (maybe us) hold the lock?

        One stat, a re-read only when the file changed, and a liveness check of the named pid.
        """
        try:
            st = os.stat(self.path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._probe_cache is None or self._probe_cache[0] != key:
                snap = _read_snapshot(self.path)
                if snap is None:
                    return False
                self._probe_cache = (key, LockInfo.from_bytes(snap.raw))
        except FileNotFoundError:
            return False
        except OSError as exc:
            self._warn_io("probe", exc)
            return False
        info = self._probe_cache[1]
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
            info = LockInfo.from_bytes(snap.raw)
            if info is not None and self._names_us(info):
                return True
            if self._judge_held(snap, info):
                return False
            if not _unlink_if_unchanged(self.path, snap):
                return False  # another contender got there first
            if info is not None:
                logger.info(
                    "Taking over scheduler lock from session %s (pid %d is gone)", info.session_id, info.pid
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
        if info is not None:
            return owner_is_alive(info)
        age = self._clock() - snap.stat.st_mtime
        if age < self._garbage_grace_s:
            return True  # perhaps a contender between its create and its write
        logger.warning(
            "Scheduler lock %s is unreadable (%d bytes); treating it as stale", self.path, len(snap.raw)
        )
        return False

    def _names_us(self, info: LockInfo) -> bool:
        return info.session_id == self.session_id and info.pid == self.pid

    def _warn_io(self, action: str, exc: OSError) -> None:
        """Log an I/O failure once per kind, not once per tick."""
        key = (action, exc.errno)
        if key == self._last_warning:
            logger.debug("Scheduler lock %s failed again: %s", action, exc)
            return
        self._last_warning = key
        logger.warning("Scheduler lock %s: cannot %s: %s", self.path, action, exc)
