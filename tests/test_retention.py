"""Retention: keepDays and keepRunsPerTask prune records and their transcripts; open runs and files outside
the transcripts folder are never touched; `agent cron history --prune [--dry-run]` says what it removed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agent.cron.history import RunHistory, RunRecord, history_path
from agent.runs.retention import prune, retention_of
from agent.settings import project_state_dir

DAY = 86_400_000
NOW = 1_790_000_000_000
ROOT = Path(__file__).resolve().parent.parent


def fill(db: RunHistory, folder: Path, task_id: str, count: int, *, every_ms: int, status: str = "ok") -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for k in range(count):
        run_id = f"{task_id}{k:04d}"
        transcript = folder / f"{run_id}.jsonl"
        transcript.write_text('{"role": "user", "content": "x"}\n')
        db.save(RunRecord(run_id, task_id, status=status, started_at=NOW - k * every_ms, transcript=str(transcript)))
        ids.append(run_id)
    return ids


def test_settings_give_keep_days_and_runs_per_task_with_defaults():
    assert retention_of({}) == (30, 1000)
    assert retention_of({"history": {"keepDays": 7, "keepRunsPerTask": 50}}) == (7, 50)
    assert retention_of({"history": {"keepDays": -1, "keepRunsPerTask": "many"}}) == (30, 1000)


def test_old_runs_and_runs_beyond_the_per_task_limit_go_with_their_transcripts(tmp_path):
    db = RunHistory(tmp_path / "h.db")
    folder = tmp_path / "transcripts"
    daily = fill(db, folder, "aaaa", 40, every_ms=DAY)  # 40 days, one a day
    busy = fill(db, folder, "bbbb", 30, every_ms=60_000)  # 30 in the last half hour
    pruned = prune(db, folder, NOW, keep_days=30, keep_runs=10)
    assert set(pruned.runs) == set(daily[10:]) | set(busy[10:])
    assert {r.run_id for r in db.runs(limit=None)} == set(daily[:10]) | set(busy[:10])
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{i}.jsonl" for i in daily[:10] + busy[:10])
    assert pruned.bytes_freed > 0


def test_open_runs_and_files_outside_the_transcripts_folder_are_never_pruned(tmp_path):
    db = RunHistory(tmp_path / "h.db")
    folder = tmp_path / "transcripts"
    chat_session = tmp_path / "sessions" / "chat.jsonl"  # a chat run's transcript is the user's session
    chat_session.parent.mkdir()
    chat_session.write_text("{}\n")
    db.save(RunRecord("old-chat", "cccc", status="ok", started_at=NOW - 90 * DAY, transcript=str(chat_session)))
    db.save(RunRecord("old-open", "cccc", status="running", started_at=NOW - 90 * DAY))
    pruned = prune(db, folder, NOW, keep_days=30, keep_runs=1000)
    assert pruned.runs == ["old-chat"] and chat_session.exists()
    assert [r.run_id for r in db.runs(limit=None)] == ["old-open"]


def test_a_dry_run_removes_nothing(tmp_path):
    db = RunHistory(tmp_path / "h.db")
    folder = tmp_path / "transcripts"
    fill(db, folder, "dddd", 5, every_ms=40 * DAY)
    pruned = prune(db, folder, NOW, keep_days=30, keep_runs=1000, dry_run=True)
    assert len(pruned.runs) == 4 and "would remove 4 run record(s)" in pruned.summary()
    assert len(db.runs(limit=None)) == 5 and len(list(folder.iterdir())) == 5


def test_agent_cron_history_prune_says_what_it_removed(tmp_path):
    import time

    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.json").write_text(json.dumps({"cron": {"history": {"keepRunsPerTask": 3}}}))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    db = RunHistory(history_path(project.resolve(), env))
    now = int(time.time() * 1000)
    folder = project_state_dir(project.resolve(), env) / "transcripts"
    folder.mkdir(parents=True)
    for k in range(5):
        (folder / f"r{k}.jsonl").write_text("{}\n")
        db.save(RunRecord(f"r{k}", "eeee0001", status="ok", started_at=now - k * 60_000,
                          transcript=str(folder / f"r{k}.jsonl")))
    db.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "agent", "cron", "history", *args, "--cwd", str(project)],
                              env=env, capture_output=True, text=True, timeout=60)

    dry = cli("--prune", "--dry-run")
    assert dry.returncode == 0 and "would remove 2 run record(s) and 2 transcript file(s)" in dry.stdout
    assert len(list(folder.iterdir())) == 5
    done = cli("--prune")
    assert done.returncode == 0 and "Retention (keepDays 30, keepRunsPerTask 3): removed 2 run record(s)" in done.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["r0.jsonl", "r1.jsonl", "r2.jsonl"]
    assert cli("--dry-run").returncode == 2


def test_the_daemon_prunes_at_start_up(fake_api, tmp_path):
    import time

    from test_daemon_e2e import read_until, stop, write_tasks
    from test_daemon_history_e2e import daemon

    project = tmp_path / "project"
    project.mkdir()
    write_tasks(project, [])
    db = RunHistory(history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")}))
    now = int(time.time() * 1000)
    for k in range(3):
        db.save(RunRecord(f"old{k}", "ffff0001", status="ok", started_at=now - (40 + k) * DAY))
    db.save(RunRecord("recent", "ffff0001", status="ok", started_at=now - DAY))
    db.close()
    proc = daemon(fake_api, project)
    try:
        out = read_until(proc, "retention")
    finally:
        stop(proc)
    assert "removed 3 run record(s)" in out
    db = RunHistory(history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")}))
    assert [r.run_id for r in db.runs(limit=None)] == ["recent"]
