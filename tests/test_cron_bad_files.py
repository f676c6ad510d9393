"""Bad files never stop the scheduler: unreadable or odd tasks files, bad entries, garbage locks and
settings, and writers killed mid-write.

The store's own refusal to overwrite an unreadable file is proved in test_cron_task_store.py and the
lock's garbage rules in test_cron_lock.py; here it is the running scheduler (ticked with a fake clock)
and `agent cron watch` that must keep firing what they can, leave the bad file alone, recover without a
restart once it is fixed, and say once what is wrong and where.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cron_procs import WatcherGroup, child_env, overdue_one_shot, wait_until, write_tasks
from sched_helpers import MIN, T0, Clock, make, task

from agent.cron.scheduler import CronScheduler
from agent.cron.store import FileTaskStore


def tasks_path(project: Path) -> Path:
    return project / ".claude" / "scheduled_tasks.json"


def write_raw(project: Path, content: bytes) -> Path:
    path = tasks_path(project)
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    return path


def touch_later(path: Path, seconds: int) -> None:
    """Change the mtime, as a rewrite of the same bytes would, so a polling scheduler reloads."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def notice_change(sched: CronScheduler) -> None:
    """What the file watcher posts to the loop after a change (tick-driven tests run no watcher)."""
    sched._file_changed()


def warnings_about(caplog: pytest.LogCaptureFixture, *needles: str) -> list[str]:
    return [
        r.getMessage() for r in caplog.records
        if r.levelno == logging.WARNING and all(n in r.getMessage() for n in needles)
    ]


# --- unreadable tasks files ----------------------------------------------------------------------------

