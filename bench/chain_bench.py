"""What a scheduler tick pays for task chains (`after`): the history lookups of ChainWatch.refresh.

Run: python bench/chain_bench.py [--runs N] [--upstreams K] [--rounds R]

Fills a temporary history with N runs spread over K upstream tasks (one in five failed, so the lookup
must skip some rows) plus unrelated tasks, then times UpstreamReader.latest_ok_ends for the K upstreams
(the query a tick makes while chained tasks exist) and a whole ChainWatch.refresh (thread hop included).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from agent.cron.chain_watch import ChainWatch, UpstreamReader
from agent.cron.chains import AFTER_ONLY_CRON
from agent.cron.history import RunHistory, RunRecord
from agent.cron.task import CronTask


def fill(db: RunHistory, runs: int, upstreams: list[str]) -> None:
    owners = [*upstreams, "eeeeeee1", "eeeeeee2", "eeeeeee3"]
    records = []
    for i in range(runs):
        # one in five failed; the first upstream never succeeds (the lookup's worst case)
        status = "error" if i % 5 == 0 or owners[i % len(owners)] == upstreams[0] else "ok"
        records.append(RunRecord(run_id=f"{i:012x}", task_id=owners[i % len(owners)], status=status,
                                 started_at=1_700_000_000_000 + i * 60_000,
                                 ended_at=1_700_000_000_000 + i * 60_000 + 5_000, result=f"answer {i}"))
    db.save_many(records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--upstreams", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    upstreams = [f"{i:08x}" for i in range(1, args.upstreams + 1)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.db"
        db = RunHistory(path)
        fill(db, args.runs, upstreams)
        db.close()
        reader = UpstreamReader(path)
        since = 1_700_000_000_000 + (args.runs - 2_000) * 60_000  # a follower that last fired a day ago
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            reader.latest_ok_ends(dict.fromkeys(upstreams, since))
            times.append(time.perf_counter() - start)
        print(f"latest_ok_ends, {args.upstreams} upstreams, {args.runs} runs: "
              f"median {statistics.median(times) * 1e6:.0f} us, max {max(times) * 1e6:.0f} us")
        follower = CronTask(id="ffffffff", cron=AFTER_ONLY_CRON, prompt="p", createdAt=since + 86_400_000,
                            after=upstreams)

        async def refreshes() -> list[float]:
            watch, spent = ChainWatch(reader, print), []
            for _ in range(args.rounds):
                start = time.perf_counter()
                await watch.refresh([follower])
                spent.append(time.perf_counter() - start)
            return spent

        spent = asyncio.run(refreshes())
        print(f"ChainWatch.refresh (thread hop included): median {statistics.median(spent) * 1e6:.0f} us, "
              f"max {max(spent) * 1e6:.0f} us")
        reader.close()


if __name__ == "__main__":
    main()
