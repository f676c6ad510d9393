"""The lock holder's heartbeat: proof that the scheduler is ticking, not just that its process exists.

A process that holds the project lock writes `{"pid", "sessionId", "at"}` to `scheduler.heartbeat` in
the project's state folder on every tick (an atomic replace of a few bytes). A frozen process (SIGSTOP,
a debugger, a machine asleep) keeps its pid and its lock, but its heartbeat ages: `agent cron status`
says "holder alive but not ticking for N s". Holders that do not write one (Claude Code) are not judged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.settings import project_state_dir

__all__ = ["HEARTBEAT_FILE", "STALE_AFTER_MS", "Heartbeat", "heartbeat_path", "read_heartbeat", "write_heartbeat"]

HEARTBEAT_FILE = "scheduler.heartbeat"
STALE_AFTER_MS = 10_000  # ten missed ticks


@dataclass(frozen=True)
class Heartbeat:
    pid: int
    session_id: str
    at_ms: int


def heartbeat_path(project_dir: Path, env: Mapping[str, str]) -> Path:
    return project_state_dir(project_dir, env) / HEARTBEAT_FILE


def write_heartbeat(path: Path, pid: int, session_id: str, now_ms: int) -> None:
    """Atomically, and private (0600 in a 0700 folder) like every file of the state folder."""
    from agent.settings.private import write_private_text

    temp = path.with_name(f".{path.name}.{pid}")
    write_private_text(temp, json.dumps({"pid": pid, "sessionId": session_id, "at": now_ms}))
    os.replace(temp, path)


def read_heartbeat(path: Path) -> Heartbeat | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8")[:4096])
        return Heartbeat(int(data["pid"]), str(data["sessionId"]), int(data["at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
