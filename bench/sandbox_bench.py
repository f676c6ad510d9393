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
import statistics
import tempfile
import time
from pathlib import Path

from agent.permissions.sandbox.backends import Bubblewrap, LandlockBackend
from agent.permissions.sandbox.config import SandboxSettings
from agent.permissions.sandbox.runner import SandboxRunner
from agent.tools.base import ToolContext
from agent.tools.bash import BashTool


async def timed_runs(ctx: ToolContext, runs: int) -> list[float]:
    tool, args = BashTool(), BashTool().parse_input({"command": "true"})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await tool.run(args, ctx)
        times.append((time.perf_counter() - start) * 1000)
        assert "Exit code: 0" in result.content, result.content
    return times


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    runs = parser.parse_args().runs
    project = Path(tempfile.mkdtemp(prefix="sandbox-bench-"))
    (project / ".git").mkdir()
    plain = statistics.median(await timed_runs(ToolContext(project_dir=project), runs))
    print(f"median of {runs} `true` runs through the Bash tool")
    print(f"  unsandboxed        {plain:7.2f} ms")
    for backend in (Bubblewrap(), LandlockBackend()):
        start = time.perf_counter()
        runner = SandboxRunner(project, SandboxSettings(enabled=True), backends=[backend])
        probe = runner.probes[0]
        probe_ms = (time.perf_counter() - start) * 1000
        if not probe.available:
            print(f"  {backend.name:<18} unavailable: {probe.reason}")
            continue
        ctx = ToolContext(project_dir=project, sandbox=runner)
        first = (await timed_runs(ctx, 1))[0]
        median = statistics.median(await timed_runs(ctx, runs))
        print(f"  {backend.name:<18} {median:7.2f} ms   (+{median - plain:.2f} ms per command)")
        print(f"  {'':<18} per scheduled run, once: probe {probe_ms:.1f} ms (once per process) + first "
              f"command {first - median:+.1f} ms over a later one (temp folder, plan)")
        runner.close()


if __name__ == "__main__":
    asyncio.run(main())
