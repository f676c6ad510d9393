"""A sandboxed command's processes: a timeout or a cancelled turn ends all of them, in each backend."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import psutil
import pytest
from sandbox_support import BACKEND_NAMES, backend_or_skip, runner_for

from agent.permissions.sandbox.backends import Backend
from agent.tools.base import ToolContext
from agent.tools.bash import BashTool


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    return backend_or_skip(request.param)


def sleepers(tag: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if tag in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


async def wait_gone(tag: str, within_s: float = 10) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not [p for p in sleepers(tag) if p.status() != psutil.STATUS_ZOMBIE]:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_timeout_kills_every_process_inside(tmp_path: Path, backend: Backend) -> None:
    tag = f"sleep 31.{uuid.uuid4().int % 10**9}"  # a command line no other test runs
    runner = runner_for(tmp_path, backend, home=tmp_path / "home")
    tool = BashTool()
    command = f"setsid {tag} & nohup {tag} & {tag}"
    try:
        result = await tool.run(tool.parse_input({"command": command, "timeout": 1500}),
                                ToolContext(project_dir=tmp_path, sandbox=runner))
    finally:
        runner.close()
    assert "timed out" in result.content
    assert await wait_gone(tag)


async def test_a_cancelled_command_leaves_nothing_running(tmp_path: Path, backend: Backend) -> None:
    tag = f"sleep 32.{uuid.uuid4().int % 10**9}"
    runner = runner_for(tmp_path, backend, home=tmp_path / "home")
    tool = BashTool()
    task = asyncio.ensure_future(tool.run(tool.parse_input({"command": f"{tag} & {tag}"}),
                                          ToolContext(project_dir=tmp_path, sandbox=runner)))
    for _ in range(200):
        if sleepers(tag):
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    runner.close()
    assert await wait_gone(tag)
