"""Helpers for tests and benches that drive the scheduler through real processes.

- `WatcherGroup` starts `agent cron watch --json` children on a project, reads their stdout and stderr
  with one thread per pipe, and collects every fire in one list with the time it arrived here. Used as a
  context manager it kills whatever is still running on exit, whatever happened in the test.
- `agent_cron(...)` runs one `agent cron ...` command in a child process, optionally with the child's
  wall clock shifted (only `time.time_ns`, which is what task creation reads), so a task added "two
  minutes ago" is due at once instead of at the next minute boundary.
- The task makers use the pure core to build tasks that are due at a chosen moment: overdue ones, and
  (with `FAST_JITTER` in `.claude/settings.json`) ones due at any given millisecond, by choosing the
  id whose jitter lands there. Every maker checks its own arithmetic with the core before returning.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from agent.cron.jitter import JitterConfig, jittered_next_fire, ms_to_datetime, one_shot_fire
from agent.cron.task import CronTask
from agent.cron.zone import local_zone

MINUTE_MS = 60_000
DAY_MS = 86_400_000
TASKS_FILE = Path(".claude") / "scheduled_tasks.json"
LOCK_FILE = Path(".claude") / "scheduled_tasks.lock"
# cronJitter that lets a test place a due time anywhere: a recurring `* * * * *` task fires up to a
# whole minute after the boundary (the id picks where), a one-shot up to a whole minute early.
FAST_JITTER: dict[str, Any] = {"recurringFrac": 1.0, "oneShotMinuteMod": 1, "oneShotMaxMs": 60_000}
_CLEARED_ENV = ("AGENT_DISABLE_CRON", "CLAUDE_CODE_DISABLE_CRON", "AGENT_CRON_FORCE_POLLING", "CLAUDE_CONFIG_DIR")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a child: no kill switch or forced polling inherited, HOME in a temp folder
    (so the user's own ~/.claude/settings.json cannot change what the test sees)."""
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED_ENV}
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env.update(extra)
    return env


# --- files ----------------------------------------------------------------------------------------------


def write_tasks(project: Path, tasks: Iterable[CronTask]) -> None:
    """Replace the tasks file atomically, the way another session's store would."""
    path = project / TASKS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"tasks": [t.to_json_dict() for t in tasks]}, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".test.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    os.replace(tmp, path)


def read_tasks(project: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((project / TASKS_FILE).read_text(encoding="utf-8"))
    return {t["id"]: t for t in data["tasks"]}


def write_settings(project: Path, settings: dict[str, Any]) -> None:
    path = project / ".claude" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings), encoding="utf-8")


def lock_holder_pid(project: Path) -> int | None:
    """The pid named by the project's scheduler lock, or None when there is no readable lock."""
    try:
        return int(json.loads((project / LOCK_FILE).read_bytes())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.01) -> Any:
    """Poll `condition` until it returns something truthy; AssertionError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# --- tasks due when we want them -------------------------------------------------------------------------


def overdue_recurring(task_id: str, now: int, prompt: str | None = None) -> CronTask:
    """A daily task at a wall time 12 hours away, last fired two days ago: due at once, and its next fire
    after that is hours away, so it fires exactly once in any test."""
    when = ms_to_datetime(now, local_zone())
    cron = f"{when.minute} {(when.hour + 12) % 24} * * *"
    task = CronTask(id=task_id, cron=cron, prompt=prompt or f"recurring {task_id}", createdAt=now - 3 * DAY_MS,
                    recurring=True, lastFiredAt=now - 2 * DAY_MS)
    due = jittered_next_fire(cron, now - 2 * DAY_MS, task_id, JitterConfig(), local_zone())
    following = jittered_next_fire(cron, now, task_id, JitterConfig(), local_zone())
    assert due is not None and due <= now and following is not None and following > now + 3_600_000
    return task


def overdue_one_shot(task_id: str, now: int, prompt: str | None = None) -> CronTask:
    """A one-shot `* * * * *` created 90 s ago: its minute has passed, so it is due at once."""
    task = CronTask(id=task_id, cron="* * * * *", prompt=prompt or f"one-shot {task_id}", createdAt=now - 90_000)
    due = one_shot_fire(task.cron, task.createdAt, task_id, JitterConfig(), local_zone())
    assert due is not None and due <= now
    return task


def recurring_due_at(target: int, *, created: int, prompt: str = "") -> tuple[CronTask, int]:
    """A recurring `* * * * *` task due at `target` (within a millisecond) under FAST_JITTER, and that due
    time. Its last fire is just before the minute that holds `target`; the id is chosen so that the
    jitter (a fraction of the minute given by the id) covers the rest."""
    boundary = target - target % MINUTE_MS
    task_id = f"{math.ceil((target - boundary) * 2**32 / MINUTE_MS):08x}"
    task = CronTask(id=task_id, cron="* * * * *", prompt=prompt or f"recurring {task_id}", createdAt=created,
                    recurring=True, lastFiredAt=boundary - 1_000)
    due = jittered_next_fire(task.cron, boundary - 1_000, task_id, JitterConfig(**FAST_JITTER), local_zone())
    assert due is not None and abs(due - target) <= 1, (due, target)
    return task, due


def one_shot_due_at(target: int, task_id: str, prompt: str = "") -> tuple[CronTask, int]:
    """A one-shot `* * * * *` task due at `target` under FAST_JITTER: created at `target`, with an id
    (use one starting with `fff`) whose early jitter reaches back past its minute, so creation bounds it."""
    task = CronTask(id=task_id, cron="* * * * *", prompt=prompt or f"one-shot {task_id}", createdAt=target)
    due = one_shot_fire(task.cron, target, task_id, JitterConfig(**FAST_JITTER), local_zone())
    assert due is not None and 0 <= due - target <= 20, (due, target)
    return task, due


# --- processes --------------------------------------------------------------------------------------------


def agent_cron(project: Path, *args: str, env: dict[str, str], shift_ms: int = 0,
               timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run `agent cron --cwd PROJECT ARGS...` in a child process; with `shift_ms`, the child's wall clock
    is moved by that much (negative: into the past)."""
    argv = ["cron", "--cwd", str(project), *args]
    code = (
        "import sys, time\n"
        f"_real = time.time_ns\ntime.time_ns = lambda: _real() + {shift_ms} * 1_000_000\n"
        "from agent.cli.main import main\nraise SystemExit(main(sys.argv[1:]))\n"
    )
    cmd = [sys.executable, "-c", code, *argv] if shift_ms else [sys.executable, "-m", "agent", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)


