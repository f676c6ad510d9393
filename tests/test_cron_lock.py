"""SchedulerLock: ownership, staleness (dead pid, reused pid, garbage), release, and takeover races."""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agent.cron import lock as lock_mod
from agent.cron import lock_owner
from agent.cron.lock import LockInfo, SchedulerLock, parse_proc_stat, proc_start_token

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/<pid>/stat")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".claude").mkdir()
    return tmp_path


def lock_path(project: Path) -> Path:
    return project / ".claude" / "scheduled_tasks.lock"


def write_lock(project: Path, content: object, *, age_s: float = 0.0) -> None:
    path = lock_path(project)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    if age_s:
        past = time.time() - age_s
        os.utime(path, (past, past))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def lock_doc(session: str, pid: int, proc_start: object = "auto") -> dict[str, object]:
    start = proc_start_token(pid) if proc_start == "auto" else proc_start
    return {"sessionId": session, "pid": pid, "procStart": start, "acquiredAt": 1}


# --- acquiring and holding --------------------------------------------------------------------------


def test_fresh_acquire_creates_the_lock_file_with_our_identity(project: Path) -> None:
    lock = SchedulerLock(project, "s1", clock=lambda: 1_700_000_000.5)
    assert lock.try_acquire()
    doc = json.loads(lock_path(project).read_text())
    assert doc == {
        "sessionId": "s1",
        "pid": os.getpid(),
        "procStart": proc_start_token(os.getpid()),
        "acquiredAt": 1_700_000_000_500,
    }
    assert lock.is_held_by_us()
    assert lock.holder() == LockInfo("s1", os.getpid(), proc_start_token(os.getpid()), 1_700_000_000_500)


def test_reacquire_by_the_holder_succeeds_and_keeps_the_file(project: Path) -> None:
    lock = SchedulerLock(project, "s1")
    assert lock.try_acquire()
    before = lock_path(project).stat()
    assert lock.try_acquire()
    after = lock_path(project).stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_a_lock_naming_our_session_and_pid_counts_as_ours_after_restart(project: Path) -> None:
    write_lock(project, lock_doc("s1", os.getpid()))
    assert SchedulerLock(project, "s1").try_acquire()


def test_second_session_is_refused_while_the_first_lives(project: Path) -> None:
    first, second = SchedulerLock(project, "s1"), SchedulerLock(project, "s2")
    assert first.try_acquire()
    assert not second.try_acquire()
    assert not second.is_held_by_us()
    assert second.holder_is_alive()
    assert first.is_held_by_us()


def test_missing_claude_folder_is_not_created_and_not_acquired(tmp_path: Path) -> None:
    lock = SchedulerLock(tmp_path, "s1")
    assert not lock.try_acquire()
    assert not (tmp_path / ".claude").exists()
    assert not lock.holder_is_alive()


