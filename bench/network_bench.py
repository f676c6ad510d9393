"""What the sandbox's network costs a command: the relay's start, and a request through relay and proxy.

Run: python bench/network_bench.py [--runs N]

For each backend this machine has: the median wall time of a sandboxed `true` with no network (no proxy,
no relay) and with allowed domains (the relay started inside, the proxy running), and the median time of
one `curl` to a loopback HTTP server through relay and proxy against curl with no sandbox. Medians of N
runs each (default 30), printed in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from network_support import http_server

from agent.permissions.network.gate import NetworkGate
from agent.permissions.sandbox.backends import BACKENDS
from agent.permissions.sandbox.runner import SandboxRunner


def timed(argv: list[str], env: dict[str, str], fds: tuple[int, ...], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, pass_fds=fds, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    return (time.perf_counter() - start) * 1000


def median_ms(runner: SandboxRunner, command: str, project: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        wrapped = runner.wrap(["bash", "-c", command], os.environ, project)
        try:
            times.append(timed(wrapped.argv, wrapped.env, wrapped.pass_fds, project))
        finally:
            wrapped.close()
            wrapped.denials()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder, http_server("bench") as (port, _):
        project = Path(folder)
        url = f"http://127.0.0.1:{port}/"
        plain = statistics.median(timed(["curl", "-s", url], dict(os.environ), (), project) for _ in range(runs))
        print(f"curl to a loopback server, no sandbox: {plain:.1f} ms")
        for backend_type in BACKENDS:
            backend = backend_type()
            if not backend.probe().available:
                print(f"{backend.name}: not available here")
                continue
            if backend.name == "landlock-only":
                print(f"{backend.name}: no network namespace, no network at all (nothing to measure)")
                continue
            rows = {}
            for label, allowed in (("no network", []), ("allowed domains", ["127.0.0.1"])):
                runner = SandboxRunner.from_settings(project, {"sandbox": {"enabled": True}}, backends=[backend])
                gate = NetworkGate(allowed, project, socket_path=lambda r=runner: r.private_path("proxy.sock"))
                runner.network = gate
                try:
                    rows[label] = median_ms(runner, "true", project, runs)
                    if allowed:
                        rows["curl through relay and proxy"] = median_ms(runner, f"curl -s {url}", project, runs)
                finally:
                    gate.close()
                    runner.close()
            extra = rows["allowed domains"] - rows["no network"]
            print(f"{backend.name}: sandboxed true, no network {rows['no network']:.1f} ms; with allowed domains "
                  f"(relay + proxy) {rows['allowed domains']:.1f} ms (+{extra:.1f}); "
                  f"curl through relay and proxy {rows['curl through relay and proxy']:.1f} ms")


if __name__ == "__main__":
    main()