@dataclass
class Fire:
    """One line of `agent cron watch --json` output, and when this process read it (epoch ms)."""

    data: dict[str, Any]
    received_ms: int
    watcher: Watcher

    @property
    def id(self) -> str:
        return self.data["id"]


@dataclass
class Watcher:
    proc: subprocess.Popen[str]
    stderr_lines: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL and reap (a shell would reap a killed session at once too)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Send `sig` and wait for a normal exit; returns the exit status."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)


class WatcherGroup:
    """`agent cron watch --json` children on one project, their fires collected in arrival order."""

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.project = project
        self.env = env
        self.watchers: list[Watcher] = []
        self.fires: list[Fire] = []
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> WatcherGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, count: int = 1, env: dict[str, str] | None = None) -> list[Watcher]:
        started = []
        for _ in range(count):
            proc = subprocess.Popen(
                [sys.executable, "-m", "agent", "cron", "watch", "--json", "--cwd", str(self.project)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                env=env or self.env, cwd=self.project,
            )
            watcher = Watcher(proc)
            self.watchers.append(watcher)
            started.append(watcher)
            self._read(watcher, proc.stdout, self._on_stdout)
            self._read(watcher, proc.stderr, self._on_stderr)
        return started

    def close(self) -> None:
        for watcher in self.watchers:
            if watcher.proc.poll() is None:
                watcher.proc.kill()
        for watcher in self.watchers:
            watcher.proc.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)

    # reading

    def _read(self, watcher: Watcher, pipe: IO[str], handle: Callable[[Watcher, str], None]) -> None:
        def run() -> None:
            for line in pipe:
                handle(watcher, line)
            pipe.close()

        thread = threading.Thread(target=run, name=f"read-{watcher.pid}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _on_stdout(self, watcher: Watcher, line: str) -> None:
        fire = Fire(json.loads(line), now_ms(), watcher)
        with self._cond:
            self.fires.append(fire)
            self._cond.notify_all()

    def _on_stderr(self, watcher: Watcher, line: str) -> None:
        with self._cond:
            watcher.stderr_lines.append(line)

    # waiting

    def wait_for_fires(self, ids: Sequence[str], timeout: float) -> list[Fire]:
        """Block until each id has fired at least once; returns all fires so far."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout
        with self._cond:
            while not wanted <= {f.id for f in self.fires}:
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sorted(wanted - {f.id for f in self.fires})
                    raise AssertionError(f"no fire within {timeout:g} s for {missing}; stderr: {self.stderr()}")
                self._cond.wait(left)
            return list(self.fires)

    def settle(self, seconds: float) -> list[Fire]:
        """Keep collecting for `seconds` (to catch a second fire that must not come); returns all fires."""
        time.sleep(seconds)
        with self._cond:
            return list(self.fires)

    def owner(self, timeout: float = 30) -> Watcher:
        """The live watcher the lock file names (waits until there is one)."""
        def named() -> Watcher | None:
            pid = lock_holder_pid(self.project)
            return next((w for w in self.watchers if w.pid == pid and w.proc.poll() is None), None)

        return wait_until(named, timeout, "a watcher to hold the project lock")

    def stderr(self) -> str:
        return " | ".join(f"[{w.pid}] {w.stderr.strip()}" for w in self.watchers if w.stderr.strip())
