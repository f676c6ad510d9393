"""The lock never blocks silently: odd lock files cannot hang or stop the scheduler, problems are logged
once, and `agent cron watch`, `agent daemon` and /cron say which process holds the lock."""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sched_helpers import MIN, T0, Clock, make, task

from agent.cron import lock as lock_mod
from agent.cron.lock import LockInfo, SchedulerLock, holder_message, other_holder, proc_start_token
from agent.cron.store import FileTaskStore

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs, sockets and /dev/zero")

CHILD_HOLDER = """
import sys, time
from agent.cron.lock import SchedulerLock
assert SchedulerLock(sys.argv[1], "child").try_acquire()
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    (path / ".claude").mkdir(parents=True)
    return path


def lock_path(project: Path) -> Path:
    return project / ".claude" / "scheduled_tasks.lock"


def lock_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name == "agent.cron.lock"]


def promptly(fn, timeout: float = 10.0):
    """Run `fn` in a thread; fail (instead of hanging the suite) if it does not return in time."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{fn} blocked"
    return result[0]


@pytest.fixture
def child_holder(project: Path):
    """A child process holding the project's lock; its argv ends in `agent daemon`, like a daemon's."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", CHILD_HOLDER, str(project), "agent", "daemon"],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield child
    finally:
        child.kill()
        child.wait()


def holder_lines(project: Path, pid: int) -> list[str]:
    """The message naming the lock's holder, as it may read when checked now: since the time it took the
    lock, or (once the local day has turned since then) also since its date and time, as the process that
    wrote the message may have looked before or after midnight."""
    acquired = datetime.fromtimestamp(json.loads(lock_path(project).read_text())["acquiredAt"] / 1000).astimezone()
    since = [acquired.strftime("%H:%M")]
    if datetime.now().astimezone().date() != acquired.date():
        since.append(acquired.strftime("%b %d %H:%M"))
    return [f"Durable tasks fire in another process: PID {pid} (agent daemon?) since {text}; "
            "this one takes over if it stops." for text in since]


# --- files that are not locks --------------------------------------------------------------------------


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_dev_zero_link(path: Path) -> None:
    path.symlink_to("/dev/zero")


def make_huge(path: Path) -> None:
    with open(path, "wb") as f:
        f.write(b'{"pid": 1, "x": "' + b"a" * (8 * 1024 * 1024) + b'"}')


def make_socket(path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(path.parent)  # a relative bind: socket paths are limited to ~108 bytes (a worker's tmp path is long)
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path.name)
        sock.close()
    finally:
        os.chdir(cwd)


def make_deep_json(path: Path) -> None:
    path.write_bytes(b"[" * 60_000)
    past = time.time() - 60
    os.utime(path, (past, past))


@posix_only
@pytest.mark.parametrize(
    ("maker", "said"),
    [(make_fifo, "a named pipe"), (make_dev_zero_link, "a symbolic link"), (make_huge, "larger than 64 KiB"),
     (make_socket, "a socket"), (make_deep_json, "unreadable")],
)
def test_a_lock_path_that_is_no_lock_never_blocks_and_is_taken_over_with_one_warning(
    project: Path, caplog: pytest.LogCaptureFixture, maker, said: str
) -> None:
    maker(lock_path(project))
    lock = SchedulerLock(project, "new")
    with caplog.at_level(logging.WARNING, logger="agent.cron.lock"):
        assert promptly(lock.holder) is None
        assert promptly(lock.holder_is_alive) is False
        assert promptly(lock.try_acquire) is True
    assert lock.is_held_by_us() and lock_path(project).is_file() and not lock_path(project).is_symlink()
    warnings = lock_warnings(caplog)
    assert len(warnings) == 1 and said in warnings[0] and str(lock_path(project)) in warnings[0]


def test_a_directory_at_the_lock_path_is_one_warning_and_a_clear_problem_however_often_tried(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock_path(project).mkdir()
    (lock_path(project) / "keep").touch()
    lock = SchedulerLock(project, "new")
    with caplog.at_level(logging.WARNING, logger="agent.cron.lock"):
        for _ in range(20):
            assert not promptly(lock.holder_is_alive)
            assert not promptly(lock.try_acquire)
    assert len(lock_warnings(caplog)) == 2  # "is a directory ... stale", then "cannot remove it": once each
    assert lock.problem is not None and "a directory" in lock.problem and "cannot be removed" in lock.problem
    assert lock.blocked_by is None


def test_io_errors_that_alternate_between_probe_and_acquire_are_logged_once(
    project: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(*args: object, **kwargs: object):
        raise OSError(errno.EACCES, "Permission denied")

    lock = SchedulerLock(project, "new")
    monkeypatch.setattr(lock_mod.os, "lstat", denied)
    monkeypatch.setattr(lock_mod.os, "open", denied)
    with caplog.at_level(logging.WARNING, logger="agent.cron.lock"):
        for _ in range(10):  # what a non-owner's tick does: probe, then try
            lock.holder_is_alive()
            lock.try_acquire()
    monkeypatch.undo()
    assert len(lock_warnings(caplog)) == 1
    assert lock.try_acquire()  # works again; a later problem warns anew


# --- who holds it ----------------------------------------------------------------------------------------


def test_holder_message_names_the_pid_what_it_seems_to_be_and_since_when(project: Path, child_holder) -> None:
    info = SchedulerLock(project, "me").holder()
    assert info is not None
    message = holder_message(info)
    assert message in holder_lines(project, child_holder.pid)


def test_holder_message_of_an_unknown_time_leaves_the_time_out() -> None:
    info = LockInfo("s", os.getpid(), proc_start_token(os.getpid()), 10**30)
    assert f"PID {os.getpid()}" in holder_message(info) and "since" not in holder_message(info)


def test_other_holder_names_a_live_other_process_only(project: Path, child_holder) -> None:
    info = other_holder(project)
    assert info is not None and info.pid == child_holder.pid
    assert other_holder(project, pid=child_holder.pid) is None  # as seen from the holder itself
    child_holder.kill()
    child_holder.wait()
    assert other_holder(project) is None


async def test_scheduler_reports_the_holder_once_and_fires_durable_tasks_after_it_dies(
    project: Path, child_holder
) -> None:
    FileTaskStore(project).add(task("aaaa0101", lastFiredAt=T0))
    clock, fired, said = Clock(T0 + 5 * MIN), [], []
    sched = make(project, clock, fired, on_lock_wait=said.append, probe_s=0)
    for _ in range(5):
        await sched.tick()
    assert not sched.is_owner and fired == []
    assert len(said) == 1 and said[0] in holder_lines(project, child_holder.pid)
    child_holder.kill()
    child_holder.wait()
    await sched.tick()
    assert sched.is_owner and [f.task.id for f in fired] == ["aaaa0101"]
    await sched.stop()


async def test_a_committed_pid_1_lock_does_not_stop_durable_tasks(project: Path) -> None:
    lock_path(project).write_text('{"pid": 1}')
    FileTaskStore(project).add(task("aaaa0102", lastFiredAt=T0))
    clock, fired, said = Clock(T0 + 5 * MIN), [], []
    sched = make(project, clock, fired, on_lock_wait=said.append)
    await sched.tick()
    assert sched.is_owner and [f.task.id for f in fired] == ["aaaa0102"] and said == []
    await sched.stop()


async def test_an_unremovable_lock_is_reported_once_while_session_tasks_keep_firing(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lock_path(project).mkdir()
    (lock_path(project) / "keep").touch()
    clock, fired, said = Clock(T0 + 5 * MIN), [], []
    sched = make(project, clock, fired, on_lock_wait=said.append)
    sched.session_store.add(task("5e550101", "* * * * *"))
    with caplog.at_level(logging.WARNING):
        for _ in range(60):  # a minute of ticks
            clock.now += 1_000
            await sched.tick()
    assert not sched.is_owner and {f.task.id for f in fired} == {"5e550101"}
    assert len(said) == 1 and "is a directory" in said[0] and "cannot be removed" in said[0]
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 2
    await sched.stop()


# --- the faces -------------------------------------------------------------------------------------------


def read_line_with(stream, needle: str, timeout: float = 20) -> str:
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in stream:
            lines.append(line)
            if needle in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), f"no {needle!r} in output: {''.join(lines)}"
    return lines[-1]


@pytest.mark.parametrize("face", ["cron watch", "daemon"])
def test_watch_and_daemon_say_which_process_holds_the_lock(
    project: Path, child_holder, face: str, fake_api_env: dict[str, str]
) -> None:
    env = fake_api_env
    proc = subprocess.Popen([sys.executable, "-m", "agent", *face.split(), "--cwd", str(project)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        line = read_line_with(proc.stderr if face == "cron watch" else proc.stdout, "Durable tasks fire")
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert any(expected in line for expected in holder_lines(project, child_holder.pid)), line


async def test_cron_command_in_the_chat_says_which_process_holds_the_lock(
    project: Path, child_holder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_commands import Harness

    from agent.engine.session import AgentSession, SessionOptions

    monkeypatch.setenv("HOME", str(project.parent / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    out = await Harness(AgentSession(project, SessionOptions())).run("/cron")
    assert f"Durable tasks fire in another process: PID {child_holder.pid} (agent daemon?)" in out
