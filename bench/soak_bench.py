"""Soak: `agent daemon` against a flaky fake API, 20 every-minute durable tasks, for N real minutes.

Run: python bench/soak_bench.py [--minutes 3] [--tasks 20] [--failure-rate 0.2]

The fake Messages API (tests/fake_api.py, on 127.0.0.1) fails the given share of requests, mixed 529,
500 and dropped connections; the client's own retries are off (AGENT_MAX_RETRIES=0) so that the
daemon's retry policy (`cron.retry` {attempts 2, backoffS 1}) does the work. Time is real: the daemon
has no fake clock, so a longer run is the only way to more fires. Figures:

  expected   slots whose whole interval passed while the daemon ran (per task: minute matches)
  recorded   runs in the history with a due time in that window
  duplicates two runs of one task for the same slot (must be 0: at-most-once)
  lost       expected slots with no run (must be 0 apart from the documented crash window)
  retries    extra attempts the policy made; pauses: tasks whose breaker opened
  memory     the daemon's peak RSS, and its growth per hour of fires (least squares after warm-up)
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fake_api import FakeAnthropic, child_env, dropped_reply, error_reply, text_reply  # noqa: E402

from agent.cron.gaps import expected_slots, find_gaps  # noqa: E402
from agent.cron.history import RunHistory, history_path  # noqa: E402
from agent.cron.zone import local_zone  # noqa: E402

MIN = 60_000


def flaky(rate: float, rng: random.Random):
    def respond(request):
        roll = rng.random()
        if roll < rate / 3:
            return error_reply(529)
        if roll < 2 * rate / 3:
            return error_reply(500)
        if roll < rate:
            return dropped_reply()
        return text_reply("checked: all fine")
    return respond


def make_project(tmp: Path, count: int) -> Path:
    project = tmp / "project"
    (project / ".claude").mkdir(parents=True)
    now = int(time.time() * 1000)
    tasks = [{"id": f"{0x50a50000 + i:08x}", "cron": "* * * * *", "prompt": f"soak check {i}",
              "createdAt": now, "recurring": True} for i in range(count)]
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": tasks}))
    (project / ".claude" / "settings.json").write_text(json.dumps(
        {"cron": {"retry": {"attempts": 2, "backoffS": 1}, "breaker": {"failures": 3}}}))
    return project


def growth_per_hour(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, in bytes per hour (first quarter dropped as warm-up)."""
    kept = samples[len(samples) // 4:]
    if len(kept) < 3:
        return 0.0
    n = len(kept)
    mean_t = sum(t for t, _ in kept) / n
    mean_m = sum(m for _, m in kept) / n
    var = sum((t - mean_t) ** 2 for t, _ in kept)
    return 0.0 if var == 0 else sum((t - mean_t) * (m - mean_m) for t, m in kept) / var * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--failure-rate", type=float, default=0.2)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name, FakeAnthropic(default=flaky(opts.failure_rate,
                                                                                random.Random(1))) as api:
        tmp = Path(tmp_name)
        project = make_project(tmp, opts.tasks)
        env = child_env(api, home=tmp / "home", XDG_STATE_HOME=str(tmp / "state"), AGENT_MAX_RETRIES="0",
                        PYTHONPATH=str(ROOT))
        started = int(time.time() * 1000)
        proc = subprocess.Popen([sys.executable, "-m", "agent", "daemon", "--cwd", str(project), "--grace", "5"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        watched = psutil.Process(proc.pid)
        samples: list[tuple[float, int]] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < opts.minutes * 60 and proc.poll() is None:
            samples.append((time.monotonic() - t0, watched.memory_info().rss))
            time.sleep(1)
        ended = int(time.time() * 1000)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        db = RunHistory(history_path(project.resolve(), env))
        runs = db.runs(limit=None)
        states = db.states()
        requests = len(api.requests)
    tz = local_zone()
    window = [r for r in runs if r.scheduled_at is not None and started <= r.scheduled_at <= ended]
    per_slot = Counter((r.task_id, r.scheduled_at // MIN) for r in window)
    expected = lost = 0
    by_task: dict[str, list[int]] = {}
    for r in window:
        by_task.setdefault(r.task_id, []).append(r.scheduled_at)
    for i in range(opts.tasks):
        task_id = f"{0x50a50000 + i:08x}"
        slots = expected_slots("* * * * *", started, ended, tz)
        judged = [s for k, s in enumerate(slots) if k + 1 < len(slots)]  # intervals that fully passed
        expected += len(judged)
        lost += len(find_gaps(task_id, slots, ended, sorted(by_task.get(task_id, [])), []))
    statuses = Counter(r.status for r in window)
    peak = max(m for _, m in samples) if samples else 0
    print(f"{opts.minutes:g} min, {opts.tasks} every-minute tasks, {opts.failure_rate:.0%} of requests failing "
          f"(529/500/dropped), {requests} API requests; daemon exit {proc.returncode}")
    print(f"fires: expected {expected}, recorded {len(window)} ({dict(statuses)}), "
          f"duplicates {sum(c - 1 for c in per_slot.values() if c > 1)}, lost {lost}")
    print(f"retries {sum(max(0, r.attempts - 1) for r in window)}, "
          f"pauses {sum(1 for s in states.values() if s.paused)}")
    print(f"memory: peak RSS {peak / 1e6:.1f} MB, growth {growth_per_hour(samples) / 1e6:+.1f} MB per hour "
          f"of fires ({opts.tasks * 60} fires/hour)")
    if proc.returncode != 0:
        print(err[-2000:])


if __name__ == "__main__":
    main()