UNREADABLE = {
    "truncated": (b'{"tasks": [{"id": "aaaa0001", "cron": "*/5 * ', "not valid JSON"),
    "not an object": (b'[{"id": "aaaa0001"}]\n', "the top level is list, not an object"),
    "tasks not a list": (b'{"tasks": {"aaaa0001": {}}}\n', '"tasks" is not a list'),
    "empty": (b"", "the file is empty"),
    "not utf-8": (b'{"tasks": [], "note": "\xff"}\n', "not UTF-8"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
async def test_unreadable_tasks_file_is_left_as_is_warned_once_and_picked_up_once_fixed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    content, reason = UNREADABLE[case]
    path = write_raw(tmp_path, content)
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("5e550001"))
    with caplog.at_level(logging.WARNING):
        await sched.tick()
        touch_later(path, 1)  # the same bad bytes again: reloaded, but the same problem is not news
        notice_change(sched)
        clock.now += 1_000
        await sched.tick()
    assert [f.task.id for f in fired] == ["5e550001"]
    assert path.read_bytes() == content
    assert len(warnings_about(caplog, str(path), "left unchanged", reason)) == 1
    assert len(warnings_about(caplog)) == 1
    write_tasks(tmp_path, [task("f1ced001", lastFiredAt=T0)])  # fixed by hand: no restart needed
    notice_change(sched)
    await sched.tick()
    assert [f.task.id for f in fired] == ["5e550001", "f1ced001"]


async def test_file_that_turns_bad_after_loading_is_not_written_and_its_due_task_waits_for_the_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_tasks(tmp_path, [task("aaaa0002", lastFiredAt=T0)])
    path = tasks_path(tmp_path)
    clock, fired = Clock(T0 + MIN), []
    sched = make(tmp_path, clock, fired)
    await sched.tick()  # loaded; due at 9:05
    # Corrupt it without changing size, mtime or inode, so no reload happens before the fire.
    st = path.stat()
    garbage = b"\x00" * st.st_size
    with open(path, "r+b") as fh:
        fh.write(garbage)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    sched.session_store.add(task("5e550002"))
    clock.now = T0 + 5 * MIN
    with caplog.at_level(logging.WARNING):
        await sched.tick()
        await sched.tick()
    assert [f.task.id for f in fired] == ["5e550002"]
    assert path.read_bytes() == garbage
    assert len(warnings_about(caplog, str(path), "durable tasks will not fire until it is fixed")) == 1
    write_tasks(tmp_path, [task("aaaa0002", lastFiredAt=T0)])
    notice_change(sched)
    await sched.tick()
    await sched.tick()
    assert [f.task.id for f in fired] == ["5e550002", "aaaa0002"]


# --- bad entries -----------------------------------------------------------------------------------------


async def test_bad_cron_entries_are_warned_once_each_kept_in_place_and_the_rest_fire(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad_syntax = {"id": "bad00001", "cron": "61 * * * *", "prompt": "never", "createdAt": T0, "recurring": True}
    write_raw(tmp_path, json.dumps({"tasks": [
        task("aaaa0003", lastFiredAt=T0).to_json_dict(),
        bad_syntax,
        task("bad00002", "0 0 30 2 *").to_json_dict(),  # parses, but no 30 February ever comes
        task("aaaa0004", lastFiredAt=T0).to_json_dict(),
    ]}).encode())
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # each fire rewrites the file and each rewrite is reloaded
            await sched.tick()
            clock.now += 5 * MIN
    assert sorted(f.task.id for f in fired) == ["aaaa0003"] * 3 + ["aaaa0004"] * 3
    syntax = warnings_about(caplog, str(tasks_path(tmp_path)), "tasks[1]", "bad00001", "61")
    assert len(syntax) == 1 and "minute" in syntax[0]
    assert len(warnings_about(caplog, "bad00002", "never fires")) == 1
    assert len(warnings_about(caplog)) == 2
    entries = json.loads(tasks_path(tmp_path).read_text())["tasks"]
    assert entries[1] == bad_syntax and entries[2]["id"] == "bad00002"
    assert entries[0]["lastFiredAt"] == entries[3]["lastFiredAt"] == T0 + 15 * MIN


# --- other files ---------------------------------------------------------------------------------------


async def test_garbage_lock_file_does_not_stop_session_tasks_and_is_taken_over_once_stale(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_tasks(tmp_path, [task("aaaa0005", lastFiredAt=T0)])
    lock = tmp_path / ".claude" / "scheduled_tasks.lock"
    lock.write_bytes(b"\x00\x17 not a lock")  # fresh: might be a contender between create and write
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("5e550003"))
    with caplog.at_level(logging.WARNING):
        await sched.tick()
        assert [f.task.id for f in fired] == ["5e550003"] and not sched.is_owner
        assert lock.read_bytes() == b"\x00\x17 not a lock"
        past = time.time() - 60
        os.utime(lock, (past, past))  # nobody finished writing it for a minute: stale
        await sched.tick()
        await sched.tick()
    assert sched.is_owner
    assert [f.task.id for f in fired] == ["5e550003", "aaaa0005"]
    assert len(warnings_about(caplog, str(lock), "unreadable")) == 1
    assert len(warnings_about(caplog)) == 1
    await sched.stop()
    assert not lock.exists()


async def test_garbage_settings_file_is_one_warning_and_firing_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_tasks(tmp_path, [task("aaaa0006", lastFiredAt=T0)])
    settings = tmp_path / ".claude" / "settings.json"
    settings.write_text('{"env": {"AGENT_DISABLE_CRON": ')
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("5e550004"))
    with caplog.at_level(logging.WARNING):
        await sched.tick()
        clock.now += 5 * MIN
        await sched.tick()
    assert sorted(f.task.id for f in fired) == ["5e550004", "5e550004", "aaaa0006", "aaaa0006"]
    assert len(warnings_about(caplog, str(settings), "not valid JSON")) == 1


def test_agent_cron_watch_on_a_truncated_file_warns_once_on_stderr_and_fires_once_it_is_fixed(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    content = b'{"tasks": [{"id": "aaaa0007", "cron": "* * * * *", "prompt": "x", "createdAt": 17'
    project.mkdir()
    path = write_raw(project, content)
    with WatcherGroup(project, child_env(tmp_path / "home")) as group:
        watcher = group.start(1)[0]
        group.owner()
        wait_until(lambda: watcher.stderr, 30, "the warning")
        fixed = overdue_one_shot("f1ced002", int(time.time() * 1000))
        time.sleep(1.5)  # a few ticks on the bad file
        assert path.read_bytes() == content
        write_tasks(project, [fixed])
        group.wait_for_fires([fixed.id], timeout=30)
        assert watcher.proc.poll() is None
    lines = watcher.stderr.splitlines()
    assert len(lines) == 1, lines
    assert str(path) in lines[0] and "not valid JSON" in lines[0] and "left unchanged" in lines[0]


# --- writers killed mid-write ----------------------------------------------------------------------------

KILLED_AT_REPLACE = """
import os, signal, sys
from agent.cron.store import FileTaskStore
from agent.cron.task import CronTask
os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)  # dies after writing, before replacing
FileTaskStore(sys.argv[1]).add(CronTask(id="dead0001", cron="* * * * *", prompt="x" * 100_000, createdAt=1))
"""


def test_writer_killed_between_writing_and_replacing_leaves_the_old_file_whole(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(task("aaaa0008"))
    before = store.path.read_bytes()
    child = subprocess.run([sys.executable, "-c", KILLED_AT_REPLACE, str(tmp_path)], capture_output=True,
                           timeout=30, check=False)
    assert child.returncode == -signal.SIGKILL
    leftovers = [p for p in store.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 100_000  # it did write, then died
    assert store.path.read_bytes() == before
    store.add(task("aaaa0009"))  # the next writer is not confused by the leftover
    assert [t.id for t in store.load().tasks] == ["aaaa0008", "aaaa0009"]


LOOPING_WRITER = """
import sys
from agent.cron.store import FileTaskStore
from agent.cron.task import CronTask
store = FileTaskStore(sys.argv[1])
big = CronTask(id="b1600000", cron="* * * * *", prompt="y" * 200_000, createdAt=1)
while True:
    store.add(big)
    store.remove([big.id])
    print("wrote", flush=True)
"""


def test_writer_killed_at_random_moments_never_leaves_a_truncated_file(tmp_path: Path) -> None:
    store = FileTaskStore(tmp_path)
    store.add(task("aaaa000a"))
    old, new = {"aaaa000a"}, {"aaaa000a", "b1600000"}
    rng = random.Random(3)
    for _ in range(4):
        child = subprocess.Popen([sys.executable, "-c", LOOPING_WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                                 text=True)
        try:
            assert child.stdout is not None and child.stdout.readline() == "wrote\n"
            deadline = time.monotonic() + rng.uniform(0.05, 0.3)
            reads = 0
            while time.monotonic() < deadline or reads < 20:  # readers never see a partial file either
                assert {t.id for t in store.load().tasks} in (old, new)
                reads += 1
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        loaded = store.load()
        assert loaded.problems == [] and {t.id for t in loaded.tasks} in (old, new)
        store.remove(["b1600000"])


async def test_a_file_that_breaks_again_after_a_fix_is_warned_about_again(tmp_path, caplog):
    from agent.cron.scheduler import CronScheduler

    path = tmp_path / ".claude" / "scheduled_tasks.json"
    path.parent.mkdir()
    sched = CronScheduler(tmp_path, lambda f: None, env={}, use_watchdog=False)
    with caplog.at_level(logging.WARNING):
        for content in (b"{broken", b'{"tasks": []}', b"{broken"):
            path.write_bytes(content)
            sched._file_changed()
            await sched.tick()
    assert len([r for r in caplog.records if "could not be read" in r.getMessage()]) == 2
    await sched.stop()
