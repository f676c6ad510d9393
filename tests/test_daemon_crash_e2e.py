"""kill -9 of `agent daemon` at three points (a fire committed but not started, a model call, a tool call):
after a restart nothing is left `running` or `queued`, every committed fire has exactly one record, and
nothing fired twice."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
from fake_api import stalled_reply, text_reply, tool_reply
from test_daemon_e2e import read_until, stop, write_tasks
from test_daemon_history_e2e import daemon, history, write_settings

YEARLY = "0 0 1 1 *"  # fired once now (overdue), then not again for a year: any second fire is a bug


def _children_running(proc, name: str) -> bool:
    try:
        return any(name in " ".join(c.cmdline()) for c in psutil.Process(proc.pid).children(recursive=True))
    except psutil.Error:
        return False


def test_kill_9_at_three_points_leaves_one_true_record_per_committed_fire(fake_api, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    now = int(time.time() * 1000)
    ids = {"model": "9a000001", "tool": "9a000002", "queued": "9a000003"}
    write_tasks(project, [{"id": task_id, "cron": YEARLY, "prompt": f"{kind}-task", "createdAt": now - 500 * 86_400_000,
                           "recurring": True, "permanent": True, "lastFiredAt": now - 400 * 86_400_000}
                          for kind, task_id in ids.items()])
    write_settings(project, {"cron": {"maxConcurrentRuns": 2},
                             "permissions": {"allow": ["Bash(sleep:*)"]}})
    fake_api.when(lambda r: "model-task" in r.turn_prompt(), stalled_reply())
    fake_api.when(lambda r: "tool-task" in r.turn_prompt() and not r.tool_results(),
                  tool_reply(("Bash", {"command": "sleep 47"})))
    fake_api.set_default(text_reply("done"))
    proc = daemon(fake_api, project)
    orphans: list[psutil.Process] = []
    try:
        read_until(proc, "running scheduled task 9a000002")
        deadline = time.monotonic() + 30
        while not (_children_running(proc, "sleep 47") and len(fake_api.requests) >= 2):
            assert time.monotonic() < deadline, "the model call and the tool call did not both start"
            time.sleep(0.05)
        orphans = [c for c in psutil.Process(proc.pid).children(recursive=True) if "sleep" in " ".join(c.cmdline())]
        proc.kill()  # kill -9: nothing gets to close its records
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = {r["taskId"]: r["status"] for r in _raw_history(project, tmp_path)}
    assert before == {ids["model"]: "running", ids["tool"]: "running", ids["queued"]: "queued"}
    tasks = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    committed = {t["id"] for t in tasks if t["lastFiredAt"] > now - 60_000}
    assert committed == set(ids.values())

    restarted = daemon(fake_api, project)
    try:
        out = read_until(restarted, "holding the project lock")
        time.sleep(1.5)  # a tick or two: anything that would fire again does so now
    finally:
        stop(restarted)
        for orphan in orphans:
            if orphan.is_running():
                orphan.kill()
    assert out.count("recorded interrupted") == 3
    runs = history(fake_api, project)
    assert sorted(r["taskId"] for r in runs) == sorted(ids.values())  # exactly one record per committed fire
    assert {r["status"] for r in runs} == {"interrupted"}
    by_task = {r["taskId"]: r for r in runs}
    assert "queued it" in by_task[ids["queued"]]["error"] and "ran it" in by_task[ids["model"]]["error"]
    prompts = [r.turn_prompt() for r in fake_api.requests]
    assert sum("model-task" in p for p in prompts) == 1 and sum("tool-task" in p for p in prompts) == 1
    assert not any("queued-task" in p for p in prompts)  # the queued fire was never delivered twice


def _raw_history(project: Path, tmp_path: Path) -> list[dict]:
    """The records exactly as the killed process left them (no reader has settled them yet)."""
    import sqlite3

    from agent.cron.history import history_path

    path = history_path(project.resolve(), {"XDG_STATE_HOME": str(tmp_path / "state")})
    rows = sqlite3.connect(path).execute("SELECT task_id, status FROM runs").fetchall()
    return [{"taskId": t, "status": s} for t, s in rows]


def test_every_history_view_settles_records_of_a_dead_process(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    from agent.cron.history import RunHistory, RunRecord, history_path
    from agent.cron.orphans import this_process_start

    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    db = RunHistory(history_path(project.resolve(), env))
    db.save(RunRecord("r00000000001", "9b000001", status="running", started_at=1_000, pid=dead.pid,
                      host=socket.gethostname(), proc_start="1"))
    db.save(RunRecord("r00000000002", "9b000001", status="running", started_at=2_000, pid=os.getpid(),
                      host=socket.gethostname(), proc_start=this_process_start()))  # alive: left alone
    db.close()
    shown = subprocess.run([sys.executable, "-m", "agent", "cron", "history", "--json", "--cwd", str(project)],
                           env=env, capture_output=True, text=True, timeout=60)
    statuses = {r["runId"]: r["status"] for r in json.loads(shown.stdout)}
    assert statuses == {"r00000000001": "interrupted", "r00000000002": "running"}
