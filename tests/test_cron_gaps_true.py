"""Gaps that are true: every missed slot counts, no history is not "all fine", a frozen holder is named,
and the operator gets a summary per task rather than a line per slot. Catch-up after a pause of the
process (a time jump): `skip` runs nothing, `latest` runs once for the most recent missed slot."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timezone
from pathlib import Path

from sched_helpers import MIN, T0, Clock, make, task

from agent.cron.gaps import NO_HISTORY, expected_slots, find_gaps
from agent.cron.heartbeat import heartbeat_path, write_heartbeat
from agent.cron.history import RunHistory, RunRecord
from agent.cron.lock_owner import LockInfo, proc_start_token
from agent.cron.status import find_project_gaps

UTC = timezone.utc
ROOT = Path(__file__).resolve().parent.parent


def test_three_consecutive_missed_slots_of_an_every_minute_task_are_three_gaps():
    slots = expected_slots("* * * * *", T0 - 1, T0 + 10 * MIN, UTC)
    runs = [T0, T0 + MIN, T0 + 5 * MIN, T0 + 6 * MIN]  # slots 2, 3 and 4 missed, the one before ran
    gaps = find_gaps("t", slots, T0 + 7 * MIN + 1, runs, [])
    assert [g.slot_ms for g in gaps] == [T0 + 2 * MIN, T0 + 3 * MIN, T0 + 4 * MIN]


def test_a_run_serves_only_its_own_slot_even_when_jittered_late():
    slots = expected_slots("*/5 * * * *", T0 - 1, T0 + 30 * MIN, UTC)
    runs = [T0 + 20_000, T0 + 10 * MIN + 25_000]  # late by jitter; the */5 slot between them missed
    gaps = find_gaps("t", slots, T0 + 15 * MIN + 1, runs, [])
    assert [g.slot_ms for g in gaps] == [T0 + 5 * MIN]


def test_with_no_history_the_slots_since_creation_are_gaps_saying_so():
    t = task("9a910001", "*/10 * * * *", created=T0 + 1)
    gaps = find_project_gaps([t], None, T0 + 35 * MIN, UTC)
    assert [g.slot_ms for g in gaps] == [T0 + 10 * MIN, T0 + 20 * MIN]
    assert {g.reason for g in gaps} == {NO_HISTORY}


def test_an_empty_history_counts_as_no_history(tmp_path):
    db = RunHistory(tmp_path / "h.db")
    t = task("9a910002", "*/10 * * * *", created=T0 + 1)
    assert [g.reason for g in find_project_gaps([t], db, T0 + 25 * MIN, UTC)] == [NO_HISTORY]
    db.save(RunRecord("r1", "9a910002", status="ok", started_at=T0 + 10 * MIN, scheduled_at=T0 + 10 * MIN))
    assert find_project_gaps([t], db, T0 + 25 * MIN, UTC) == []


# -- catch-up after a pause of the process --------------------------------------------------------------


async def paused_for_17_minutes(project: Path, **extra):
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps(
        {"tasks": [task("cafe0002", lastFiredAt=T0, **extra).to_json_dict()]}))
    clock, fired = Clock(T0 + 1000), []
    sched = make(project, clock, fired)
    await sched.tick()
    assert fired == []
    clock.now = T0 + 17 * MIN + 10_000  # SIGSTOP, or a laptop asleep: slots 5, 10 and 15 passed
    await sched.tick()
    return clock, fired, sched


async def test_after_a_pause_latest_runs_once_for_the_most_recent_missed_slot(tmp_path):
    clock, fired, sched = await paused_for_17_minutes(tmp_path)
    assert [(f.task.id, f.due_ms) for f in fired] == [("cafe0002", T0 + 15 * MIN)]
    clock.now += 1000
    await sched.tick()
    assert len(fired) == 1


async def test_after_a_pause_skip_runs_nothing_until_the_next_slot(tmp_path):
    clock, fired, sched = await paused_for_17_minutes(tmp_path, catchUp="skip")
    assert fired == []
    clock.now = T0 + 20 * MIN
    await sched.tick()
    assert [(f.task.id, f.due_ms) for f in fired] == [("cafe0002", T0 + 20 * MIN)]


async def test_after_downtime_latest_is_stamped_with_the_most_recent_missed_slot(tmp_path):
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "scheduled_tasks.json").write_text(json.dumps(
        {"tasks": [task("cafe0003", lastFiredAt=T0 - 3 * 86_400_000).to_json_dict()]}))
    clock, fired = Clock(T0 + 7 * MIN), []
    await make(tmp_path, clock, fired).tick()
    assert [f.due_ms for f in fired] == [T0 + 5 * MIN]


# -- cron status: heartbeat and the summary --------------------------------------------------------------


def _env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
            "XDG_STATE_HOME": str(tmp_path / "state"), "TZ": "UTC"}


def _status(tmp_path: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "cron", "status", *args, "--cwd", str(project)],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=60)


def test_status_names_a_live_holder_that_stopped_ticking(tmp_path):
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    now = int(time.time() * 1000)
    info = LockInfo("frozen-session", os.getpid(), proc_start_token(os.getpid()), now - 120_000)
    (project / ".claude" / "scheduled_tasks.lock").write_bytes(info.to_bytes())
    write_heartbeat(heartbeat_path(project.resolve(), _env(tmp_path)), os.getpid(), "frozen-session", now - 95_000)
    out = _status(tmp_path, project)
    # 95 s plus however long the child took to start and read its clock (not "9x s": on a loaded machine
    # that can take more than 5 s)
    waited_s = time.time() - now / 1000
    frozen = re.search(r"holder alive but not ticking for (\d+) s", out.stdout)
    assert frozen and 95 <= int(frozen[1]) <= 95 + waited_s, out.stdout + out.stderr
    report = json.loads(_status(tmp_path, project, "--json").stdout)
    assert report["lockHolder"]["alive"] and report["lockHolder"]["notTickingS"] >= 95


def test_status_of_a_sigstopped_scheduler_says_it_is_not_ticking(tmp_path):
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "scheduled_tasks.json").write_text('{"tasks": []}')
    watch = subprocess.Popen([sys.executable, "-m", "agent", "cron", "watch", "--cwd", str(project)],
                             env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            checked = time.monotonic()  # "alive": its heartbeat was at most 10 s old when this check began
            if "alive, since" in _status(tmp_path, project).stdout:
                break
            assert time.monotonic() < deadline, "the watcher never took the lock"
            time.sleep(0.3)
        watch.send_signal(signal.SIGSTOP)
        time.sleep(11.5)
        out = _status(tmp_path, project).stdout
        # at least the 11.5 s it has been stopped, at most 10 s more than since the last "alive" check began
        # (not "1x s": the status child can take several seconds to start on a loaded machine)
        frozen = re.search(r"holder alive but not ticking for (\d+) s", out)
        assert f"pid {watch.pid}" in out and frozen, out
        assert 11 <= int(frozen[1]) <= time.monotonic() - checked + 10, out
        watch.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 30
        while "alive, since" not in _status(tmp_path, project).stdout:
            assert time.monotonic() < deadline, "ticking did not resume"
            time.sleep(0.3)
    finally:
        watch.send_signal(signal.SIGCONT)
        watch.terminate()
        watch.wait(timeout=30)


def test_status_shows_per_task_count_and_the_last_five_slots_all_with_all_and_json_complete(tmp_path):
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    # Every minute of the last full hour (UTC, as the child runs), created just before it: all 60 slots
    # have passed and the next is a day away, so the turn of a minute between the three runs below cannot
    # change the count (with `* * * * *` it did: 29 gaps in the first run, 30 in the last).
    now = int(time.time() * 1000)
    hour = now - now % (60 * MIN) - 60 * MIN
    t = task("9a910003", f"* {hour // (60 * MIN) % 24} * * *", created=hour - 1)
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": [t.to_json_dict()]}))
    out = _status(tmp_path, project).stdout
    [summary] = [line for line in out.splitlines() if "9a910003" in line and "missed" in line]
    count = int(summary.split()[1])
    assert count == 59 and NO_HISTORY in summary  # the last slot's interval runs until tomorrow: not judged
    assert len(out.splitlines()) < 12 and "--all lists every slot" in out
    everything = _status(tmp_path, project, "--all").stdout
    assert len(everything.splitlines()) >= count + 3
    report = json.loads(_status(tmp_path, project, "--json").stdout)
    assert len(report["gaps"]) == count and report["gapsByTask"][0]["count"] == count


async def test_after_a_pause_a_slot_whose_jitter_is_still_to_come_is_the_one_caught_up(tmp_path):
    from agent.cron.jitter import JitterConfig

    jitter = JitterConfig(oneShotMaxMs=0)  # recurring: 10 % of the interval late; this id: 5.4 s a minute
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "scheduled_tasks.json").write_text(json.dumps(
        {"tasks": [task("e6666666", "* * * * *", lastFiredAt=T0 + 5_400).to_json_dict()]}))
    clock, fired = Clock(T0 + 6_000), []
    sched = make(tmp_path, clock, fired, jitter_config=jitter)
    await sched.tick()
    clock.now = T0 + 2 * MIN + 2_000  # frozen across the slot at +1 min; the +2 min slot's jitter pending
    await sched.tick()
    assert fired == []  # not a catch-up now and another fire 3 s later: one run, for the +2 min slot
    clock.now = T0 + 2 * MIN + 5_400
    await sched.tick()
    assert [f.due_ms for f in fired] == [T0 + 2 * MIN + 5_399]  # its jitter (5.4 s, floored to the ms)
