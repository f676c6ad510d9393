"""The scheduler across real processes: `agent cron watch --json` children sharing one project.

Each test has its own project; every child is killed on the way out whatever happens (WatcherGroup).
Tasks are made due at once, or at a chosen millisecond through the jitter (cron_procs), instead of
waiting for minute boundaries.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from cron_procs import (
    FAST_JITTER,
    LOCK_FILE,
    TASKS_FILE,
    Fire,
    WatcherGroup,
    agent_cron,
    child_env,
    lock_holder_pid,
    now_ms,
    one_shot_due_at,
    overdue_one_shot,
    overdue_recurring,
    read_tasks,
    recurring_due_at,
    wait_until,
    write_settings,
    write_tasks,
)
from filelock import FileLock

from agent.cron.store import FileTaskStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process semantics")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return child_env(tmp_path / "home")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    (path / ".claude").mkdir(parents=True)
    return path


def counts(fires: Iterable[Fire]) -> Counter[str]:
    return Counter(f.id for f in fires)


def test_three_watchers_fire_each_of_twenty_due_durable_tasks_exactly_once(project: Path, env: dict) -> None:
    now = now_ms()
    recurring = [overdue_recurring(f"a000000{n:x}", now) for n in range(10)]
    one_shots = [overdue_one_shot(f"b000000{n:x}", now) for n in range(10)]
    write_tasks(project, recurring + one_shots)
    # 20 due at once would be paced at 10 starts a minute (tests/test_cron_pacing.py); this test is the race
    (project / ".claude" / "settings.json").write_text(json.dumps({"cron": {"maxStartsPerMinute": 100}}))
    ids = [t.id for t in recurring + one_shots]
    with WatcherGroup(project, env) as group:
        group.start(3)  # all three race for the lock on their first tick
        group.wait_for_fires(ids, timeout=20)
        fires = group.settle(2.5)
        owner = group.owner()
    assert counts(fires) == Counter(ids)
    assert all(f.data["owner"] and f.data["pid"] == owner.pid for f in fires)
    on_disk = read_tasks(project)
    assert set(on_disk) == {t.id for t in recurring}  # one-shots gone, recurring ones stamped
    fired_at = {f.id: f.data["firedAt"] for f in fires}
    assert all(on_disk[i]["lastFiredAt"] == fired_at[i] for i in on_disk)


def test_kill_9_of_the_owner_hands_over_within_6_s_and_nothing_fires_twice(project: Path, env: dict) -> None:
    now = now_ms()
    first = [overdue_one_shot("c0000001", now), overdue_recurring("c0000002", now)]
    write_tasks(project, first)
    with WatcherGroup(project, env) as group:
        group.start(3)
        group.wait_for_fires([t.id for t in first], timeout=20)
        owner = group.owner()
        assert {f.watcher.pid for f in group.fires} == {owner.pid}
        killed_ms = now_ms()
        owner.kill()
        FileTaskStore(project).add(overdue_one_shot("c0000003", now_ms()))
        group.wait_for_fires(["c0000003"], timeout=10)
        fires = group.settle(2.5)
        new_owner = group.owner()
    late = next(f for f in fires if f.id == "c0000003")
    assert late.watcher is new_owner and new_owner is not owner and late.data["owner"]
    assert late.received_ms - killed_ms <= 6_000
    assert counts(fires) == Counter(["c0000001", "c0000002", "c0000003"])


ADD_WORKER = """
import contextlib, io, json, sys
import agent.cron.service, agent.cli.cron  # imported before the start, so that the adds themselves race
from agent.cli.main import main

def add(project, prompt):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["cron", "--cwd", project, "add", "--cron", "*/5 * * * *", "--prompt", prompt])
    return {"code": code, "out": out.getvalue().strip(), "err": err.getvalue().strip()}

project, worker = sys.argv[1], sys.argv[2]
for round_, count in ((1, 6), (2, 1)):
    print("ready", flush=True)
    sys.stdin.readline()  # the parent releases all workers at once
    print(json.dumps([add(project, f"worker {worker} round {round_} task {n}") for n in range(count)]), flush=True)
