"""What an MCP server costs the agent: time to connect (process start, handshake, tool listing) and the
latency of one tool call from a conversation's loop through the manager's own loop and back.

Run: python bench/mcp_bench.py [--transport stdio|http|sse] [--calls N]

Uses the tests' small server (tests/mcp_support/server.py, the SDK's server side) on stdio or 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from mcp_support import SERVER, served

from agent.mcp.config import ServerSpec, parse_server
from agent.mcp.manager import McpManager


async def calls(manager: McpManager, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        await manager.call_tool("b", "echo", {"text": str(i)})
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(spec: ServerSpec, count: int) -> None:
    manager = McpManager([spec], cwd=Path.cwd(), report=print)
    started = time.perf_counter()
    manager.start()
    returned = time.perf_counter()
    manager.wait_ready(60)
    ready = time.perf_counter()
    try:
        state = manager.states["b"]
        print(f"start() returned in {(returned - started) * 1000:.1f} ms (the prompt does not wait)")
        print(f"connected ({state.status}, {len(state.tools)} tools) after {(ready - started) * 1000:.0f} ms")
        times = asyncio.run(calls(manager, count))
        print(f"{count} echo calls: median {statistics.median(times):.2f} ms, "
              f"p90 {sorted(times)[int(count * 0.9) - 1]:.2f} ms, max {max(times):.2f} ms")
    finally:
        manager.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("stdio", "http", "sse"), default="stdio")
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    if args.transport == "stdio":
        measure(ServerSpec("b", "dynamic", "stdio", command=sys.executable, args=[SERVER, "stdio"]), args.calls)
        return
    with tempfile.TemporaryDirectory() as folder, served(args.transport, Path(folder)) as url:
        measure(parse_server("b", {"type": args.transport, "url": url}, "dynamic", "bench", {}), args.calls)


if __name__ == "__main__":
    main()
