"""Bash: run one shell command in the project folder, with a timeout that kills the whole tree.

The command runs in a new session (its own process group), so a timeout or a cancelled turn can
signal every process it started: SIGTERM first, SIGKILL after a short grace. Output goes to a pipe we
own rather than one asyncio owns, because asyncio's `Process.wait()` waits for its pipes to close and a
background child (`server &`) would hold them open long after bash itself has exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolDenial, ToolError, ToolResult, WrappedCommand

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MS = 120_000
MAX_TIMEOUT_MS = 600_000
OUTPUT_HEAD_BYTES = 15_000
OUTPUT_TAIL_BYTES = 15_000
KILL_GRACE_S = 1.0  # between SIGTERM and SIGKILL
DRAIN_GRACE_S = 0.2  # after bash exits, for output still in flight from its children
SYSTEM_BIN = ("/usr/bin", "/bin", "/usr/local/bin")


class BashInput(BaseModel):
    command: str = Field(description="The command to execute")
    timeout: int = Field(
        DEFAULT_TIMEOUT_MS, ge=1, le=MAX_TIMEOUT_MS,
        description=f"Optional timeout in milliseconds (max {MAX_TIMEOUT_MS})",
    )
    description: str | None = Field(
        None,
        description="Clear, concise description of what this command does in 5-10 words, in active voice",
    )
    dangerouslyDisableSandbox: bool = Field(  # Claude Code's input field name
        False,
        description="Set this to true to run the command outside the sandbox. The user is always asked first "
        "(refused when nobody can answer). Only when the sandbox blocked something the task really needs.",
    )


class CappedOutput(asyncio.Protocol):
    """Collects a pipe's bytes, keeping only the head and the tail so a flood cannot exhaust memory."""

    def __init__(self, head: int = OUTPUT_HEAD_BYTES, tail: int = OUTPUT_TAIL_BYTES) -> None:
        self._head_cap, self._tail_cap = head, tail
        self.head, self.tail = bytearray(), bytearray()
        self.total = 0
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.total += len(data)
        room = self._head_cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self._tail_cap:
                del self.tail[: len(self.tail) - self._tail_cap]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def text(self) -> str:
        cut = self.total - len(self.head) - len(self.tail)
        if cut <= 0:
            return (self.head + self.tail).decode("utf-8", "replace")
        head, tail = self.head.decode("utf-8", "replace"), self.tail.decode("utf-8", "replace")
        return f"{head}\n\n[... {cut:,} bytes of output cut from the middle ...]\n\n{tail}"


def _format_seconds(ms: int) -> str:
    return f"{ms / 1000:g}s"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group has already gone
        os.killpg(pgid, sig)


async def kill_process_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the command's process group, then SIGKILL whatever is left, and reap bash."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE_S)
    except asyncio.TimeoutError:
        logger.debug("bash %d ignored SIGTERM; sending SIGKILL", proc.pid)
    _signal_group(proc.pid, signal.SIGKILL)  # also children that outlived bash or ignore SIGTERM
    await proc.wait()


class BashTool(Tool):
    name = "Bash"
    Input = BashInput
    description = (
        "Executes a bash command in the project folder and returns its output (stdout and stderr "
        "together) and exit code.\n\n"
        "- Each call starts a fresh shell in the project folder: `cd` and variables do not carry over "
        "to the next call, so chain dependent steps with `&&` and prefer absolute paths.\n"
        "- stdin is empty: never run interactive commands (editors, pagers, `git rebase -i`, prompts); "
        "pass flags such as `--yes` or `--no-pager` instead.\n"
        f"- timeout is in milliseconds (default {DEFAULT_TIMEOUT_MS}, max {MAX_TIMEOUT_MS}); on timeout "
        "the command and every process it started are killed.\n"
        f"- Output over {OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES:,} bytes keeps its beginning and end.\n"
        "- Quote paths that contain spaces. Do not use Bash for what the dedicated tools do better: "
        "Read (not cat/head/tail), Edit and Write (not sed/echo >), Glob (not find/ls -R), Grep (not "
        "grep/rg).\n"
        "- Give a short description of what the command does.\n"
        "- When the sandbox is on, the command may write only in the project folder and $TMPDIR (.git and "
        ".claude stay read-only), cannot read credentials or Read-denied files, has no network beyond allowed "
        "domains, gets no API keys in its environment, and every process it started ends with it. If it fails "
        "because of that, the result says so; dangerouslyDisableSandbox: true asks the user to run it outside."
    )

    def key_argument(self, args: BaseModel) -> str:
        return str(args.command)  # type: ignore[attr-defined]

    def permission_subject(self, args: BaseModel) -> str | None:
        return str(args.command)  # type: ignore[attr-defined]

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, BashInput)
        if not args.command.strip():
            raise ToolError("command is empty.")
        wrapped = _sandboxed(args, ctx)
        try:
            output, code, timed_out, lingering = await run_command(args.command, ctx.project_dir, args.timeout,
                                                                   wrapped=wrapped)
        finally:
            denials = wrapped.denials() if wrapped is not None else []  # this command's, whatever happened
        result = _result(output, code, timed_out, lingering, args.timeout)
        if wrapped is not None:
            note = wrapped.explain(output)
            if denials:
                note = _denials_note(denials)  # says exactly what was refused: better than a guess
            if note:
                result.content += f"\n\n{note}"
            result.summary += " (sandboxed)"
            result.denials = denials
        return result


