"""Real MCP servers for the tests: `server.py` (the SDK's server side) started over stdio or on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SERVER = str(Path(__file__).with_name("server.py"))


def stdio_entry(**extra: Any) -> dict[str, Any]:
    """A `.mcp.json` entry that starts the test server over stdio."""
    return {"command": sys.executable, "args": [SERVER, "stdio"], **extra}


@contextmanager
def served(transport: str, folder: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """The test server over `http` or `sse` on 127.0.0.1 (a free port); yields its URL."""
    port_file = folder / f"{transport}-url"
    proc = subprocess.Popen([sys.executable, SERVER, transport, str(port_file)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {transport} test server did not start")
            time.sleep(0.05)
        yield port_file.read_text()
    finally:
        proc.terminate()
        proc.wait(10)
