"""What the rules of issue 19 cost: a Bash decision under deny rules, and Glob's per-file verdicts with a
Read deny rule (the hard-link check stats every file; files with one link cost nothing more).

    python bench/rules_bench.py [--files 20000] [--commands 2000]

Prints figures; no goal is asserted here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from agent.permissions.policy import PermissionPolicy
from agent.tools.bash import BashTool

COMMANDS = ("git status", "ls -la src", "npm test", "make all", "python3 -m pytest -q", "git log --oneline -5",
            "flock F chrt -o 0 prlimit ls", "cp a.txt b.txt && cat b.txt", "git push origin main", "sed -n 1,5p f")


def bash_decisions(project: Path, count: int) -> None:
    for deny in ([], ["Bash(rm:*)", "Bash(git push:*)"]):
        policy = PermissionPolicy(project, allow=["Bash"], deny=deny)
        tool = BashTool()
        for command in COMMANDS:  # parse caches warm, as in a session
            policy.check(tool, {"command": command})
        start = time.perf_counter()
        for i in range(count):
            policy.check(tool, {"command": COMMANDS[i % len(COMMANDS)] + f" # {i}"})
        per = (time.perf_counter() - start) / count * 1e6
        print(f"Bash decision, {len(deny)} deny rules, uncached text: {per:8.0f} us per command")


def glob_verdicts(project: Path, files: int) -> None:
    (project / "src").mkdir(exist_ok=True)
    for i in range(files):
        (project / "src" / f"f{i}.txt").write_text("x")
    for i in range(0, files, 100):  # a few files with a second link (as pnpm stores make)
        os.link(project / "src" / f"f{i}.txt", project / "src" / f"link{i}.txt")
    paths = sorted((project / "src").iterdir())
    for deny in ([], ["Read(./.env)"]):
        policy = PermissionPolicy(project, deny=deny)
        start = time.perf_counter()
        verdict = policy.search_filter("Glob", project)
        for path in paths:
            verdict(path)
        per = (time.perf_counter() - start) / len(paths) * 1e6
        print(f"Glob verdicts over {len(paths)} files, deny rules {deny or 'none'}: {per:6.1f} us per file")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--commands", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / ".env").write_text("SECRET=1\n")
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        bash_decisions(project, args.commands)
        glob_verdicts(project, args.files)


if __name__ == "__main__":
    main()
