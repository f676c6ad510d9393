"""Start-up cost of the `agent` commands, beside the bare SDK import measured in the same run.

For each command: whole-process wall time and peak RSS (from wait4, this child only), median of N runs.
For `agent -p`: time from spawn to the first request reaching the fake Messages API, and to exit for a
one-tool turn (Read, then an answer). Also checks that `agent --help` and the `agent cron` commands never
import the SDK.

    python bench/startup_bench.py [--runs N]

Goals (issue 4): --help/--version < 200 ms; every `agent cron` command < 500 ms without the SDK;
`agent -p` adds <= 150 ms to the bare `import anthropic` before its first request; peak memory of a
one-tool `-p` turn < 120 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fake_api import FakeAnthropic, child_env, text_reply, tool_reply

PY = sys.executable


def run_once(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MB, exit status, stderr) of one run of `cmd`."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    err_chunks: list[str] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode, "".join(err_chunks)


def median_run(cmd: list[str], env: dict[str, str], cwd: Path, runs: int) -> tuple[float, float]:
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak, code, err = run_once(cmd, env, cwd)
        if code != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({code}): {err.strip()[-500:]}")
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), max(peaks)


def imports_sdk(cmd: list[str], env: dict[str, str], cwd: Path) -> bool:
    """Whether the command imports `anthropic` (python -X importtime lists every module)."""
    traced = [cmd[0], "-X", "importtime", *cmd[1:]]
    _, _, _, err = run_once(traced, env, cwd)
    return any(line.startswith("import time:") and line.split("|")[-1].strip() == "anthropic"
               for line in err.splitlines())


def sdk_import_time(env: dict[str, str], cwd: Path, runs: int) -> float:
    """Median seconds from spawn until `import anthropic` has finished (not until exit: interpreter
    shutdown is not part of the cost a request waits for)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen([PY, "-c", "import anthropic; print('ready', flush=True)"], env=env, cwd=cwd,
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()
        times.append(time.perf_counter() - start)
        proc.wait()
    return statistics.median(times)


def first_request_times(api: FakeAnthropic, env: dict[str, str], cwd: Path, runs: int) -> tuple[float, float, float]:
    """Median seconds from spawn to the first request, and to exit, for a one-tool -p turn; peak MB."""
    to_first, to_exit, peaks = [], [], []
    (cwd / "README.txt").write_text("hello\n")
    arrived: list[float] = []

    def first(request: object) -> object:
        arrived.append(time.perf_counter())
        return tool_reply(("Read", {"file_path": "README.txt"}))

    for _ in range(runs):
        arrived.clear()
        api.reset()
        api.when(lambda r: not r.tool_results(), first)
        api.when(lambda r: bool(r.tool_results()), text_reply("It says hello."))
        start = time.perf_counter()
        wall, peak, code, err = run_once([PY, "-m", "agent", "-p", "what does README.txt say"], env, cwd)
        if code != 0 or not arrived:
            raise SystemExit(f"agent -p failed ({code}): {err.strip()[-500:]}")
        to_first.append(arrived[0] - start)
        to_exit.append(wall)
        peaks.append(peak)
    return statistics.median(to_first), statistics.median(to_exit), max(peaks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp, FakeAnthropic() as api:
        project = Path(tmp) / "project"
        project.mkdir()
        env = child_env(api, home=Path(tmp) / "home")
        sdk_wall, sdk_peak = median_run([PY, "-c", "import anthropic"], env, project, runs)
        sdk_ready = sdk_import_time(env, project, runs)
        rows = [("python -c 'import anthropic' (to exit)", sdk_wall, sdk_peak, "", ""),
                ("python -c 'import anthropic' (imported)", sdk_ready, 0.0, "", "")]
        checks = []
        cheap = {
            "agent --help": ([PY, "-m", "agent", "--help"], 0.200),
            "agent --version": ([PY, "-m", "agent", "--version"], 0.200),
            "agent cron list": ([PY, "-m", "agent", "cron", "list"], 0.500),
            "agent cron next '*/5 * * * *'": ([PY, "-m", "agent", "cron", "next", "*/5 * * * *"], 0.500),
        }
        for label, (cmd, goal) in cheap.items():
            wall, peak = median_run(cmd, env, project, runs)
            sdk = imports_sdk(cmd, env, project)
            rows.append((label, wall, peak, f"< {goal * 1000:.0f} ms", "imports SDK!" if sdk else "no SDK"))
            checks.append(wall < goal and not sdk)
        add_walls = []
        for _ in range(runs):
            wall, _, _, _ = run_once([PY, "-m", "agent", "cron", "add", "--cron", "*/5 * * * *", "--prompt",
                                      "bench"], env, project)
            add_walls.append(wall)
        rows.append(("agent cron add", statistics.median(add_walls), 0.0, "< 500 ms", ""))
        checks.append(statistics.median(add_walls) < 0.5)
        first, done, peak = first_request_times(api, env, project, runs)
        rows.append(("agent -p: spawn -> first request", first, 0.0, f"< {(sdk_ready + 0.15) * 1000:.0f} ms",
                     f"{(first - sdk_ready) * 1000:+.0f} ms vs bare import"))
        rows.append(("agent -p: one-tool turn, to exit", done, peak, "peak < 120 MB", ""))
        checks += [first - sdk_ready <= 0.150, peak < 120]
    print(f"{'command':40} {'median':>9} {'peak RSS':>9}  goal / note")
    for label, wall, peak, goal, note in rows:
        peak_text = f"{peak:7.1f} MB" if peak else " " * 10
        print(f"{label:40} {wall * 1000:6.0f} ms {peak_text}  {goal} {note}".rstrip())
    print(f"\nruns per figure: {runs}; goals met: {sum(checks)}/{len(checks)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
