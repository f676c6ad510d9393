"""Hostile tasks files (as a repository could commit them) cannot hang, crash or stop the scheduler.

Two tables: files that cannot be used at all (refused at once with one line, left exactly as they are,
session tasks keep firing) and entries that cannot be used (skipped with one warning each, kept on disk
byte for byte, every other task keeps firing). Then the write side: symlinks, a full disk, a folder
where the lock file belongs.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cron_procs import child_env
from sched_helpers import MIN, T0, Clock, make, task

from agent.cli.main import main
from agent.cron.store import FileTaskStore, TaskFileError
from agent.cron.task import MAX_EPOCH_MS
from agent.jsonfile import MIB, load_json


def tasks_path(project: Path) -> Path:
    return project / ".claude" / "scheduled_tasks.json"


def warnings(caplog: pytest.LogCaptureFixture, *needles: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and all(n in r.getMessage() for n in needles)]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- files that cannot be used at all ------------------------------------------------------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _folder(path: Path) -> None:
    path.mkdir()


def _socket(path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(path.parent)  # a relative bind: socket paths are limited to ~108 bytes
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path.name)
        sock.close()
    finally:
        os.chdir(cwd)


def _bytes(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere" / "tasks.json")


BIG = b'{"tasks": [], "pad": "' + b"x" * MIB + b'"}'
UNUSABLE: dict[str, tuple[Callable[[Path], None], str]] = {
    "FIFO": (_fifo, "it is a FIFO, not a regular file"),
    "symlink to /dev/zero": (_dev_zero, "it is a character device, not a regular file"),
    "folder": (_folder, "it is a folder, not a regular file"),
    "unix socket": (_socket, "No such device or address"),
    "over 1 MiB": (_bytes(BIG), "it is larger than the 1 MiB limit"),
    "100000 nested lists": (_bytes(b'{"tasks": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "nested more than"),
    "65 nested objects": (_bytes(b'{"tasks": [], "x": ' + b'{"a": ' * 64 + b"1" + b"}" * 64 + b"}"),
                          "nested more than 64 levels"),
    "surrogate as UTF-8 bytes": (_bytes(b'{"tasks": [], "note": "\xed\xa0\x80"}'), "not UTF-8 text (byte 23)"),
    "dangling symlink": (_dangling, "which does not exist"),
}


def snapshot(path: Path) -> tuple:
    """What must not change: the kind of file, where a link points, and a regular file's bytes."""
    if path.is_symlink():
        return ("link", os.readlink(path))
    if path.is_file() and path.stat().st_size <= 2 * MIB:
        return ("file", path.read_bytes())
    return ("other", path.stat().st_mode)


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_tasks_file_is_refused_at_once_in_one_line_and_left_as_it_is(
    tmp_path: Path, capsys, case: str
) -> None:
    make_file, reason = UNUSABLE[case]
    path = tasks_path(tmp_path)
    path.parent.mkdir()
    make_file(path)
    before = snapshot(path)
    with pytest.raises(TaskFileError) as caught:
        FileTaskStore(tmp_path).load()
    assert str(path) in str(caught.value) and reason in str(caught.value)
    for listing in (["list"], ["list", "--json"]):
        code, out, err = run(capsys, "cron", "--cwd", str(tmp_path), *listing)
        assert code == 0 and reason in err and len(err.strip().splitlines()) == 1
        assert out.strip() == "[]" if "--json" in listing else "No scheduled tasks" in out
    for change in (["add", "--cron", "* * * * *", "--prompt", "x"], ["delete", "aaaa0001"]):
        code, out, err = run(capsys, "cron", "--cwd", str(tmp_path), *change)
        assert code == 1 and out == "" and "left unchanged" in err and len(err.strip().splitlines()) == 1
    assert snapshot(path) == before


@pytest.mark.parametrize("case", ["FIFO", "100000 nested lists", "over 1 MiB"])
async def test_scheduler_warns_once_about_an_unusable_file_and_keeps_firing_session_tasks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    make_file, reason = UNUSABLE[case]
    path = tasks_path(tmp_path)
    path.parent.mkdir()
    make_file(path)
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("5e550001", "* * * * *"))
    with caplog.at_level(logging.WARNING):
        for _ in range(5):  # reloaded every tick (as if it kept changing): the same problem is no news
            sched._file_changed()
            await sched.tick()
            clock.now += MIN
    assert [f.task.id for f in fired] == ["5e550001"] * 5
    assert len(warnings(caplog, str(path), reason)) == 1 and len(warnings(caplog)) == 1
    await sched.stop()


