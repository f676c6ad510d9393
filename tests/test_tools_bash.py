"""Bash: output, exit codes, caps, and that timeouts and cancellation kill the whole process tree."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psutil
import pytest

from agent.tools.base import ToolContext, ToolError, ToolResult
from agent.tools.bash import OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES, BashTool


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    return ToolContext(project_dir=tmp_path)


async def bash(ctx: ToolContext, command: str, **extra: Any) -> ToolResult:
    tool = BashTool()
    return await tool.run(tool.parse_input({"command": command, **extra}), ctx)


HANG_GUARD_S = 120  # not a speed limit: only turns "never returns" into a failure


def gone(pid: int) -> bool:
    """Dead or a zombie (killed children may wait for a non-reaping init in a container)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def wait_for_pids(path: Path, count: int) -> list[int]:
    for _ in range(200):
        if path.exists() and len(lines := path.read_text().split()) >= count:
            return [int(pid) for pid in lines]
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never listed {count} pids")


async def test_runs_in_project_folder_capturing_stdout_and_stderr(ctx: ToolContext, tmp_path: Path) -> None:
    result = await bash(ctx, "pwd; echo oops >&2")
    assert result.content.splitlines()[:2] == [str(tmp_path), "oops"]
    assert "Exit code" not in result.content  # Claude Code's form: a success is its output alone
    assert result.summary == "exit 0" and not result.is_error


async def test_non_zero_exit_is_an_error_with_the_code(ctx: ToolContext) -> None:
    result = await bash(ctx, "echo failing; exit 3")
    assert result.is_error
    assert result.content.endswith("Exit code: 3")
    assert result.summary == "exit 3"


async def test_empty_output_is_marked(ctx: ToolContext) -> None:
    result = await bash(ctx, "true")
    assert result.content.startswith("(no output)")


async def test_stdin_is_empty_so_reading_commands_do_not_hang(ctx: ToolContext) -> None:
    result = await bash(ctx, "cat; echo done", timeout=5000)
    assert result.content.startswith("done")


async def test_large_output_keeps_head_and_tail_with_a_note(ctx: ToolContext) -> None:
    result = await bash(ctx, "echo START; head -c 200000 /dev/zero | tr '\\0' x; echo; echo END")
    assert result.content.startswith("START")
    assert result.content.endswith("END")
    assert "bytes of output cut" in result.content
    assert len(result.content) < OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES + 500


async def test_timeout_kills_bash_and_its_children(ctx: ToolContext, tmp_path: Path) -> None:
    command = "sleep 1000 & echo $! > pids; sleep 1000 & echo $! >> pids; echo $$ >> pids; wait"
    result = await asyncio.wait_for(bash(ctx, command, timeout=1000), HANG_GUARD_S)
    assert result.is_error and result.summary == "timed out after 1s"
    assert "timed out" in result.content
    pids = await wait_for_pids(tmp_path / "pids", 3)
    await asyncio.sleep(0.05)
    assert all(gone(pid) for pid in pids)


async def test_timeout_escalates_to_sigkill_when_sigterm_is_ignored(ctx: ToolContext) -> None:
    # Without SIGKILL this would run for 1000 s: the guard turns such a hang into a failure.
    result = await asyncio.wait_for(bash(ctx, "trap '' TERM; sleep 1000", timeout=300), HANG_GUARD_S)
    assert result.summary == "timed out after 0.3s"


async def test_cancellation_kills_the_process_tree(ctx: ToolContext, tmp_path: Path) -> None:
    command = "sleep 100 & echo $! > pids; echo $$ >> pids; sleep 100"
    task = asyncio.create_task(bash(ctx, command, timeout=60000))
    pids = await wait_for_pids(tmp_path / "pids", 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    assert all(gone(pid) for pid in pids)


async def test_background_child_does_not_hold_the_result_back(ctx: ToolContext, tmp_path: Path) -> None:
    result = await bash(ctx, "sleep 30 & echo $! > pids; echo started", timeout=10000)
    child = psutil.Process((await wait_for_pids(tmp_path / "pids", 1))[0])
    assert child.is_running()  # the result came back while the child still ran
    child.kill()
    assert result.content.startswith("started")
    assert "still running" in result.content and result.summary == "exit 0"


async def test_event_loop_keeps_running_while_a_command_runs(ctx: ToolContext) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    await bash(ctx, "sleep 0.3")
    ticking.cancel()
    assert ticks >= 10


async def test_empty_command_is_an_error(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="empty"):
        await bash(ctx, "   ")


def test_timeout_above_two_hours_is_rejected() -> None:
    with pytest.raises(ToolError, match="timeout"):
        BashTool().parse_input({"command": "ls", "timeout": 7_200_001})


def test_schema_requires_only_command_and_takes_a_number_timeout() -> None:
    schema = BashTool.input_schema()
    assert schema["required"] == ["command"]
    assert schema["properties"]["timeout"]["type"] == "number"
    assert schema["additionalProperties"] is False
    assert "description" in schema["properties"]["description"]


async def test_float_timeout_as_claude_code_models_send_it_runs(ctx: ToolContext) -> None:
    # D_toolcalls recording: {"command": "echo hi2", "timeout": 5000.5} -> "hi2"
    tool = BashTool()
    result = await tool.run(tool.parse_input({"command": "echo hi2", "timeout": 5000.5}), ctx)
    assert result.content == "hi2" and not result.is_error


def test_bash_shows_and_checks_the_command() -> None:
    tool = BashTool()
    args = tool.parse_input({"command": "npm test", "description": "Run tests"})
    assert tool.key_argument(args) == "npm test"
    assert tool.permission_subject(args) == "npm test"
    assert not BashTool.read_only
