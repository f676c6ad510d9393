"""HookRunner: runs the commands an event's hooks name, as Claude Code does, and says what they decided.

Each command runs in bash (`bash -c`, in the project folder), with the event's input as one JSON object
on stdin and `$CLAUDE_PROJECT_DIR` set; the commands of one event run side by side and each is stopped
(its whole process group) after its `timeout`. Hooks are the user's own code, or a trusted project's
(the trust gate drops a project's `hooks` key otherwise), so they run outside the OS sandbox; they never
get the model API key in their environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.hooks.config import HookCommand, HookConfig
from agent.hooks.outcome import HookOutcome, interpret

log = logging.getLogger(__name__)

SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
MAX_OUTPUT = 1 << 20  # what is read of a hook's stdout or stderr


def hook_env(base: Mapping[str, str], project_dir: Path) -> dict[str, str]:
    """The environment hooks run with: `base` without credentials, plus CLAUDE_PROJECT_DIR."""
    env = {k: v for k, v in base.items() if k not in SECRET_ENV}
    env["CLAUDE_PROJECT_DIR"] = str(project_dir)
    return env


class HookRunner:
    """The hooks of one session. `session` is filled in by the conversation that owns the runner."""

    def __init__(self, config: HookConfig, project_dir: Path, env: Mapping[str, str], *,
                 notify: Callable[[str], None] | None = None,
                 permission_mode: Callable[[], str] | None = None) -> None:
        self.config, self.project_dir = config, project_dir
        self.env = hook_env(env, project_dir)
        self.notify = notify or (lambda text: log.warning("%s", text))
        self.permission_mode = permission_mode or (lambda: "default")
        self.session_id = ""
        self.transcript_path = ""
        self.cwd = project_dir  # where the conversation works (a worktree-isolated run: its worktree)
        self._shell = shutil.which("bash", path=self.env.get("PATH")) or "/bin/sh"

    def __bool__(self) -> bool:
        return bool(self.config)

    def has(self, event: str) -> bool:
        return bool(self.config.groups.get(event))

    def input_for(self, event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {"session_id": self.session_id, "transcript_path": self.transcript_path,
                "cwd": str(self.cwd), "permission_mode": self.permission_mode(),
                "hook_event_name": event, **fields}

    async def run(self, event: str, fields: Mapping[str, Any], *, subject: str | None = None) -> HookOutcome:
        """Run every matching command of `event`; their notices go to `notify`, the rest is returned."""
        commands = self.config.commands_for(event, subject)
        outcome = HookOutcome(event)
        if not commands:
            return outcome
        payload = json.dumps(self.input_for(event, fields), ensure_ascii=False, default=str).encode()
        results = await asyncio.gather(*(self._run_one(event, c, payload) for c in commands))
        for result in results:
            outcome.merge(result)
        for notice in outcome.notices:
            self.notify(notice)
        return outcome

    async def _run_one(self, event: str, hook: HookCommand, payload: bytes) -> HookOutcome:
        try:
            process = await asyncio.create_subprocess_exec(
                self._shell, "-c", hook.command, cwd=self.cwd, env=self.env,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True)
        except OSError as exc:
            return interpret(event, hook.command, 1, "", f"could not start: {exc}")
        try:
            stdout, stderr = await asyncio.wait_for(self._talk(process, payload), hook.timeout_s)
        except asyncio.TimeoutError:
            _kill_group(process)
            await process.wait()
            return interpret(event, hook.command, None, "", "", timeout_s=hook.timeout_s)
        except asyncio.CancelledError:
            _kill_group(process)
            raise
        log.debug("hook %s %r exited %s", event, hook.command, process.returncode)
        return interpret(event, hook.command, process.returncode, stdout, stderr)

    @staticmethod
    async def _talk(process: asyncio.subprocess.Process, payload: bytes) -> tuple[str, str]:
        try:
            assert process.stdin is not None
            process.stdin.write(payload)
            await process.stdin.drain()
            process.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # a hook that does not read its input is fine
        out, err = await asyncio.gather(_read(process.stdout), _read(process.stderr))
        await process.wait()
        return out, err


async def _read(stream: asyncio.StreamReader | None) -> str:
    if stream is None:
        return ""
    data = bytearray()
    while chunk := await stream.read(65536):
        if len(data) < MAX_OUTPUT:
            data += chunk[:MAX_OUTPUT - len(data)]
    return data.decode("utf-8", "replace")


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
