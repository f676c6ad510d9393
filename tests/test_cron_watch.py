"""TaskFileWatcher: coalesced external changes, silence for our own writes, laziness, fallback, stop."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from watchdog.observers.api import BaseObserver
from watchdog.utils import BaseThread

from agent.cron.watch import FORCE_POLLING_ENV, TaskFileWatcher

QUIET = 0.08
TIMEOUT = 5.0


class Recorder:
    """on_change target: counts calls, remembers when, and wakes a waiting test."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.event = asyncio.Event()
        self.threads: set[int] = set()

    def __call__(self) -> None:
        self.calls.append(time.monotonic())
        self.threads.add(threading.get_ident())
        self.event.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.event.wait(), TIMEOUT)
        self.event.clear()


def watchdog_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if isinstance(t, BaseThread) and t.is_alive()}


def write_externally(path: Path, text: str) -> None:
    """What another session's store does: temp file, then an atomic replace."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    (tmp_path / ".claude").mkdir()
    path = tmp_path / ".claude" / "scheduled_tasks.json"
    path.write_text('{"tasks": []}')
    return path


@pytest.fixture
async def started(task_file: Path):  # type: ignore[no-untyped-def]
    recorder = Recorder()
    watcher = TaskFileWatcher(task_file, asyncio.get_running_loop(), recorder, quiet_s=QUIET)
    watcher.ensure_started()
    assert watcher.mode == "watchdog"
    yield watcher, recorder
    watcher.stop()


async def test_external_replace_burst_is_delivered_once_after_the_quiet_period(
    started, task_file: Path
) -> None:
    _, recorder = started
    write_externally(task_file, '{"tasks": [1]}')
    task_file.write_text('{"tasks": [1, 2]}')  # more events in the same burst
    last_write = time.monotonic()
    await recorder.wait()
    await asyncio.sleep(QUIET * 4)
    assert len(recorder.calls) == 1
    assert recorder.calls[0] - last_write >= QUIET * 0.9
    assert recorder.threads == {threading.get_ident()}  # delivered on the loop's thread


async def test_each_event_resets_the_quiet_timer_so_a_slow_burst_is_one_change(
    started, task_file: Path
) -> None:
    _, recorder = started
    for n in range(4):  # 4 writes QUIET/2 apart: the burst lasts longer than quiet_s
        write_externally(task_file, f'{{"tasks": [{n}]}}')
        await asyncio.sleep(QUIET / 2)
    last_write = time.monotonic() - QUIET / 2
    await recorder.wait()
    await asyncio.sleep(QUIET * 3)
    assert len(recorder.calls) == 1
    assert recorder.calls[0] - last_write >= QUIET * 0.9


async def test_burst_of_own_writes_produces_no_callback(started, task_file: Path) -> None:
    watcher, recorder = started
    for n in range(5):
        write_externally(task_file, f'{{"tasks": [{n}]}}')
        watcher.note_own_write()
    await asyncio.sleep(QUIET * 6)
    assert recorder.calls == []
    write_externally(task_file, '{"tasks": ["theirs"]}')  # the watch is still alive
    await recorder.wait()
    assert len(recorder.calls) == 1


async def test_external_write_right_after_our_own_is_still_delivered(started, task_file: Path) -> None:
    watcher, recorder = started
    write_externally(task_file, '{"tasks": ["ours"]}')
    watcher.note_own_write()
    write_externally(task_file, '{"tasks": ["ours", "theirs"]}')
    await recorder.wait()
    assert len(recorder.calls) == 1


async def test_reads_and_other_files_in_the_folder_are_not_changes(started, task_file: Path) -> None:
    _, recorder = started
    for _ in range(3):
        task_file.read_text()
    (task_file.parent / "scheduled_tasks.lock").write_text("{}")
    (task_file.parent / "scheduled_tasks.json.lock").write_text("")
    await asyncio.sleep(QUIET * 5)
    assert recorder.calls == []


async def test_deleting_the_task_file_is_a_change(started, task_file: Path) -> None:
    _, recorder = started
    task_file.unlink()
    await recorder.wait()
    assert len(recorder.calls) == 1


async def test_watch_is_lazy_until_the_folder_exists_and_then_reports_a_file_that_appeared(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".claude" / "scheduled_tasks.json"
    recorder, before = Recorder(), watchdog_threads()
    watcher = TaskFileWatcher(path, asyncio.get_running_loop(), recorder, quiet_s=QUIET)
    try:
        watcher.ensure_started()
        assert watcher.mode == "idle"
        assert not path.parent.exists()
        assert watchdog_threads() == before
        path.parent.mkdir()
        path.write_text('{"tasks": [1]}')  # written while nothing watched
        watcher.ensure_started()
        assert watcher.mode == "watchdog"
        await recorder.wait()
        assert len(recorder.calls) == 1
    finally:
        watcher.stop()


async def test_folder_deleted_and_recreated_is_watched_again(started, task_file: Path) -> None:
    watcher, recorder = started
    shutil.rmtree(task_file.parent)
    await recorder.wait()  # the file went away with its folder
    watcher.ensure_started()
    assert watcher.mode == "idle"
    task_file.parent.mkdir()
    watcher.ensure_started()
    assert watcher.mode == "watchdog"
    write_externally(task_file, '{"tasks": ["new"]}')
    await recorder.wait()
    assert len(recorder.calls) == 2


async def test_stop_joins_the_observer_threads_and_is_idempotent(task_file: Path) -> None:
    before = watchdog_threads()
    recorder = Recorder()
    watcher = TaskFileWatcher(task_file, asyncio.get_running_loop(), recorder, quiet_s=QUIET)
    watcher.ensure_started()
    assert watchdog_threads() - before
    watcher.stop()
    assert watchdog_threads() == before
    assert watcher.mode == "idle"
    watcher.stop()
    watcher.ensure_started()  # a stopped watcher stays stopped
    assert watchdog_threads() == before


async def test_stop_drops_a_pending_burst(started, task_file: Path) -> None:
    watcher, recorder = started
    write_externally(task_file, '{"tasks": [1]}')
    await asyncio.sleep(QUIET / 4)  # the event reached the loop; its quiet timer is running
    await asyncio.to_thread(watcher.stop)  # how the scheduler calls it
    await asyncio.sleep(QUIET * 3)
    assert recorder.calls == []


# --- polling fallback ---------------------------------------------------------------------------------


async def test_forced_polling_reports_each_external_change_once_and_not_our_own(task_file: Path) -> None:
    recorder, before = Recorder(), watchdog_threads()
    watcher = TaskFileWatcher(task_file, asyncio.get_running_loop(), recorder, force_polling=True)
    watcher.ensure_started()
    assert watcher.mode == "polling"
    assert watchdog_threads() == before
    assert not watcher.poll()
    write_externally(task_file, '{"tasks": [1]}')
    assert watcher.poll()
    assert not watcher.poll()
    write_externally(task_file, '{"tasks": [2]}')
    watcher.note_own_write()
    assert not watcher.poll()
    task_file.unlink()
    assert watcher.poll()
    assert recorder.calls == []  # poll() reports; the caller reloads


async def test_env_var_forces_polling(task_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORCE_POLLING_ENV, "1")
    watcher = TaskFileWatcher(task_file, asyncio.get_running_loop(), Recorder())
    assert watcher.mode == "polling"


async def test_poll_is_a_no_op_while_watchdog_runs(started, task_file: Path) -> None:
    watcher, recorder = started
    write_externally(task_file, '{"tasks": [1]}')
    assert not watcher.poll()
    await recorder.wait()


@pytest.mark.parametrize("method", ["start", "schedule"])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EMFILE])
async def test_inotify_limits_fall_back_to_polling_with_one_warning(
    task_file: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, method: str, code: int
) -> None:
    def out_of_watches(*args: object, **kwargs: object) -> None:
        raise OSError(code, "inotify watch limit reached")

    monkeypatch.setattr(BaseObserver, method, out_of_watches)
    before = watchdog_threads()
    watcher = TaskFileWatcher(task_file, asyncio.get_running_loop(), Recorder(), quiet_s=QUIET)
    with caplog.at_level(logging.WARNING, logger="agent.cron.watch"):
        for _ in range(3):
            watcher.ensure_started()
    assert watcher.mode == "polling"
    assert len(caplog.records) == 1 and "inotify watch limit" in caplog.records[0].getMessage()
    assert watchdog_threads() == before  # the half-built observer was torn down
    write_externally(task_file, '{"tasks": [1]}')
    assert watcher.poll()
    watcher.stop()
