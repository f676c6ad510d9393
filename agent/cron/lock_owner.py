"""Who a scheduler lock names, whether that process still holds it, and how to say so to a person.

A lock (`{"sessionId", "pid", "procStart", "acquiredAt"}`) is held while its pid lives and that process
started at `procStart` (the start-time field of /proc/<pid>/stat on Linux, psutil's create_time
elsewhere), so a recycled pid does not keep a dead session's lock alive. Zombies count as dead.

A lock whose `procStart` is missing or cannot be read on this platform is judged by `acquiredAt`
instead: the writer was running when it wrote the lock, so a process that started after `acquiredAt`
is a later process that got the pid, and the lock is stale. Without `acquiredAt` either, nothing ties
the lock to the process, and it is stale: a lock file committed as `{"pid": 1}` (or naming any other
long-lived process) must not stop a project's durable tasks.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime

import psutil

__all__ = [
    "LockInfo", "describe_process", "holder_message", "owner_is_alive", "parse_proc_stat", "proc_start_token",
]

_USE_PROC_STAT = sys.platform.startswith("linux")
_LINUX_TOKEN = re.compile(r"\d+")
# create_time is derived from the boot time, which the kernel reports in whole seconds.
_START_SLACK_S = 2.0
# An acquiredAt further ahead than this is not a time any writer could have recorded.
_FUTURE_SLACK_S = 24 * 3600.0


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
        except (ValueError, UnicodeDecodeError, RecursionError):
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
    if isinstance(value, str) and value.isdecimal() and len(value) < 20:
        value = int(value)
    return value if isinstance(value, int) and 0 < value < 2**31 else None


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
                state, token = parse_proc_stat(f.read(4096))
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


def _readable_token(recorded: str | None) -> bool:
    """Whether a recorded procStart means something on this platform."""
    if recorded is None:
        return False
    if _USE_PROC_STAT:
        return _LINUX_TOKEN.fullmatch(recorded) is not None
    try:
        float(recorded)
    except ValueError:
        return False
    return True


def _same_start(recorded: str, actual: str | None) -> bool:
    """False only when the process's own token is known and differs from the recorded one."""
    if actual is None:
        return True
    if _USE_PROC_STAT:
        return int(recorded) == int(actual)
    return abs(float(recorded) - float(actual)) < 1e-3


def process_started_at(pid: int) -> float | None:
    """The process's start as epoch seconds; None when there is no such process or it cannot be read."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def owner_is_alive(info: LockInfo, *, now: float | None = None) -> bool:
    """Whether the process a lock names still runs and is the one that wrote it (not a reused pid)."""
    alive, token = _process_state(info.pid)
    if not alive:
        return False
    if _readable_token(info.proc_start):
        return _same_start(info.proc_start, token)  # type: ignore[arg-type]
    # No usable procStart: only acquiredAt can tie the lock to the process that holds the pid now.
    if info.acquired_at_ms is None:
        return False
    acquired_s = info.acquired_at_ms / 1000
    if acquired_s > (time.time() if now is None else now) + _FUTURE_SLACK_S:
        return False
    started = process_started_at(info.pid)
    return started is None or started <= acquired_s + _START_SLACK_S


# --- saying who holds it -------------------------------------------------------------------------------


def describe_process(pid: int) -> str | None:
    """A guess at what a process is ("agent daemon", "agent cron watch", "Claude Code", "sleep")."""
    try:
        proc = psutil.Process(pid)
        name = proc.name()
        args = [a.lower() for a in proc.cmdline()]
    except psutil.Error:
        return None
    words = " ".join(args)
    if any(a == "agent" or a.endswith("/agent") for a in args):
        rest = args[next(i for i, a in enumerate(args) if a == "agent" or a.endswith("/agent")) + 1:]
        if "daemon" in rest:
            return "agent daemon"
        if "cron" in rest and "watch" in rest:
            return "agent cron watch"
        return "agent -p" if "-p" in rest or "--print" in rest else "agent"
    if "claude" in name.lower() or "claude" in words:
        return "Claude Code"
    return name or None


def _clock_text(epoch_s: float, now: float) -> str | None:
    try:
        when = datetime.fromtimestamp(epoch_s).astimezone()
        today = datetime.fromtimestamp(now).astimezone().date()
    except (OverflowError, OSError, ValueError):
        return None
    return when.strftime("%H:%M") if when.date() == today else when.strftime("%b %d %H:%M")


def holder_text(info: LockInfo, *, now: float | None = None) -> str:
    """`PID 4242 (agent daemon?) since 10:03`: the process a lock names, what it seems to be, since when."""
    now = time.time() if now is None else now
    what = describe_process(info.pid)
    text = f"PID {info.pid}" + (f" ({what}?)" if what else "")
    since = info.acquired_at_ms / 1000 if info.acquired_at_ms is not None else process_started_at(info.pid)
    clock = _clock_text(since, now) if since is not None else None
    return text + (f" since {clock}" if clock else "")


def holder_message(info: LockInfo, *, now: float | None = None) -> str:
    """The line `agent cron watch`, `agent daemon` and /cron show while another process holds the lock."""
    return (f"Durable tasks fire in another process: {holder_text(info, now=now)}; "
            "this one takes over if it stops.")
