"""What the OS sandbox adds to a Bash command and to a scheduled run, per backend.

Run: python bench/sandbox_bench.py [--runs 100]

Per command: the median wall time of `true` through the Bash tool (spawn, wait, output), sandboxed and not;
the difference is the sandbox's cost (goal: under 20 ms). Per scheduled run: what a run pays once on top
of its commands: probing the backend (once per process: the daemon pays it at its first fire), making the
session's private temp folder and the first command's plan.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from agent.permissions.sandbox.backends import Bubblewrap, LandlockBackend, LandlockOnly
from agent.permissions.sandbox.config import SandboxSettings
from agent.permissions.sandbox.runner import SandboxRunner
from agent.tools.base import ToolContext
from agent.tools.bash import BashTool


def children_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


async def timed_runs(ctx: ToolContext, runs: int) -> tuple[list[float], float]:
    """Wall times of `runs` commands, and the CPU time their processes used, per command."""
    tool, args = BashTool(), BashTool().parse_input({"command": "true"})
    times = []
    cpu = children_cpu_ms()
    for _ in range(runs):
        start = time.perf_counter()
        result = await tool.run(args, ctx)
        times.append((time.perf_counter() - start) * 1000)
        assert not result.is_error, result.content
    return times, (children_cpu_ms() - cpu) / runs


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    runs = parser.parse_args().runs
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times grow with it)")
    project = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    (project / ".git").mkdir()
    times, plain_cpu = await timed_runs(ToolContext(project_dir=project), runs)
    plain = statistics.median(times)
    print(f"median of {runs} `true` runs through the Bash tool (wall time; CPU time of its processes)")
    print(f"  unsandboxed        {plain:7.2f} ms   cpu {plain_cpu:.2f} ms")
    for backend in (Bubblewrap(), LandlockBackend(), LandlockOnly()):
        start = time.perf_counter()
        runner = SandboxRunner(project, SandboxSettings(enabled=True), backends=[backend])
        probe = runner.probes[0]
        probe_ms = (time.perf_counter() - start) * 1000
        if not probe.available:
            print(f"  {backend.name:<18} unavailable: {probe.reason}")
            continue
        ctx = ToolContext(project_dir=project, sandbox=runner)
        first = (await timed_runs(ctx, 1))[0][0]
        times, cpu = await timed_runs(ctx, runs)
        median = statistics.median(times)
        print(f"  {backend.name:<18} {median:7.2f} ms   cpu {cpu:.2f} ms   (+{median - plain:.2f} ms per command)")
        print(f"  {'':<18} per scheduled run, once: probe {probe_ms:.1f} ms (once per process) + first "
              f"command {first - median:+.1f} ms over a later one (temp folder, plan)")
        runner.close()


if __name__ == "__main__":
    asyncio.run(main())
