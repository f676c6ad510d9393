"""Bash run_in_background, BashOutput and KillShell with real bash: a background command returns at once,
its output is read in pieces, and it ends with KillShell, with its scheduled run, or with the session."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest
from sandbox_support import BACKEND_NAMES, backend_or_skip, runner_for

from agent.engine.session import AgentSession, SessionOptions
from agent.permissions.sandbox.backends import Backend
from agent.tools.background import BackgroundShells
from agent.tools.base import RunState, Tool, ToolContext, ToolError, ToolResult
from agent.tools.bash import BashTool
from agent.tools.shell_tools import BashOutputTool, KillShellTool

SERVER = "python3 -u -m http.server 0 --bind 127.0.0.1"


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(project_dir=tmp_path, shells=BackgroundShells())


async def call(tool: Tool, ctx: ToolContext, **raw: object) -> ToolResult:
    return await tool.run(tool.parse_input(raw), ctx)


async def start(ctx: ToolContext, command: str) -> str:
    result = await call(BashTool(), ctx, command=command, run_in_background=True)
    match = re.fullmatch(r"Command running in background with ID: (bash_\d+)", result.content)
    assert match, result.content
    return match.group(1)


async def output_until(ctx: ToolContext, shell_id: str, needle: str, seconds: float = 10) -> str:
    seen = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen += (await call(BashOutputTool(), ctx, bash_id=shell_id)).content
        if needle in seen:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"{needle!r} never came; saw {seen!r}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


async def gone(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_server_started_in_the_background_returns_at_once_and_is_read_later(ctx: ToolContext) -> None:
    began = time.monotonic()
    shell_id = await start(ctx, SERVER)
    assert time.monotonic() - began < 30  # it did not wait for the server (which never ends) or a timeout
    seen = await output_until(ctx, shell_id, "Serving HTTP")
    assert "<status>running</status>" in seen
    await ctx.shells.close()  # type: ignore[union-attr]


async def test_bash_output_returns_only_what_is_new_and_filters_lines(ctx: ToolContext) -> None:
    shell_id = await start(ctx, "echo one; echo two; sleep 0.3; echo three; echo skip")
    first = await output_until(ctx, shell_id, "two")
    assert "one" in first
    later = await output_until(ctx, shell_id, "completed")
    assert "three" in later and "one" not in later
    shell = ctx.shells.get(shell_id)  # type: ignore[union-attr]
    assert shell.status == "completed" and "<exit_code>0</exit_code>" in later
    second = await start(ctx, "printf 'keep 1\\ndrop\\nkeep 2\\n'")
    await asyncio.sleep(0.5)
    filtered = (await call(BashOutputTool(), ctx, bash_id=second, filter="^keep")).content
    assert "keep 1\nkeep 2" in filtered and "drop" not in filtered


async def test_kill_shell_stops_the_command_and_what_it_started(ctx: ToolContext) -> None:
    shell_id = await start(ctx, "sleep 300 & echo child=$!; wait")
    seen = await output_until(ctx, shell_id, "child=")
    child = int(re.search(r"child=(\d+)", seen).group(1))  # type: ignore[union-attr]
    bash_pid = ctx.shells.get(shell_id).proc.pid  # type: ignore[union-attr]
    result = await call(KillShellTool(), ctx, shell_id=shell_id)
    assert "Successfully killed shell" in result.content
    assert await gone(bash_pid) and await gone(child)
    assert "<status>killed</status>" in (await call(BashOutputTool(), ctx, bash_id=shell_id)).content
    with pytest.raises(ToolError, match="not running"):
        await call(KillShellTool(), ctx, shell_id=shell_id)


async def test_an_unknown_shell_id_says_which_shells_there_are(ctx: ToolContext) -> None:
    shell_id = await start(ctx, "sleep 30")
    with pytest.raises(ToolError, match=f"No background shell.*{shell_id}"):
        await call(BashOutputTool(), ctx, bash_id="bash_99")
    await ctx.shells.close()  # type: ignore[union-attr]


async def test_a_background_command_that_outlives_its_timeout_is_killed(ctx: ToolContext) -> None:
    shell_id = (await call(BashTool(), ctx, command="sleep 300", run_in_background=True, timeout=300)).content
    shell = ctx.shells.get(shell_id.rsplit(" ", 1)[-1])  # type: ignore[union-attr]
    assert await gone(shell.proc.pid)
    assert shell.status == "killed"


async def test_a_scheduled_run_ends_only_its_own_shells(ctx: ToolContext) -> None:
    mine = await start(ctx.for_run(RunState(run_id="run-a", scheduled=True)), "sleep 300")
    other = await start(ctx.for_run(RunState(run_id="run-b")), "sleep 300")
    shells = ctx.shells
    assert shells is not None
    mine_pid, other_pid = shells.get(mine).proc.pid, shells.get(other).proc.pid
    await shells.close("run-a")
    assert await gone(mine_pid) and alive(other_pid)
    await shells.close()
    assert await gone(other_pid)


async def test_background_shells_end_with_the_session(tmp_path: Path) -> None:
    session = AgentSession(tmp_path, SessionOptions(headless=True))
    shell_id = await start(session.ctx, f"{SERVER} & echo child=$!; wait")
    seen = await output_until(session.ctx, shell_id, "Serving HTTP")
    server = int(re.search(r"child=(\d+)", seen).group(1))  # type: ignore[union-attr]
    assert alive(server)
    await session.aclose()
    assert await gone(server)


async def test_without_shells_a_background_command_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="without run_in_background"):
        await call(BashTool(), ToolContext(project_dir=tmp_path), command="sleep 1", run_in_background=True)


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    return backend_or_skip(request.param)


async def test_a_background_command_stays_inside_the_sandbox(tmp_path: Path, backend: Backend) -> None:
    project = tmp_path / "project"
    project.mkdir()
    outside = tmp_path / "outside.txt"
    sandbox = runner_for(project, backend, home=tmp_path / "home")
    ctx = ToolContext(project_dir=project, sandbox=sandbox, shells=BackgroundShells(),
                      run=RunState(scheduled=True))
    try:
        shell_id = await start(ctx, f"echo escaped > {outside}; echo done=$?")
        seen = await output_until(ctx, shell_id, "done=")
        assert "done=0" not in seen
        assert "done=" in seen, seen
        assert not outside.exists()
    finally:
        await ctx.shells.close()  # type: ignore[union-attr]
        sandbox.close()
