"""How long a slow task delays another task's start in `agent daemon` (goal: under 2 s).

Run: python bench/parallel_bench.py [--slow-s 20] [--others 3]

Two or more durable tasks are due at once; the fake Messages API (tests/fake_api.py) answers the slow
task's model call after `--slow-s` seconds and the others at once. Prints, for each other task, how long
after the slow task's run started its own run started (from the run history), and whether it ended
before the slow one. Before runs went side by side this was the slow task's whole duration.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_api import FakeAnthropic, child_env, text_reply  # noqa: E402

from agent.cron.history import RunHistory, history_path  # noqa: E402

GOAL_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow-s", type=float, default=20.0)
    parser.add_argument("--others", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name, FakeAnthropic(default=text_reply("fine")) as api:
        tmp = Path(tmp_name)
        project = tmp / "project"
        (project / ".claude").mkdir(parents=True)
        now = int(time.time() * 1000)
        ids = [f"{0x9a1a0000 + i:08x}" for i in range(opts.others + 1)]  # the first one is slow
        tasks = [{"id": task_id, "cron": "0 0 1 1 *", "prompt": "slow task" if i == 0 else f"quick task {i}",
                  "createdAt": now - 500 * 86_400_000, "recurring": True, "lastFiredAt": now - 400 * 86_400_000}
                 for i, task_id in enumerate(ids)]
        (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": tasks}))
        api.when(lambda r: "slow task" in r.turn_prompt(), text_reply("slow but fine", delay_s=opts.slow_s))
        env = child_env(api, home=tmp / "home", XDG_STATE_HOME=str(tmp / "state"), PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, "-m", "agent", "daemon", "--cwd", str(project)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            db = RunHistory(history_path(project.resolve(), env))
            deadline = time.monotonic() + opts.slow_s + 60
            while time.monotonic() < deadline:
                runs = {r.task_id: r for r in db.runs(limit=None)}
                if len(runs) == len(ids) and all(r.ended_at for r in runs.values()):
                    break
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    slow = runs[ids[0]]
    print(f"slow task: model call {opts.slow_s:g} s, run {((slow.ended_at or 0) - slow.started_at) / 1000:.1f} s")
    worst = 0.0
    for task_id in ids[1:]:
        run = runs[task_id]
        delay = (run.started_at - slow.started_at) / 1000
        worst = max(worst, delay)
        print(f"  task {task_id}: started {delay:+.2f} s after the slow one, "
              f"{'ended before it' if run.ended_at and run.ended_at < (slow.ended_at or 0) else 'ended AFTER it'}")
    print(f"worst start delay caused by the slow task: {worst:.2f} s (goal under {GOAL_S:g} s: "
          f"{'met' if worst < GOAL_S else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
