"""Start-up cost of the `agent` commands, beside the bare SDK import measured in the same run.

For each command: whole-process wall time and peak RSS (from wait4, this child only), median of N runs.
For `agent -p`: time from spawn to the first request reaching the fake Messages API, and to exit for a
one-tool turn (Read, then an answer). Also checks that `agent --help` and the `agent cron` commands never
import the SDK.

    python bench/startup_bench.py [--runs N]

Goals (issue 4): --help/--version < 200 ms; every `agent cron` command < 500 ms without the SDK;
`agent -p` adds <= 100 ms to the bare `import anthropic` before its first request (issue 14); at most
50 ms from its last byte of output to exit; peak memory of a one-tool `-p` turn < 120 MB. When a
`claude` executable is on PATH, `claude -p` runs the same turn against the same fake API.
"""

from __future__ import annotations

import argparse
import os
import shutil
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
    wall, peak, code, err, _ = run_timed(cmd, env, cwd)
    return wall, peak, code, err


def run_timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int, str, float]:
    """run_once's figures plus the seconds from the last byte on stdout to the process's exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    err_chunks: list[bytes] = []
    last_output = [start]

    def read_stdout() -> None:
        while proc.stdout.read1(65536):
            last_output[0] = time.perf_counter()

    readers = [threading.Thread(target=read_stdout),
               threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.perf_counter()
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = b"".join(err_chunks).decode(errors="replace")
    return ended - start, usage.ru_maxrss / 1024, proc.returncode, err, ended - last_output[0]


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


def first_request_times(api: FakeAnthropic, env: dict[str, str], cwd: Path, runs: int,
                        cmd: list[str]) -> tuple[float, float, float, float]:
    """Medians for a one-tool -p turn: spawn to the first request, spawn to exit, last output byte to
    exit; and the peak MB."""
    to_first, to_exit, tails, peaks = [], [], [], []
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
        wall, peak, code, err, tail = run_timed([*cmd, "-p", "what does README.txt say"], env, cwd)
        if code != 0 or not arrived:
            raise SystemExit(f"{cmd[-1]} -p failed ({code}): {err.strip()[-500:]}")
        to_first.append(arrived[0] - start)
        to_exit.append(wall)
        tails.append(tail)
        peaks.append(peak)
    return statistics.median(to_first), statistics.median(to_exit), statistics.median(tails), max(peaks)


def paired_gap(api: FakeAnthropic, env: dict[str, str], cwd: Path, runs: int, cmd: list[str]) -> float:
    """Median over `runs` pairs, each a bare SDK import then a `-p` run back to back, of the difference
    (spawn to first request) - (spawn to SDK imported). Pairing cancels the machine's drift, which moves
    two separately taken medians by 100 ms or more."""
    gaps = [first_request_times(api, env, cwd, 1, cmd)[0] - sdk_import_time(env, cwd, 1) for _ in range(runs)]
    return statistics.median(gaps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    # The SDK's modules have bytecode from pip; ours must too (an editable install under
    # PYTHONDONTWRITEBYTECODE would otherwise compile every module on every run).
    subprocess.run([PY, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "agent")],
                   check=False, stdout=subprocess.DEVNULL)
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
        first, done, tail, peak = first_request_times(api, env, project, runs, [PY, "-m", "agent"])
        gap = paired_gap(api, env, project, runs, [PY, "-m", "agent"])
        rows.append(("agent -p: spawn -> first request", first, 0.0, "",
                     f"{(first - sdk_ready) * 1000:+.0f} ms vs the bare import's median"))
        rows.append(("agent -p: first request - bare import", gap, 0.0, "< 100 ms",
                     f"median of {runs} back-to-back pairs"))
        rows.append(("agent -p: one-tool turn, to exit", done, peak, "peak < 120 MB", ""))
        rows.append(("agent -p: last output byte -> exit", tail, 0.0, "< 50 ms", ""))
        checks += [gap <= 0.100, peak < 120, tail < 0.050]
        claude = shutil.which("claude")
        if claude:  # Claude Code against the same fake API, in the same run
            c_first, c_done, c_tail, c_peak = first_request_times(api, env, project, runs, [claude])
            rows.append(("claude -p: spawn -> first request", c_first, 0.0, "", ""))
            rows.append(("claude -p: one-tool turn, to exit", c_done, c_peak, "",
                         f"agent/claude wall ratio {done / c_done:.2f}"))
            rows.append(("claude -p: last output byte -> exit", c_tail, 0.0, "", ""))
        else:
            rows.append(("claude -p", 0.0, 0.0, "", "skipped: no `claude` on PATH"))
    print(f"{'command':40} {'median':>9} {'peak RSS':>9}  goal / note")
    for label, wall, peak, goal, note in rows:
        peak_text = f"{peak:7.1f} MB" if peak else " " * 10
        print(f"{label:40} {wall * 1000:6.0f} ms {peak_text}  {goal} {note}".rstrip())
    print(f"\nruns per figure: {runs}; goals met: {sum(checks)}/{len(checks)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