"""


def test_eight_agent_cron_add_processes_at_once_lose_nothing_and_respect_the_limit(project: Path, env: dict) -> None:
    workers = [
        subprocess.Popen([sys.executable, "-c", ADD_WORKER, str(project), str(w)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
        for w in range(8)
    ]

    def run_round() -> list[dict]:
        assert [w.stdout.readline().strip() for w in workers] == ["ready"] * 8
        for w in workers:
            w.stdin.write("go\n")
            w.stdin.flush()
        return [result for w in workers for result in json.loads(w.stdout.readline())]

    try:
        first = run_round()
        assert [r["code"] for r in first] == [0] * 48, [r["err"] for r in first]
        loaded = FileTaskStore(project).load()
        assert loaded.problems == [] and len(loaded.tasks) == 48
        assert {t.id for t in loaded.tasks} == {r["out"] for r in first}
        assert sorted(t.prompt for t in loaded.tasks) == sorted(
            f"worker {w} round 1 task {n}" for w in range(8) for n in range(6))
        # Eight more at once against a limit of 50: exactly two get in, six are refused and say why.
        second = run_round()
        assert sorted(r["code"] for r in second) == [0, 0] + [1] * 6
        assert all("Too many scheduled jobs (max 50)" in r["err"] for r in second if r["code"])
        assert len(json.loads((project / TASKS_FILE).read_text())["tasks"]) == 50
    finally:
        for w in workers:
            w.kill()
            w.wait()


@pytest.mark.parametrize("polling", [False, True], ids=["watchdog", "polling"])
def test_task_added_by_agent_cron_add_elsewhere_fires_in_the_running_owner(
    project: Path, env: dict, polling: bool
) -> None:
    watch_env = {**env, "AGENT_CRON_FORCE_POLLING": "1"} if polling else env
    with WatcherGroup(project, watch_env) as group:
        owner = group.start(1)[0]
        group.owner()
        # Added "two minutes ago" (the child's clock is shifted), so its minute has passed: due at once.
        added = agent_cron(project, "add", "--once", "--cron", "* * * * *", "--prompt", "added later",
                           env=env, shift_ms=-120_000)
        added_ms = now_ms()
        assert added.returncode == 0, added.stderr
        task_id = added.stdout.split()[0]
        group.wait_for_fires([task_id], timeout=10)
        fires = group.settle(1.0)
        assert owner.proc.poll() is None  # the same process, never restarted
    assert [(f.id, f.watcher) for f in fires] == [(task_id, owner)]
    assert fires[0].received_ms - added_ms < 3_000
    assert task_id not in read_tasks(project)


def delete_invisibly(project: Path, task_id: str) -> None:
    """Remove a task so that no watcher can notice: same inode, size and mtime, like a lost event."""
    path = project / TASKS_FILE
    with FileLock(str(path) + ".lock"):
        before = os.stat(path)
        data = json.loads(path.read_bytes())
        data["tasks"] = [t for t in data["tasks"] if t["id"] != task_id]
        body = json.dumps(data, indent=2).encode()
        assert len(body) < before.st_size
        with open(path, "r+b") as fh:
            fh.write(body.ljust(before.st_size))  # trailing blanks are valid JSON
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_deleted_tasks_never_fire_even_when_the_owner_cannot_see_the_change(project: Path, env: dict) -> None:
    write_settings(project, {"cronJitter": FAST_JITTER})
    with WatcherGroup(project, env) as group:
        group.start(1)
        group.owner()
        start = now_ms()
        target = start + 8_000
        r_keep, due = recurring_due_at(target, created=start)
        r_gone, _ = recurring_due_at(target + 1, created=start)
        o_keep, _ = one_shot_due_at(target, "fff00001")
        o_gone, _ = one_shot_due_at(target, "fff00002")
        canary = overdue_one_shot("ca000001", start)
        write_tasks(project, [r_keep, r_gone, o_keep, o_gone, canary])
        group.wait_for_fires([canary.id], timeout=5)  # the owner has loaded all five
        deleted = agent_cron(project, "delete", r_gone.id, env=env)
        assert deleted.returncode == 0, deleted.stderr
        time.sleep(1.0)  # the owner reloads 300 ms after the change
        delete_invisibly(project, o_gone.id)  # no event, no new signature: only the fire-time check can stop it
        assert now_ms() < due - 1_000, "the setup took too long to show anything"
        group.wait_for_fires([r_keep.id, o_keep.id], timeout=(due - now_ms()) / 1000 + 5)
        fires = group.settle(1.5)
    assert counts(fires) == Counter([canary.id, r_keep.id, o_keep.id])
    assert set(read_tasks(project)) == {r_keep.id}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_watchers_stopped_by_a_signal_exit_cleanly_and_release_the_lock(project: Path, env: dict, sig: int) -> None:
    with WatcherGroup(project, env) as group:
        group.start(2)
        owner = group.owner()
        other = next(w for w in group.watchers if w is not owner)
        assert owner.stop(sig) == 0
        assert lock_holder_pid(project) in (None, other.pid)
        wait_until(lambda: lock_holder_pid(project) == other.pid, 3, "the other watcher to take the lock")
        assert other.stop(sig) == 0
        assert not (project / LOCK_FILE).exists()
    assert "Traceback" not in owner.stderr + other.stderr
