"""Background shells: Bash `run_in_background: true` starts one, BashOutput reads what it printed since the
last read, KillShell stops it. They belong to the session (or to the scheduled run that started them) and
end with it: every shell runs in its own process group, which is killed as a whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.tools.base import ToolError, WrappedCommand

KEEP_BYTES = 1024 * 1024  # unread output kept per shell; older unread output is dropped and counted
KILL_GRACE_S = 1.0


class _Collector(asyncio.Protocol):
    """The shell's output pipe: bytes not yet read, capped so a chatty server cannot exhaust memory."""

    def __init__(self) -> None:
        self.unread = bytearray()
        self.dropped = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.unread += data
        if len(self.unread) > KEEP_BYTES:
            cut = len(self.unread) - KEEP_BYTES
            self.dropped += cut
            del self.unread[:cut]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass
class BackgroundShell:
    id: str
    command: str
    run_id: str
    proc: asyncio.subprocess.Process
    output: _Collector
    transport: asyncio.BaseTransport
    started: float = field(default_factory=time.time)
    killed: bool = False
    watchdog: asyncio.Task[None] | None = None

    @property
    def status(self) -> str:
        if self.proc.returncode is None:
            return "running"
        return "killed" if self.killed else ("completed" if self.proc.returncode == 0 else "failed")

    def take_output(self) -> tuple[str, int]:
        """Output printed since the last call, and how many bytes of it were dropped unread."""
        text = self.output.unread.decode("utf-8", "replace")
        dropped, self.output.dropped = self.output.dropped, 0
        self.output.unread.clear()
        return text, dropped


class BackgroundShells:
    """The background shells of one session, by id (`bash_1`, `bash_2`, ...)."""

    def __init__(self) -> None:
        self._shells: dict[str, BackgroundShell] = {}
        self._ids = itertools.count(1)

    def __iter__(self):
        return iter(list(self._shells.values()))

    def get(self, shell_id: str) -> BackgroundShell:
        shell = self._shells.get(shell_id.strip())
        if shell is None:
            known = ", ".join(self._shells) or "none"
            raise ToolError(f"No background shell with id {shell_id!r} (shells: {known}).")
        return shell

    async def start(self, argv: list[str], command: str, cwd: Path, *, run_id: str, timeout_s: float,
                    wrapped: WrappedCommand | None = None) -> BackgroundShell:
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                start_new_session=True, env=wrapped.env if wrapped is not None else None,
                pass_fds=wrapped.pass_fds if wrapped is not None else (),
            )
        except OSError as exc:
            os.close(read_fd)
            raise ToolError(f"Cannot run bash in {cwd}: {exc.strerror or exc}") from None
        finally:
            os.close(write_fd)
            if wrapped is not None:
                wrapped.close()
        transport, output = await loop.connect_read_pipe(_Collector, os.fdopen(read_fd, "rb", buffering=0))
        shell = BackgroundShell(f"bash_{next(self._ids)}", command, run_id, proc, output, transport)
        shell.watchdog = asyncio.create_task(self._expire(shell, timeout_s))
        self._shells[shell.id] = shell
        return shell

    async def _expire(self, shell: BackgroundShell, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(shell.proc.wait(), timeout_s)
        except asyncio.TimeoutError:
            await self.kill(shell.id)

    async def kill(self, shell_id: str) -> BackgroundShell:
        """Stop a shell and everything it started: SIGTERM to its process group, SIGKILL after a grace."""
        shell = self.get(shell_id)
        if shell.proc.returncode is None:
            shell.killed = True
            _signal_group(shell.proc.pid, signal.SIGTERM)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(shell.proc.wait(), KILL_GRACE_S)
        _signal_group(shell.proc.pid, signal.SIGKILL)  # children that outlived bash, or ignore SIGTERM
        await shell.proc.wait()
        return shell

    async def close(self, run_id: str | None = None) -> None:
        """End every shell (or only those a run started) and forget them."""
        doomed = [s for s in self._shells.values() if run_id is None or s.run_id == run_id]
        await asyncio.gather(*(self.kill(s.id) for s in doomed), return_exceptions=True)
        for shell in doomed:
            if shell.watchdog is not None:
                shell.watchdog.cancel()
            shell.transport.close()
            self._shells.pop(shell.id, None)

    def kill_now(self) -> None:
        """SIGKILL every shell's process group at once: for an exit path that cannot await."""
        for shell in self._shells.values():
            _signal_group(shell.proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