def test_agent_cron_list_on_a_fifo_returns_at_once_in_a_real_process(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    os.mkfifo(tasks_path(project))
    done = subprocess.run([sys.executable, "-m", "agent", "cron", "--cwd", str(project), "list"],
                          capture_output=True, text=True, timeout=60, env=child_env(tmp_path / "home"))
    assert done.returncode == 0 and "it is a FIFO" in done.stderr and "Traceback" not in done.stderr


# --- entries that cannot be used ---------------------------------------------------------------------------


def entry(id_: str, **fields: str) -> str:
    """One entry as raw JSON text, so values Python would never write (1e999999, NaN) can be used."""
    values = {"id": f'"{id_}"', "cron": '"* * * * *"', "prompt": '"bad"', "createdAt": str(T0),
              "recurring": "true", **fields}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}"


BAD_ENTRIES = {
    "createdAt 10**30": entry("bad00001", createdAt=str(10**30)),
    "createdAt negative": entry("bad00002", createdAt="-1"),
    "createdAt 1e999999": entry("bad00003", createdAt="1e999999"),
    "createdAt Infinity": entry("bad00004", createdAt="Infinity"),
    "createdAt NaN": entry("bad00005", createdAt="NaN"),
    "createdAt true": entry("bad00006", createdAt="true"),
    "createdAt at the limit": entry("bad00007", createdAt=str(MAX_EPOCH_MS)),
    "lastFiredAt 10**30": entry("bad00008", lastFiredAt=str(10**30)),
    "lastFiredAt negative": entry("bad00009", lastFiredAt="-5"),
    "lastFiredAt 5000 digits": entry("bad0000a", lastFiredAt="9" * 5000),
    "lastFiredAt -Infinity": entry("bad0000b", lastFiredAt="-Infinity"),
    "lastFiredAt float": entry("bad0000c", lastFiredAt="1.5"),
    "prompt lone surrogate": entry("bad0000d", prompt='"run \\ud800 now"'),
    "unknown field 1e999999": entry("bad0000e", createdAt="-2", extra="1e999999"),
}


def hostile_file(project: Path) -> Path:
    good = [json.dumps(task(i, lastFiredAt=T0).to_json_dict()) for i in ("aaaa0001", "aaaa0002")]
    body = ",\n".join([good[0], *BAD_ENTRIES.values(), good[1]])
    path = tasks_path(project)
    path.parent.mkdir(exist_ok=True)
    path.write_text('{"tasks": [\n' + body + "\n]}\n", encoding="utf-8")
    return path


