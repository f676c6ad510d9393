"""How fast the REPL starts, measured in a real pseudo-terminal against the fake Messages API.

For each run, `python -m agent` is spawned under pexpect and timed from spawn to:

- prompt:  the prompt (`>`) is on the screen;
- ready:   `/model`, typed the moment the prompt appears, prints its answer: the session, the
           scheduler and the SDK are loaded (a command needing the session waits for all of them);
- reply:   (separate runs) `hi`, typed the moment the prompt appears, gets its reply on the screen;
- exit:    Ctrl-D until the process is gone (scheduler stopped, lock released).

It also samples the CPU the idle REPL uses over `--idle-seconds` (user + system time of the child
process, psutil): with the prompt up and nothing scheduled, and with the prompt up and one session loop
(`/loop 10m ...`, its first run finished), whose countdown the toolbar shows. Goal: under 0.5 % of one
core. The toolbar is drawn (cursor position requests answered), as in a real terminal. The loop figure
depends on the clock: `*/10` fires at :00, :10, ..., and within 5 minutes of a fire the toolbar counts
seconds (one redraw a second, about 0.45 %); further away it counts minutes (about 0.15-0.2 %).

    python bench/repl_startup_bench.py [--runs 5] [--idle-seconds 20]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pexpect
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fake_api import FakeAnthropic, child_env

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\r")


class Run:
    def __init__(self, api: FakeAnthropic, root: Path, *, toolbar: bool = False) -> None:
        project = root / "project"
        (project / ".claude").mkdir(parents=True, exist_ok=True)
        # Timed runs as before (no cursor position requests, so no toolbar); the idle run draws the
        # toolbar (its countdown is what redraws an idle chat), answering the requests as a terminal does.
        no_cpr = {} if toolbar else {"PROMPT_TOOLKIT_NO_CPR": "1"}
        env = child_env(api, root / "home", TERM="xterm-256color", **no_cpr)
        self.started = time.perf_counter()
        self.child = pexpect.spawn(sys.executable, ["-m", "agent", "--cwd", str(project)], env=env,
                                   dimensions=(40, 120), encoding="utf-8", codec_errors="replace")
        self.text = ""

    def wait_for(self, pattern: str, timeout: float = 20.0) -> float:
        """Seconds since spawn when `pattern` first shows on the screen."""
        regex, deadline = re.compile(pattern), time.perf_counter() + timeout
        while not regex.search(self.text):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{pattern!r} not seen: {self.text[-500:]!r}")
            self.read(0.005)
        return time.perf_counter() - self.started

    def read(self, timeout: float) -> None:
        with contextlib.suppress(pexpect.TIMEOUT):
            data = self.child.read_nonblocking(65536, timeout=timeout)
            if "\x1b[6n" in data:  # a cursor position request: answer it as a terminal would
                self.child.send("\x1b[40;1R")
            self.text += ANSI.sub("", data)

    def idle_cpu_percent(self, seconds: float) -> float:
        """CPU used by the child while nobody types, reading (and so not blocking) its output."""
        proc = psutil.Process(self.child.pid)
        before, start = proc.cpu_times(), time.perf_counter()
        while time.perf_counter() - start < seconds:
            self.read(0.2)
        after = proc.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        return 100 * used / (time.perf_counter() - start)

    def exit_seconds(self) -> float:
        start = time.perf_counter()
        self.child.sendcontrol("d")
        self.child.expect(pexpect.EOF, timeout=20)
        self.child.close()
        return time.perf_counter() - start


def measure_idle(api: FakeAnthropic, root: Path, seconds: float) -> tuple[list[float], list[float]]:
    """Idle CPU with the toolbar drawn: prompt up and nothing scheduled, then with one session loop."""
    run = Run(api, root, toolbar=True)
    run.wait_for(r"(?m)^>")
    run.child.send("/model\r")
    run.wait_for(r"Model: \S+")
    run.read(1.0)  # let the start-up settle
    idle = [run.idle_cpu_percent(seconds)]
    run.child.send("/loop 10m say hi\r")
    run.wait_for(r"pong")
    run.read(1.0)
    idle_loop = [run.idle_cpu_percent(seconds)]
    run.child.sendcontrol("d")  # the first Ctrl-D warns that the session loop will stop
    run.wait_for(r"Press Ctrl-D again")
    run.exit_seconds()
    return idle, idle_loop


def summary(name: str, values: list[float], unit: str = "ms", scale: float = 1000) -> str:
    shown = [v * scale for v in values]
    return (f"{name:<28} median {statistics.median(shown):8.1f} {unit}   min {min(shown):8.1f}   "
            f"max {max(shown):8.1f}   (n={len(shown)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    prompt, ready, reply, exits, idle, idle_loop = [], [], [], [], [], []
    with FakeAnthropic(default="pong") as api, tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            run = Run(api, Path(tmp) / f"ready{i}")
            prompt.append(run.wait_for(r"(?m)^>"))
            run.child.send("/model\r")
            ready.append(run.wait_for(r"Model: \S+"))
            exits.append(run.exit_seconds())
        for i in range(args.runs):
            run = Run(api, Path(tmp) / f"reply{i}")
            run.wait_for(r"(?m)^>")
            run.child.send("hi\r")
            reply.append(run.wait_for(r"pong"))
            run.exit_seconds()
        if args.idle_seconds > 0:
            idle, idle_loop = measure_idle(api, Path(tmp) / "idle", args.idle_seconds)
    print(f"python {sys.version.split()[0]}, {psutil.cpu_count()} CPUs, load {psutil.getloadavg()[0]:.2f}")
    print(summary("spawn -> prompt drawn", prompt))
    print(summary("spawn -> session ready", ready))
    print(summary("spawn -> first reply (typed at once)", reply))
    print(summary("Ctrl-D -> process gone", exits))
    if idle:
        print(f"{'idle CPU (prompt up)':<28} {idle[0]:.2f} % of one core over {args.idle_seconds:.0f} s")
        print(f"{'idle CPU (one session loop)':<28} {idle_loop[0]:.2f} % of one core over "
              f"{args.idle_seconds:.0f} s (goal < 0.5 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