def _denials_note(denials: list[ToolDenial]) -> str:
    lines = [f"- {d.reason}; to allow it: {d.rule}" if d.rule else f"- {d.reason}" for d in dict.fromkeys(denials)]
    return ("The sandbox refused, while the command ran:\n" + "\n".join(lines) + "\nThe user decides what "
            "may be reached: do not try another way around the sandbox; say what you needed instead.")


@functools.cache
def system_bash() -> str:
    """bash from the system's folders when it is there: a `bash` earlier on PATH (an activated venv in the
    project) may have been written by a sandboxed command, and would run the next command outside."""
    return shutil.which("bash", path=os.pathsep.join(SYSTEM_BIN)) or "bash"


def _sandboxed(args: BashInput, ctx: ToolContext) -> WrappedCommand | None:
    """The command wrapped in the sandbox, or None when it runs outside (no sandbox, excluded, approved)."""
    if ctx.sandbox is None:
        return None
    verdict = ctx.sandbox.verdict(args.command, scheduled=ctx.run.scheduled, unsandboxed=args.dangerouslyDisableSandbox)
    if verdict == "refused":
        raise ToolError("Not run: the sandbox is required (sandbox.failIfUnavailable) and no sandbox works here; "
                        "see `agent sandbox`.")
    if verdict != "sandboxed":
        return None
    try:
        return ctx.sandbox.wrap([system_bash(), "-c", args.command], os.environ, ctx.project_dir)
    except (OSError, RuntimeError) as exc:  # fail closed: never run it outside instead
        raise ToolError(f"Not run: the sandbox could not be set up ({exc}).") from None


async def run_command(command: str, cwd: Path, timeout_ms: int, *,
                      wrapped: WrappedCommand | None = None) -> tuple[str, int, bool, bool]:
    """Run `bash -c command` (or its sandboxed form): (output, exit code, timed out, background children
    still hold the pipe)."""
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    argv = wrapped.argv if wrapped is not None else [system_bash(), "-c", command]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
            start_new_session=True, env=wrapped.env if wrapped is not None else None,
            pass_fds=wrapped.pass_fds if wrapped is not None else (),
        )
    except BaseException as exc:
        os.close(read_fd)
        if isinstance(exc, OSError):
            raise ToolError(f"Cannot run bash in {cwd}: {exc.strerror or exc}") from None
        raise
    finally:
        os.close(write_fd)
        if wrapped is not None:
            wrapped.close()
    try:
        transport, capture = await loop.connect_read_pipe(CappedOutput, os.fdopen(read_fd, "rb", buffering=0))
    except BaseException:
        await asyncio.shield(kill_process_group(proc))
        raise
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), timeout_ms / 1000)
        except asyncio.TimeoutError:
            timed_out = True
        finally:
            if proc.returncode is None:  # timed out or cancelled: take the whole group down
                await asyncio.shield(kill_process_group(proc))
        done, _ = await asyncio.wait({capture.closed}, timeout=DRAIN_GRACE_S)
        lingering = not done
    finally:
        transport.close()
    code = proc.returncode if proc.returncode is not None else -1
    return capture.text(), code, timed_out, lingering


def _result(output: str, code: int, timed_out: bool, lingering: bool, timeout_ms: int) -> ToolResult:
    body = output.rstrip("\n") or "(no output)"
    if timed_out:
        took = _format_seconds(timeout_ms)
        body += f"\n\nCommand timed out after {took} and was killed, with every process it started."
        return ToolResult(body, is_error=True, summary=f"timed out after {took}")
    if lingering:
        body += "\n\n(Background processes it started are still running; their later output is not shown.)"
    if code < 0:
        body += f"\n\nKilled by signal {-code}."
    body += f"\nExit code: {code}"
    return ToolResult(body, is_error=code != 0, summary=f"exit {code}")