def test_read_only_folder_returns_false_and_warns_once(
    project: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def read_only(*args: object, **kwargs: object) -> int:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(lock_mod.os, "open", read_only)
    lock = SchedulerLock(project, "s1")
    with caplog.at_level(logging.WARNING, logger="agent.cron.lock"):
        assert not lock.try_acquire()
        assert not lock.try_acquire()
    assert len(caplog.records) == 1 and "Read-only" in caplog.records[0].getMessage()


def test_empty_session_id_is_a_programming_error(project: Path) -> None:
    with pytest.raises(ValueError):
        SchedulerLock(project, "")


# --- stale locks --------------------------------------------------------------------------------------


def test_lock_of_a_dead_pid_is_taken_over(project: Path) -> None:
    write_lock(project, lock_doc("old", dead_pid(), proc_start="12345"))
    lock = SchedulerLock(project, "new")
    assert not lock.holder_is_alive()
    assert lock.try_acquire()
    assert lock.holder() is not None and lock.holder().session_id == "new"


def test_live_pid_with_another_start_time_is_pid_reuse_and_taken_over(project: Path) -> None:
    real = proc_start_token(os.getpid())
    assert real is not None
    write_lock(project, lock_doc("old", os.getpid(), proc_start=str(int(real) + 1)))
    lock = SchedulerLock(project, "new")
    assert not lock.holder_is_alive()
    assert lock.try_acquire()
    assert lock.is_held_by_us()


def test_numeric_proc_start_matching_the_live_process_counts_as_held(project: Path) -> None:
    write_lock(project, lock_doc("old", os.getpid(), proc_start=int(proc_start_token(os.getpid()) or 0)))
    assert not SchedulerLock(project, "new").try_acquire()


UNREADABLE_STARTS = [None, "Mon Jan  1 10:00:00 2024", 12.5, {"x": 1}, "", True]


@pytest.mark.parametrize("proc_start", UNREADABLE_STARTS)
def test_unreadable_proc_start_with_acquired_at_after_the_process_started_counts_as_held(
    project: Path, proc_start: object
) -> None:
    doc = lock_doc("old", os.getpid(), proc_start=proc_start) | {"acquiredAt": int(time.time() * 1000)}
    write_lock(project, doc)
    lock = SchedulerLock(project, "new")
    assert lock.holder_is_alive()
    assert not lock.try_acquire()
    assert lock.holder() is not None and lock.holder().session_id == "old"
    assert lock.blocked_by is not None and lock.blocked_by.pid == os.getpid()


@pytest.mark.parametrize("proc_start", UNREADABLE_STARTS)
def test_unreadable_proc_start_and_a_process_younger_than_the_lock_is_pid_reuse(
    project: Path, proc_start: object
) -> None:
    write_lock(project, lock_doc("old", os.getpid(), proc_start=proc_start))  # acquiredAt 1970
    lock = SchedulerLock(project, "new")
    assert not lock.holder_is_alive()
    assert lock.try_acquire() and lock.is_held_by_us()


@pytest.mark.parametrize(
    "doc",
    [{"pid": 1}, {"pid": os.getppid()}, {"pid": os.getpid(), "sessionId": "x"}, {"pid": "1", "procStart": "?"},
     {"pid": 1, "acquiredAt": 10**30}, {"pid": 1, "procStart": None, "acquiredAt": "yesterday"}],
)
def test_a_lock_naming_a_long_lived_process_without_proc_start_or_acquired_at_is_stale(
    project: Path, doc: dict, caplog: pytest.LogCaptureFixture
) -> None:
    write_lock(project, doc)
    lock = SchedulerLock(project, "new")
    assert not lock.holder_is_alive()
    with caplog.at_level(logging.WARNING, logger="agent.cron.lock"):
        assert lock.try_acquire()
    assert lock.is_held_by_us()


@pytest.mark.parametrize(
    "content",
    [b"", b"not json {", b"[1, 2]", b'{"sessionId": "x"}', b'{"pid": "abc"}', b'{"pid": true}',
     b'{"pid": -5}'],
)
def test_old_garbage_is_stale_and_taken_over_with_one_warning(
    project: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    write_lock(project, content, age_s=60)
    lock = SchedulerLock(project, "new")
    assert not lock.holder_is_alive()
    with caplog.at_level(logging.WARNING, logger="agent.cron.lock"):
        assert lock.try_acquire()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(lock_path(project)) in warnings[0].getMessage()
    assert lock.is_held_by_us()


@pytest.mark.parametrize("content", [b"", b"{\"sessionId\": \"half-writ"])
def test_fresh_garbage_may_be_a_contender_mid_write_and_counts_as_held(project: Path, content: bytes) -> None:
    write_lock(project, content)
    lock = SchedulerLock(project, "new")
    assert lock.holder_is_alive()
    assert not lock.try_acquire()
    assert lock_path(project).read_bytes() == content


def test_zombie_holder_counts_as_dead(project: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(project, lock_doc("child", child.pid))
        lock = SchedulerLock(project, "parent")
        assert lock.holder_is_alive()
        child.kill()
        deadline = time.monotonic() + 30
        while lock.holder_is_alive() and time.monotonic() < deadline:  # not reaped yet: a zombie
            time.sleep(0.01)
        assert not lock.holder_is_alive()
        assert lock.try_acquire()
    finally:
        child.kill()
        child.wait()


# --- release ------------------------------------------------------------------------------------------


def test_release_removes_our_lock_and_is_idempotent(project: Path) -> None:
    lock = SchedulerLock(project, "s1")
    assert lock.try_acquire()
    lock.release()
    assert not lock_path(project).exists()
    lock.release()
    assert SchedulerLock(project, "s2").try_acquire()


def test_release_leaves_another_sessions_lock_alone(project: Path) -> None:
    assert SchedulerLock(project, "owner").try_acquire()
    SchedulerLock(project, "other").release()
    assert SchedulerLock(project, "owner").is_held_by_us()


def test_release_after_takeover_does_not_remove_the_new_owners_lock(project: Path) -> None:
    ours = SchedulerLock(project, "s1")
    assert ours.try_acquire()
    # Another session judged us dead (say, a PID-reuse false alarm) and took over.
    write_lock(project, lock_doc("s2", os.getpid()))
    assert not ours.is_held_by_us()
    ours.release()
    assert lock_path(project).exists()
    assert SchedulerLock(project, "s2").is_held_by_us()


# --- /proc/<pid>/stat ---------------------------------------------------------------------------------


def test_parse_proc_stat_counts_fields_after_the_last_parenthesis() -> None:
    fields = ["S", *[str(n) for n in range(4, 22)], "987654", "1", "2"]
    text = "4242 (evil) (name) x) " + " ".join(fields) + "\n"
    assert parse_proc_stat(text) == ("S", "987654")


@pytest.mark.parametrize(
    "text", ["", "4242 (cmd) S 1 2", "no parens here " + "1 " * 30, "4242 (cmd) " + "x " * 30]
)
def test_parse_proc_stat_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_proc_stat(text)


@linux_only
def test_proc_start_token_reads_a_real_process_whose_name_has_parens_and_spaces(tmp_path: Path) -> None:
    exe = tmp_path / "x) (y z"
    exe.symlink_to("/bin/sleep")
    proc = subprocess.Popen([str(exe), "30"])
    try:
        deadline = time.monotonic() + 30
        while "x) (y z" not in Path(f"/proc/{proc.pid}/stat").read_text() and time.monotonic() < deadline:
            time.sleep(0.005)
        stat_text = Path(f"/proc/{proc.pid}/stat").read_text()
        assert "(x) (y z)" in stat_text
        expected = stat_text.rsplit(")", 1)[1].split()[19]
        assert proc_start_token(proc.pid) == expected
    finally:
        proc.kill()
        proc.wait()
    assert proc_start_token(proc.pid) is None


def test_non_linux_tokens_use_psutil_create_time(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    monkeypatch.setattr(lock_owner, "_USE_PROC_STAT", False)
    assert proc_start_token(os.getpid()) == str(psutil.Process().create_time())
    write_lock(project, lock_doc("old", os.getpid(), proc_start="1.5"))  # reused pid
    assert SchedulerLock(project, "new").try_acquire()
    now_ms = int(time.time() * 1000)
    write_lock(project, lock_doc("old", os.getpid(), proc_start="Mon Jan 1") | {"acquiredAt": now_ms})
    assert not SchedulerLock(project, "new2").try_acquire()  # unreadable start, written after ours: held
    write_lock(project, lock_doc("old", os.getpid(), proc_start="Mon Jan 1"))  # written before we started
    assert SchedulerLock(project, "new3").try_acquire()


# --- races -----------------------------------------------------------------------------------------------


@pytest.fixture(params=["flock", "guard-file"])
def takeover(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a race test with flock-based takeover (POSIX) and with the guard-file fallback (Windows)."""
    if request.param == "guard-file":
        monkeypatch.setattr(lock_mod, "_fcntl", None)
    elif lock_mod._fcntl is None:
        pytest.skip("no fcntl here")
    return str(request.param)


def test_late_contender_never_removes_the_lock_an_earlier_one_just_took(project: Path, takeover: str) -> None:
    write_lock(project, lock_doc("dead", dead_pid(), proc_start="1"))
    judged_stale = lock_mod._read_snapshot(lock_path(project))  # B reads and judges this stale ...
    a = SchedulerLock(project, "a")
    assert a.try_acquire()  # ... meanwhile A removes it and creates its own
    assert judged_stale is not None
    assert not lock_mod._unlink_if_unchanged(lock_path(project), judged_stale)  # B's removal must refuse
    assert a.is_held_by_us()
    assert sorted(p.name for p in (project / ".claude").iterdir()) == ["scheduled_tasks.lock"]


def test_many_threads_racing_for_a_stale_lock_have_exactly_one_winner(project: Path, takeover: str) -> None:
    contenders = 4
    stale_pid = dead_pid()
    for round_no in range(150):
        write_lock(project, lock_doc("dead", stale_pid, proc_start="1"))
        locks = [SchedulerLock(project, f"r{round_no}-t{i}") for i in range(contenders)]
        results: list[bool] = [False] * contenders
        barrier = threading.Barrier(contenders)

        def run(i: int, locks: list[SchedulerLock] = locks, results: list[bool] = results,
                barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            results[i] = locks[i].try_acquire()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(contenders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(results) == 1, f"round {round_no}: {results}"
        assert locks[results.index(True)].is_held_by_us()
    assert sorted(p.name for p in (project / ".claude").iterdir()) == ["scheduled_tasks.lock"]


def _race_worker(project: str, worker: int, rounds: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    for round_no in range(rounds):
        lock = SchedulerLock(project, f"r{round_no}-w{worker}")
        barrier.wait()
        results.put((round_no, worker, lock.try_acquire()))
        barrier.wait()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_many_processes_racing_for_a_stale_lock_have_exactly_one_winner(project: Path, takeover: str) -> None:
    ctx = multiprocessing.get_context("fork")
    workers, rounds = 3, 40
    barrier, results = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(str(project), w, rounds, barrier, results))
             for w in range(workers)]
    for p in procs:
        p.start()
    stale_pid = dead_pid()
    try:
        for round_no in range(rounds):
            write_lock(project, lock_doc("dead", stale_pid, proc_start="1"))
            barrier.wait(timeout=60)
            outcomes = [results.get(timeout=60) for _ in range(workers)]
            winners = [w for (_, w, won) in outcomes if won]
            assert len(winners) == 1, f"round {round_no}: {outcomes}"
            holder = SchedulerLock(project, "observer").holder()
            assert holder is not None and holder.session_id == f"r{round_no}-w{winners[0]}"
            barrier.wait(timeout=60)
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def test_guard_file_left_by_a_crash_mid_takeover_is_cleared_after_a_while(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lock_mod, "_fcntl", None)  # guard files belong to the fallback
    write_lock(project, lock_doc("dead", dead_pid(), proc_start="1"))
    guard = project / ".claude" / "scheduled_tasks.lock.takeover"
    guard.touch()
    lock = SchedulerLock(project, "new")
    assert not lock.try_acquire()  # a fresh guard: somebody is mid-takeover, back off
    assert guard.exists()
    past = time.time() - 60
    os.utime(guard, (past, past))
    assert not lock.try_acquire()  # clears the abandoned guard ...
    assert not guard.exists()
    assert lock.try_acquire()  # ... so the next probe takes over


@pytest.mark.skipif(lock_mod._fcntl is None, reason="no fcntl here")
def test_filesystem_without_flock_still_takes_over_through_the_guard_file(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock_mod._fcntl, "flock", no_locks)
    write_lock(project, lock_doc("dead", dead_pid(), proc_start="1"))
    lock = SchedulerLock(project, "new")
    assert lock.try_acquire()
    assert lock.is_held_by_us()
    assert not (project / ".claude" / "scheduled_tasks.lock.takeover").exists()


CHILD_HOLDER = """
import sys, time
from agent.cron.lock import SchedulerLock
assert SchedulerLock(sys.argv[1], "child").try_acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_lock_of_a_sigkilled_child_process_is_taken_over(project: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_HOLDER, str(project)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        ours = SchedulerLock(project, "parent")
        assert ours.holder_is_alive()
        assert not ours.try_acquire()
        assert ours.holder() is not None and ours.holder().pid == child.pid
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        assert not ours.holder_is_alive()
        assert ours.try_acquire()
        assert ours.is_held_by_us()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
