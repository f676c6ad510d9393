"""Silent gaps: expected fires with no record are listed with a likely reason, and alerted once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import timezone
from pathlib import Path

import pytest
from test_commands import Harness

from agent.cron.gaps import DIED, NO_HISTORY, NO_PROCESS, UNRECORDED, expected_slots, find_gaps
from agent.cron.history import RunHistory, RunRecord, history_path
from agent.cron.status import find_project_gaps
from agent.cron.task import CronTask
from agent.engine.session import AgentSession, SessionOptions
from agent.runs.recorder import RunRecorder

UTC = timezone.utc
MIN = 60_000
T0 = 1_790_000_000_000 - 1_790_000_000_000 % (60 * MIN)  # on the hour
ROOT = Path(__file__).resolve().parent.parent


def test_expected_slots_are_the_cron_matches_in_the_window():
    assert expected_slots("*/15 * * * *", T0, T0 + 60 * MIN, UTC) == [T0 + k * 15 * MIN for k in (1, 2, 3, 4)]
    assert expected_slots("not cron", T0, T0 + 60 * MIN, UTC) == []
    assert len(expected_slots("* * * * *", T0, T0 + 10**9, UTC, limit=7)) == 7


def test_a_slot_with_a_run_anywhere_in_its_interval_is_served_and_the_open_one_is_not_judged():
    slots = [T0, T0 + 10 * MIN, T0 + 20 * MIN, T0 + 30 * MIN]
    runs = [T0 + 1 * MIN, T0 + 29 * MIN]  # the first late by jitter, the third after a long turn
    gaps = find_gaps("t", slots, T0 + 35 * MIN, runs, [])
    assert [g.slot_ms for g in gaps] == [T0 + 10 * MIN]  # the 30-minute slot's interval is still open


def test_reasons_tell_apart_no_process_a_dead_holder_and_an_unrecorded_fire():
    slots = [T0, T0 + 10 * MIN, T0 + 20 * MIN, T0 + 30 * MIN]
    others = [T0 + 11 * MIN]  # another task ran near the second slot: a scheduler was up then
    gaps = find_gaps("t", slots, T0 + 40 * MIN, [], others, last_fired_at=T0 + 21 * MIN)
    assert [g.reason for g in gaps] == [DIED, DIED, UNRECORDED]
    assert find_gaps("t", slots, T0 + 40 * MIN, [], [])[0].reason == NO_PROCESS


@pytest.fixture
def db(tmp_path: Path):
    history = RunHistory(tmp_path / "h.db")
    history._db.execute("UPDATE meta SET value = ? WHERE key = 'recordingSince'", (str(T0 - 60 * MIN),))
    yield history
    history.close()


def task(created: int = T0 - 60 * MIN, **extra) -> CronTask:
    return CronTask(id="9a900001", cron="*/10 * * * *", prompt="p", createdAt=created, recurring=True, **extra)


def run_at(db: RunHistory, run_id: str, due: int, task_id: str = "9a900001") -> None:
    db.save(RunRecord(run_id, task_id, started_at=due + 1000, scheduled_at=due, status="ok"))


def test_project_gaps_start_at_creation_and_at_when_recording_began(db):
    for k in range(6):
        if k != 3:
            run_at(db, f"r{k}", T0 + k * 10 * MIN)
    gaps = find_project_gaps([task(created=T0 - 1)], db, T0 + 60 * MIN + 1, UTC)
    assert [g.slot_ms for g in gaps] == [T0 + 30 * MIN]
    db._db.execute("UPDATE meta SET value = ? WHERE key = 'recordingSince'", (str(T0 + 35 * MIN),))
    assert find_project_gaps([task(created=T0 - 1)], db, T0 + 60 * MIN + 1, UTC) == []


def test_one_shots_are_not_judged(db):
    one_shot = CronTask(id="9a900002", cron="*/10 * * * *", prompt="p", createdAt=T0 - 60 * MIN)
    assert find_project_gaps([one_shot], db, T0 + 60 * MIN, UTC) == []


async def test_each_gap_is_alerted_once_across_checks(db):
    class Alerts:
        def __init__(self) -> None:
            self.sent: list = []

        def send(self, kind, fields):
            self.sent.append((kind, fields))

    clock = iter([T0 + 31 * MIN] * 10)
    recorder = RunRecorder(Path("/p"), {}, source="daemon", notifier=Alerts(), history=db,
                           clock=lambda: next(clock))
    first = await recorder.check_gaps([task(created=T0 - 1)], UTC)
    assert [g.slot_ms for g in first] == [T0, T0 + 10 * MIN, T0 + 20 * MIN]  # T0+30's interval is open
    assert [k for k, _ in recorder.notifier.sent] == ["gap"] * 3
    assert await recorder.check_gaps([task(created=T0 - 1)], UTC) == []
    assert len(recorder.notifier.sent) == 3


def test_agent_cron_status_json_lists_the_gaps_lock_holder_and_next_fires(tmp_path):
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    now = int(time.time() * 1000)
    hour = now - now % (60 * MIN) - 60 * MIN  # the last full hour: its first slots are all past
    t = task(created=hour - 1)
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": [t.to_json_dict()]}))
    path = history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")})
    RunHistory(path).close()
    sqlite3.connect(path, isolation_level=None).execute(
        "UPDATE meta SET value = ? WHERE key = 'recordingSince'", (str(hour - 60 * MIN),))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "XDG_STATE_HOME": str(tmp_path / "state"), "TZ": "UTC"}
    done = subprocess.run([sys.executable, "-m", "agent", "cron", "status", "--json", "--cwd", str(project)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["lockHolder"] is None and report["next"][0]["id"] == "9a900001"
    assert report["gaps"][0] == {"taskId": "9a900001", "expectedAt": hour, "reason": NO_HISTORY}
    text = subprocess.run([sys.executable, "-m", "agent", "cron", "status", "--cwd", str(project)], env=env,
                          capture_output=True, text=True, timeout=60).stdout
    assert "nobody holds the project lock" in text and "left no record" in text


async def test_slash_cron_status_shows_gaps_in_the_chat(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    now = int(time.time() * 1000)
    hour = now - now % (60 * MIN) - 60 * MIN
    (project / ".claude" / "scheduled_tasks.json").write_text(
        json.dumps({"tasks": [task(created=hour - 1).to_json_dict()]}))
    harness = Harness(AgentSession(project, SessionOptions()))
    path = history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")})
    RunHistory(path).close()
    sqlite3.connect(path, isolation_level=None).execute(
        "UPDATE meta SET value = ? WHERE key = 'recordingSince'", (str(hour - 60 * MIN),))
    out = await harness.run("/cron status")
    assert "Expected fires with no record" in out and "9a900001" in out and "nobody holds it" in out
