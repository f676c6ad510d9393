"""Grep's memory and time on many matching lines, and on catastrophic patterns.

Writes --mb megabytes of matching lines (files of 4 MB) to a temp project, then runs Grep in a child
process with output_mode content and head_limit 5, and reports wall time and peak RSS (wait4, that child
only). Then times `(a+)+$` over a 1 MB line and a many-star glob over 200-character names.

    python bench/grep_bench.py [--mb 240] [--source PATH]

--source runs another checkout's `agent` (e.g. an older commit unpacked with `git archive`) to compare.
Goal (issue 9): peak memory bounded by head_limit (tens of MB), not by the matching text.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import asyncio, sys
from pathlib import Path
from agent.tools.base import ToolContext
from agent.tools.search import GlobTool, GrepTool
tool = GlobTool() if sys.argv[2] == "glob" else GrepTool()
args = {"pattern": sys.argv[3], **({"output_mode": "content", "head_limit": 5} if sys.argv[2] == "grep" else {})}
result = asyncio.run(tool.run(tool.parse_input(args), ToolContext(project_dir=Path(sys.argv[1]))))
print(result.summary)
"""


def run(source: Path, project: Path, kind: str, pattern: str) -> tuple[float, float, str]:
    env = {**os.environ, "PYTHONPATH": str(source)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(project), kind, pattern], env=env,
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read().strip() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, out if status == 0 else f"failed ({status})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=240)
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parent.parent)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        line = b"needle " + b"y" * 92 + b"\n"
        for i in range(max(options.mb // 4, 1)):
            (project / f"big{i:03}.log").write_bytes(line * (4 * 1024 * 1024 // len(line)))
        secs, rss, summary = run(options.source, project, "grep", "needle")
        print(f"grep {options.mb} MB of matches, head_limit 5: {secs:.2f} s, peak RSS {rss:.0f} MB ({summary})")
        for path in project.iterdir():
            path.unlink()
        (project / "long.txt").write_text("a" * 1_000_000 + "b\n")
        secs, rss, summary = run(options.source, project, "grep", "(a+)+$")
        print(f"grep (a+)+$ over a 1 MB line: {secs:.2f} s, peak RSS {rss:.0f} MB ({summary})")
        for i in range(50):
            (project / ("a" * 190 + f"{i:03}")).write_text("x")
        secs, rss, summary = run(options.source, project, "glob", "*a*a*a*a*a*a*a*a*a*a*a*b")
        print(f"glob *a*a*...*b over 50 names of 193 characters: {secs:.2f} s ({summary})")


if __name__ == "__main__":
    main()