async def test_bad_entries_are_skipped_and_warned_once_each_kept_as_written_and_the_rest_fire(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = hostile_file(tmp_path)
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # each fire rewrites the file, and each rewrite is read back
            await sched.tick()
            clock.now += 5 * MIN
    assert sorted(f.task.id for f in fired) == ["aaaa0001"] * 3 + ["aaaa0002"] * 3
    for index, raw in enumerate(BAD_ENTRIES.values(), start=1):
        bad_id = load_json(raw.encode())["id"]
        assert len(warnings(caplog, str(path), f"tasks[{index}]", bad_id, "skipped")) == 1, bad_id
    assert len(warnings(caplog)) == len(BAD_ENTRIES)
    entries = load_json(path.read_bytes())["tasks"]
    assert entries[1:-1] == [load_json(raw.encode()) for raw in BAD_ENTRIES.values()]
    text = path.read_text(encoding="utf-8")
    assert all(token in text for token in ("1e999999", "9" * 5000, "NaN", "-Infinity", '"run \\ud800 now"'))
    await sched.stop()


def test_agent_cron_list_shows_bad_entries_as_problems_not_a_traceback(tmp_path: Path, capsys) -> None:
    hostile_file(tmp_path)
    for json_flag in ([], ["--json"]):
        code, out, err = run(capsys, "cron", "--cwd", str(tmp_path), "list", *json_flag)
        assert code == 0
        lines = err.strip().splitlines()
        assert len(lines) == len(BAD_ENTRIES) and all("skipped and left in the file unchanged" in ln for ln in lines)
        assert "bad00001" in lines[0] and "createdAt" in lines[0] and "not a time in epoch milliseconds" in lines[0]
        ids = [row["id"] for row in json.loads(out)] if json_flag else [ln.split()[0] for ln in out.splitlines()[1:]]
        assert ids == ["aaaa0001", "aaaa0002"]


# --- writing ------------------------------------------------------------------------------------------------


def test_a_symlinked_tasks_file_is_written_through_the_link(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "tasks.json"
    target.parent.mkdir()
    target.write_text('{"tasks": []}\n')
    link = tasks_path(tmp_path)
    link.parent.mkdir()
    link.symlink_to(target)
    store = FileTaskStore(tmp_path)
    store.add(task("aaaa0003"))
    store.mark_fired(["aaaa0003"], T0 + MIN)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert [t.lastFiredAt for t in FileTaskStore(tmp_path).load().tasks] == [T0 + MIN]
    assert json.loads(target.read_text())["tasks"][0]["id"] == "aaaa0003"
    assert sorted(p.name for p in link.parent.iterdir()) == [link.name, link.name + ".lock"]
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left behind


def _no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullDiskFile:
    """What os.fdopen returns on a full disk: a file whose write fails."""

    def __init__(self, fd: int, *_args) -> None:
        self._fd = fd

    def __enter__(self) -> _FullDiskFile:
        return self

    def __exit__(self, *_exc) -> None:
        os.close(self._fd)

    def write(self, _data: bytes) -> int:
        return _no_space()


@pytest.mark.parametrize("broken", ["write", "fsync"])
def test_a_full_disk_on_agent_cron_add_is_one_line_and_leaves_the_file_unchanged(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    store = FileTaskStore(tmp_path)
    store.add(task("aaaa0004"))
    before = store.path.read_bytes()
    monkeypatch.setattr(os, "fdopen" if broken == "write" else "fsync",
                        _FullDiskFile if broken == "write" else _no_space)
    code, out, err = run(capsys, "cron", "--cwd", str(tmp_path), "add", "--cron", "* * * * *", "--prompt", "x")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [f"agent cron: {store.path} could not be written and was left unchanged: "
                                        "No space left on device"]
    assert store.path.read_bytes() == before
    assert [p.name for p in store.path.parent.iterdir() if p.name.endswith(".tmp")] == []


async def test_a_folder_where_the_lock_file_belongs_is_one_line_and_one_warning(
    tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileTaskStore(tmp_path)
    store.add(task("aaaa0005", lastFiredAt=T0))
    before = store.path.read_bytes()
    store.lock_path.unlink()
    store.lock_path.mkdir()
    code, _, err = run(capsys, "cron", "--cwd", str(tmp_path), "add", "--cron", "* * * * *", "--prompt", "x")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert f"its lock file {store.lock_path} cannot be used (Is a directory); remove it" in err
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("5e550005", "* * * * *"))
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            sched._file_changed()
            await sched.tick()
            clock.now += 5 * MIN
    assert [f.task.id for f in fired] == ["5e550005"] * 4  # the durable one cannot be committed: not fired
    assert len(warnings(caplog, "cannot be used (Is a directory)")) == 1
    assert store.path.read_bytes() == before
    store.lock_path.rmdir()  # fixed: the durable task fires on the next tick, no restart needed
    sched._file_changed()
    await sched.tick()
    assert "aaaa0005" in [f.task.id for f in fired]
    await sched.stop()


def test_a_file_where_the_claude_folder_belongs_is_one_line_on_agent_cron_add(tmp_path: Path, capsys) -> None:
    (tmp_path / ".claude").write_text("not a folder")
    code, out, err = run(capsys, "cron", "--cwd", str(tmp_path), "add", "--cron", "* * * * *", "--prompt", "x")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and "Not a directory" in err
    assert (tmp_path / ".claude").read_text() == "not a folder"


def test_unknown_fields_with_huge_numbers_nan_and_lone_surrogates_survive_a_rewrite_as_written(
    tmp_path: Path,
) -> None:
    path = tasks_path(tmp_path)
    path.parent.mkdir()
    path.write_text('{"tasks": [{"id": "aaaa0006", "cron": "* * * * *", "prompt": "x", "createdAt": 1, "big": '
                    '1e999999, "n": NaN, "k": "v\\udfff", "d": ' + "7" * 5000 + '}], "top": -Infinity}')
    store = FileTaskStore(tmp_path)
    assert store.mark_fired(["aaaa0006"], T0) == ["aaaa0006"]
    text = path.read_text(encoding="utf-8")
    for token in ('"big": 1e999999', '"n": NaN', '"k": "v\\udfff"', '"d": ' + "7" * 5000, '"top": -Infinity',
                  f'"lastFiredAt": {T0}'):
        assert token in text
    assert [t.lastFiredAt for t in store.load().tasks] == [T0]


def test_a_symlink_to_a_json_file_without_tasks_is_not_written_through(tmp_path: Path, capsys) -> None:
    target = tmp_path / "package.json"
    target.write_text('{"name": "victim"}\n')
    link = tasks_path(tmp_path)
    link.parent.mkdir()
    link.symlink_to(target)
    code, out, err = run(capsys, "cron", "--cwd", str(tmp_path), "add", "--cron", "* * * * *", "--prompt", "x")
    assert code == 1 and out == "" and 'holds no "tasks" list; not writing through it' in err
    assert target.read_text() == '{"name": "victim"}\n' and link.is_symlink()


async def test_a_task_whose_due_time_overflows_is_skipped_and_the_others_keep_firing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    sched.session_store.add(task("bad000ff").model_copy(update={"createdAt": 10**30}))  # copy skips validation
    sched.session_store.add(task("5e550006", "* * * * *"))
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            await sched.tick()
            clock.now += MIN
    assert [f.task.id for f in fired] == ["5e550006"] * 2
    assert len(warnings(caplog, "bad000ff", "is not usable")) == 1
    await sched.stop()
