"""How fast `agent cron history` answers with 100,000 recorded runs (goal: under 300 ms).

Run: python bench/history_bench.py [--runs N] [--repeat R]

Fills a run history in a temporary state folder (50 tasks, one run a minute back in time, 10 % errors),
then times, as a user would see it, the whole `python -m agent cron history` process (start-up included)
in four forms: the default table, a task filter, `--status error --since 7d`, and `--json`. It also times
the query alone, in process, and the fill itself. Prints the median of R runs of each.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.cron.history import RunHistory, RunRecord, history_path  # noqa: E402

GOAL_MS = 300


def fill(db: RunHistory, count: int, now_ms: int) -> list[str]:
    rng = random.Random(7)
    tasks = [f"{i:08x}" for i in range(0xa0000000, 0xa0000000 + 50)]
    records = []
    for i in range(count):
        started = now_ms - i * 60_000
        status = "error" if rng.random() < 0.1 else "ok"
        records.append(RunRecord(
            run_id=f"{i:012x}", task_id=tasks[i % len(tasks)], prompt="check the deploy and summarise",
            cron="* * * * *", status=status, scheduled_at=started, started_at=started, ended_at=started + 4000,
            requests=2, input_tokens=1500, output_tokens=200, cost_usd=0.008,
            result=None if status == "error" else "All green: 3 checks passed.\nNothing to do.",
            error="529 overloaded" if status == "error" else None, transcript=f"/state/transcripts/{i}.jsonl",
            pid=4242, host="bench"))
    db.save_many(records)
    return tasks


def time_cli(args: list[str], env: dict[str, str], project: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "agent", "cron", *args, "--cwd", str(project)], env=env,
                              capture_output=True, text=True, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"agent cron {' '.join(args)} failed: {done.stderr}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        project.mkdir()
        env = {**os.environ, "XDG_STATE_HOME": str(Path(tmp) / "state"), "PYTHONPATH": str(ROOT)}
        db = RunHistory(history_path(project.resolve(), env))
        now = time.time_ns() // 1_000_000
        start = time.perf_counter()
        tasks = fill(db, opts.runs, now)
        fill_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(opts.repeat):
            db.runs(limit=50)
        query_ms = (time.perf_counter() - start) * 1000 / opts.repeat
        db.close()
        size_mb = db.path.stat().st_size / 1e6
        baseline = time_cli(["next", "* * * * *", "--count", "1"], env, project, opts.repeat)
        figures = {
            "agent cron history": time_cli(["history"], env, project, opts.repeat),
            f"agent cron history {tasks[3]}": time_cli(["history", tasks[3]], env, project, opts.repeat),
            "agent cron history --status error --since 7d": time_cli(
                ["history", "--status", "error", "--since", "7d"], env, project, opts.repeat),
            "agent cron history --json": time_cli(["history", "--json"], env, project, opts.repeat),
        }
    print(f"{opts.runs:,} runs recorded in {fill_s:.2f} s ({size_mb:.1f} MB); newest 50 in process: "
          f"{query_ms:.2f} ms")
    print(f"for comparison, agent cron next (loads the whole cron core): {baseline:.0f} ms")
    for name, ms in figures.items():
        verdict = "ok" if ms < GOAL_MS else f"OVER the {GOAL_MS} ms goal"
        print(f"{name:<48} {ms:6.0f} ms  ({verdict})")


if __name__ == "__main__":
    main()
