"""Next-fire throughput of agent.cron.expr.next_fire against croniter's get_next.

Run: python bench/cron_bench.py [--count N] [--seed S]

Both sides get the same random expressions (drawn from the whole grammar) and start times, in UTC and
in Europe/Berlin. Figures:
  croniter      croniter(expr, start).get_next(datetime) per expression (construction included)
  ours, cold    next_fire(text, start) with the parse cache cleared first: parse + next fire
  ours, warm    next_fire(expr, start) on expressions parsed beforehand: next fire alone
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

from agent.cron.expr import next_fire, parse_cron


def random_field(rng: random.Random, low: int, high: int) -> str:
    """One field using every item shape of the grammar (never an equal range like 5-5)."""
    items = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        shape = rng.randrange(5)
        if shape == 0:
            items.append("*")
        elif shape == 1:
            items.append(f"*/{rng.randint(1, high)}")
        elif shape == 2:
            items.append(str(rng.randint(low, high)))
        else:
            start = rng.randint(low, high - 1)
            end = rng.randint(start + 1, high)
            step = f"/{rng.randint(1, high)}" if shape == 4 else ""
            items.append(f"{start}-{end}{step}")
    return ",".join(items)


def random_expression(rng: random.Random) -> str:
    bounds = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
    return " ".join(random_field(rng, low, high) for low, high in bounds)


def workload(count: int, seed: int) -> list[tuple[str, datetime]]:
    """Expressions that fire within a year of their start (croniter raises on the others)."""
    rng = random.Random(seed)
    zones = (timezone.utc, ZoneInfo("Europe/Berlin"))
    origin = datetime(2020, 1, 1)
    span = int(timedelta(days=365 * 12).total_seconds())
    jobs = []
    while len(jobs) < count:
        start = (origin + timedelta(seconds=rng.randrange(span))).replace(tzinfo=rng.choice(zones))
        text = random_expression(rng)
        if next_fire(text, start) is not None:
            jobs.append((text, start))
    return jobs


def rate(run: Callable[[], None], count: int, repeat: int = 3) -> float:
    """Best-of-`repeat` fires per second."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - began)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    jobs = workload(args.count, args.seed)
    parsed = [(parse_cron(text), start) for text, start in jobs]

    def run_croniter() -> None:
        for text, start in jobs:
            croniter(text, start).get_next(datetime)

    def run_cold() -> None:
        parse_cron.cache_clear()
        for text, start in jobs:
            next_fire(text, start)

    def run_warm() -> None:
        for expr, start in parsed:
            next_fire(expr, start)

    theirs = rate(run_croniter, len(jobs))
    cold = rate(run_cold, len(jobs))
    warm = rate(run_warm, len(jobs))
    print(f"{len(jobs)} random expressions and start times (UTC and Europe/Berlin), best of 3")
    print(f"croniter (construct + get_next): {theirs:>10,.0f} fires/s")
    print(f"ours, cold (parse + next_fire):  {cold:>10,.0f} fires/s  ratio {cold / theirs:5.1f}x")
    print(f"ours, warm (next_fire only):     {warm:>10,.0f} fires/s  ratio {warm / theirs:5.1f}x")


if __name__ == "__main__":
    main()
