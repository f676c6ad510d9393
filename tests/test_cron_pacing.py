"""Issue 19, item 3: a committed tasks file cannot spend requests in a burst.

At most 50 tasks fire (the rest are listed as over the limit: `agent cron list`, `agent cron status`, a
warning), and runs start at most `cron.maxStartsPerMinute` (default 10) per minute. The rules are pure
functions tested with the time passed in; the scheduler is driven tick by tick with a fake clock, and
the real loop is run with tasks already due.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest
from sched_helpers import MIN, NO_JITTER, T0, Clock, due_hourly, make, task

from agent.cli.main import main
from agent.cron.pacing import (
    DEFAULT_MAX_STARTS_PER_MINUTE,
    TASK_LIMIT,
    WINDOW_MS,
    after_starting,
    max_starts_per_minute,
    over_limit_note,
    pace,
    split_at_limit,
)
from agent.cron.scheduler import CronScheduler, FiredTask
from agent.cron.store import MAX_TASKS
from agent.cron.task import CronTask


def many(count: int, *, created: int = T0, last: int | None = T0, cron: str = "* * * * *") -> list[CronTask]:
    """`count` overdue recurring tasks, every minute unless told (ids 00000000, 00000001 ...)."""
    return [task(f"{n:08x}", cron, created=created + n, lastFiredAt=last) for n in range(count)]


def hourly_overdue(count: int) -> list[CronTask]:
    """`count` hourly tasks whose slot passed 20 minutes ago (after their last fire) and whose next slot
    is 40 minutes away: a backlog whose next slot cannot fall due while a real-time test watches (an
    every-minute task's would at the turn of the minute, and then starts on time, not paced)."""
    due = due_hourly(time.time_ns() // 1_000_000)
    return many(count, created=due["createdAt"], last=due["lastFiredAt"], cron=due["cron"])


def write_file(project: Path, tasks: list[CronTask], settings: dict | None = None) -> None:
    (project / ".claude").mkdir(exist_ok=True)
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": [t.to_json_dict() for t in tasks]}))
    if settings is not None:
        (project / ".claude" / "settings.json").write_text(json.dumps(settings))


# --- pure rules ---------------------------------------------------------------------------------------

def test_the_limit_is_claude_codes_fifty_and_the_same_as_the_store():
    assert TASK_LIMIT == MAX_TASKS == 50


def test_split_at_limit_keeps_the_fifty_oldest_and_names_the_rest():
    tasks = list(reversed(many(300)))  # file order must not matter
    firing, over = split_at_limit(tasks)
    assert [t.id for t in firing] == [f"{n:08x}" for n in range(50)]
    assert len(over) == 250 and over[0].id == f"{50:08x}"
    note = over_limit_note(over)
    assert note.startswith("250 task(s) over the limit of 50") and "and 240 more" in note
    assert over_limit_note([]) == ""


@pytest.mark.parametrize(("value", "expected", "warns"), [
    (None, 10, False), (3, 3, False), (1, 1, False), (10_000, 1000, False), (0, 10, True), (-5, 10, True),
    ("10", 10, True), (True, 10, True), (2.5, 10, True), ([], 10, True),
])
def test_max_starts_per_minute_from_settings(value, expected, warns):
    settings = {} if value is None else {"maxStartsPerMinute": value}
    got, warning = max_starts_per_minute(settings)
    assert got == expected and bool(warning) is warns
    assert max_starts_per_minute(None) == (DEFAULT_MAX_STARTS_PER_MINUTE, None)


def test_pace_lets_ten_start_and_says_when_the_next_may():
    due = list(range(300))
    now, later = pace(due, (), T0, 10)
    assert now == list(range(10)) and later == T0 + WINDOW_MS
    starts = after_starting((), T0, 10)
    assert pace(due[10:], starts, T0 + WINDOW_MS - 1, 10) == ([], T0 + WINDOW_MS)
    assert pace(due[10:], starts, T0 + WINDOW_MS, 10)[0] == list(range(10, 20))


def test_pace_window_slides_start_by_start():
    starts = (T0, T0 + 10_000, T0 + 20_000)
    now, later = pace(["a", "b"], starts, T0 + 30_000, 3)
    assert now == [] and later == T0 + WINDOW_MS
    now, later = pace(["a", "b"], starts, T0 + WINDOW_MS, 3)
    assert now == ["a"] and later == T0 + 10_000 + WINDOW_MS


def test_a_simulated_hour_never_starts_more_than_the_limit_in_any_minute_and_loses_nothing():
    pending, starts, started = list(range(45)), (), []
    for second in range(0, 3600, 1):
        now = T0 + second * 1000
        go, _ = pace(pending, starts, now, 10)
        starts, pending = after_starting(starts, now, len(go)), pending[len(go):]
        started += [(now, item) for item in go]
    assert [item for _, item in started] == list(range(45))
    times = [t for t, _ in started]
    assert all(sum(1 for t in times if s <= t < s + WINDOW_MS) <= 10 for s in times)


# --- the scheduler, tick by tick --------------------------------------------------------------------

async def test_a_file_of_300_overdue_tasks_fires_ten_a_minute_and_only_the_first_fifty(tmp_path, caplog):
    write_file(tmp_path, many(300, last=T0 - 10 * MIN))
    clock, fired = Clock(T0), []
    sched = make(tmp_path, clock, fired)
    with caplog.at_level(logging.WARNING):
        for _ in range(4):  # the first seconds: one burst of ten, no more
            await sched.tick()
            clock.now += 1000
    assert len(fired) == 10
    assert sum("over the limit of 50" in r.getMessage() for r in caplog.records) == 1
    while clock.now < T0 + 12 * MIN:  # a tick a second, as the real loop (a jump would read as a pause)
        clock.now += 1000
        await sched.tick()
    ids = {f.task.id for f in fired}
    assert ids <= {f"{n:08x}" for n in range(50)}  # the 250 over the limit never fire
    assert len(ids) == 50  # every task within the limit had its turn


async def test_max_starts_per_minute_comes_from_settings(tmp_path):
    # hourly tasks: their next slot is far off, so the backlog waits its turn minute after minute
    write_file(tmp_path, many(20, last=T0 - 10 * MIN, cron="0 * * * *"), settings={"cron": {"maxStartsPerMinute": 3}})
    clock, fired = Clock(T0 + 5 * MIN), []
    sched = make(tmp_path, clock, fired)
    await sched.tick()
    clock.now += 59_000
    await sched.tick()
    assert len(fired) == 3
    clock.now = T0 + 5 * MIN + WINDOW_MS
    await sched.tick()
    assert [f.task.id for f in fired] == [f"{n:08x}" for n in range(6)]  # three more, in order


def backlog_of(project: Path, count: int, now: int) -> tuple[Clock, list, list, CronScheduler]:
    """`count` every-minute tasks overdue at start-up, paced ten a minute; what is delivered and what goes
    to `on_commit` (skipped fires included) are collected."""
    write_file(project, many(count, last=T0 - 10 * MIN), settings={"cron": {"maxStartsPerMinute": 10}})
    clock, fired, committed = Clock(now), [], []

    async def on_commit(fires):
        committed.extend(fires)

    return clock, fired, committed, make(project, clock, fired, on_commit=on_commit)


async def test_a_backlog_slot_overtaken_by_the_next_is_recorded_skipped_not_lost(tmp_path):
    """Every-minute tasks waiting in the paced backlog when their next slot comes: the slot they waited
    with goes to `on_commit` as a skipped fire (the runs layer records it), never delivered, and the
    task runs its next slot on time, so no slot is left without a record."""
    clock, fired, committed, sched = backlog_of(tmp_path, 15, T0 + 30_000)
    await sched.tick()
    assert len(fired) == 10 and not any(f.skipped for f in committed)
    while clock.now < T0 + MIN + 1_000:
        clock.now += 1000
        await sched.tick()
    waited = {f"{n:08x}" for n in range(10, 15)}
    skipped = [f for f in committed if f.skipped]
    assert {f.task.id for f in skipped} == waited
    assert all(f.due_ms == T0 and "cron.maxStartsPerMinute" in f.skipped for f in skipped)
    assert not {f.task.id for f in fired if f.due_ms == T0} & waited  # never delivered
    # the next slot (T0 + 1 min) of every task, paced or not, was delivered on time
    assert {f.task.id for f in fired if f.due_ms == T0 + MIN} == {f"{n:08x}" for n in range(15)}



async def test_session_tasks_are_paced_too(tmp_path):
    clock, fired = Clock(T0 + 10 * MIN), []
    sched = make(tmp_path, clock, fired)
    for n in range(15):
        sched.session_store.add(task(f"{n:08x}", "* * * * *"))
    await sched.tick()
    assert len(fired) == 10


async def test_the_real_loop_starts_only_ten_of_sixty_already_due_tasks(tmp_path):
    write_file(tmp_path, hourly_overdue(60))
    fired: list[FiredTask] = []
    sched = CronScheduler(tmp_path, fired.append, jitter_config=NO_JITTER, env={}, use_watchdog=False, tick_s=0.05)
    await sched.start()
    try:
        deadline = time.monotonic() + 5
        while len(fired) < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # ten more ticks: nothing else may start within the minute
    finally:
        await sched.stop()
    assert len(fired) == 10
    assert {f.task.id for f in fired} == {f"{n:08x}" for n in range(10)}


# --- what the user sees ---------------------------------------------------------------------------------

def test_cron_list_and_status_show_the_tasks_over_the_limit(tmp_path, capsys):
    write_file(tmp_path, many(53))
    assert main(["cron", "list", "--cwd", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.count("OVER LIMIT") == 3 and "3 task(s) over the limit of 50" in err
    assert main(["cron", "list", "--json", "--cwd", str(tmp_path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows if r["overLimit"]] == [f"{n:08x}" for n in range(50, 53)]
    assert main(["cron", "status", "--cwd", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.count("never: over the 50-task limit") == 3 and "over the limit" in err


def test_agent_daemon_with_a_committed_file_of_300_due_tasks_spends_ten_requests_not_300(fake_api, tmp_path):
    import signal
    import subprocess
    import sys

    from fake_api import child_env, text_reply

    project = tmp_path / "project"
    project.mkdir()
    write_file(project, hourly_overdue(300))
    fake_api.set_default(text_reply("ok"))
    proc = subprocess.Popen([sys.executable, "-m", "agent", "daemon", "--cwd", str(project)],
                            env=child_env(fake_api, home=tmp_path / "home"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while len(fake_api.requests) < 10 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(4)  # the "300 requests in 4 seconds": nothing more may start within the minute
        count = len(fake_api.requests)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert count == 10, err[-2000:]
    assert "250 task(s) over the limit of 50" in out + err


async def test_fires_on_time_are_not_paced_only_a_backlog_is(tmp_path):
    """Fifty every-minute tasks that are due now all start on time; the pacing is for a backlog (a
    start-up burst, a catch-up) and must not turn an operator's workload into lost fires."""
    now = T0 + 10 * MIN + 5_000
    write_file(tmp_path, many(50, last=now - 2_000))  # this minute's slot done: the next is in 55 s
    clock, fired = Clock(now), []
    sched = make(tmp_path, clock, fired)
    for _ in range(90):  # a tick a second, past every task's jitter
        clock.now += 1000
        await sched.tick()
    assert len({f.task.id for f in fired}) == 50


async def test_a_pause_of_the_process_that_passes_a_waiting_slot_records_it_skipped(tmp_path):
    """SIGSTOP (or a laptop's sleep) while backlog tasks wait: the pause moves every due time on to the
    latest slot (catch-up), and the slot they waited with is recorded skipped, not dropped."""
    clock, fired, committed, sched = backlog_of(tmp_path, 12, T0 + 20_000)
    await sched.tick()
    assert len(fired) == 10
    clock.now = T0 + 2 * MIN + 5_000  # frozen for 105 s: slots T0 + 1 min and T0 + 2 min passed
    await sched.tick()
    skipped = {f.task.id: f.due_ms for f in committed if f.skipped}
    assert skipped == {"0000000a": T0, "0000000b": T0}
    # after the pause every task runs its latest slot once (catch-up), the two included
    assert {f.task.id for f in fired if f.due_ms == T0 + 2 * MIN} == {f"{n:08x}" for n in range(12)}
