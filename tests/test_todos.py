"""TodoWrite: Claude Code's input, the plan kept per run; a scheduled run saves its plan in its record
(`agent cron show RUN` prints it) and ends the background shells it started."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_api import FakeAnthropic, child_env, text_reply, tool_reply

from agent.cli.cron_history import cmd_show
from agent.cron.history import RunHistory, RunRecord
from agent.cron.task import CronTask
from agent.engine.session import AgentSession, SessionOptions
from agent.runs.recorder import RunRecorder
from agent.runs.scheduled import ScheduledRunner
from agent.tools.background import BackgroundShell, BackgroundShells
from agent.tools.base import RunState, ToolContext, ToolError
from agent.tools.todos import TodoBoard, TodoWriteTool, render_todos

PLAN = [{"content": "Check the deploy", "status": "completed", "activeForm": "Checking the deploy"},
        {"content": "Summarise the issues", "status": "in_progress", "activeForm": "Summarising the issues"},
        {"content": "Post the report", "status": "pending", "activeForm": "Posting the report"}]


async def test_todo_write_replaces_the_list_of_its_run_and_tells_listeners(tmp_path: Path) -> None:
    board, seen = TodoBoard(), []
    board.listeners.append(seen.append)
    ctx = ToolContext(project_dir=tmp_path, todos=board, run=RunState(run_id="r1"))
    tool = TodoWriteTool()
    result = await tool.run(tool.parse_input({"todos": PLAN}), ctx)
    assert not result.is_error and result.summary == "1/3 done"
    assert board.items == PLAN and board.for_run("r1") == PLAN and seen == [PLAN]
    assert render_todos(PLAN) == ["☒ Check the deploy", "◐ Summarising the issues", "☐ Post the report"]


def test_todo_items_take_claude_codes_fields_only() -> None:
    tool = TodoWriteTool()
    with pytest.raises(ToolError, match="activeForm"):
        tool.parse_input({"todos": [{"content": "x", "status": "pending"}]})
    with pytest.raises(ToolError, match="status"):
        tool.parse_input({"todos": [{"content": "x", "status": "done", "activeForm": "x"}]})
    with pytest.raises(ToolError, match="priority"):
        tool.parse_input({"todos": [{"content": "x", "status": "pending", "activeForm": "x", "priority": "high"}]})


def test_a_run_record_keeps_its_todos_across_the_database(tmp_path: Path) -> None:
    db = RunHistory(tmp_path / "h.db")
    db.save(RunRecord(run_id="abc", task_id="t", todos=PLAN))
    db.save(RunRecord(run_id="none", task_id="t"))
    assert db.get("abc").todos == PLAN and db.get("none").todos is None  # type: ignore[union-attr]
    assert db.get("abc").to_json()["todos"] == PLAN  # type: ignore[union-attr]
    db.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


async def test_a_scheduled_run_records_its_plan_and_ends_its_background_shells(
        fake_api: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for key, value in child_env(fake_api, home=tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    started = [dict(item, status="pending") for item in PLAN]
    fake_api.script(
        tool_reply(("TodoWrite", {"todos": started}),
                   ("Bash", {"command": "sleep 300", "run_in_background": True})),
        tool_reply(("TodoWrite", {"todos": PLAN})),
        text_reply("done"),
    )
    session = AgentSession(project, SessionOptions(headless=True, allowed_tools=["Bash"]))
    started_shells: list[BackgroundShell] = []

    class Shells(BackgroundShells):
        async def start(self, *args: Any, **kwargs: Any) -> BackgroundShell:
            started_shells.append(await super().start(*args, **kwargs))
            return started_shells[-1]

    session.ctx.shells = Shells()
    recorder = RunRecorder(project, dict(os.environ), source="daemon")
    runner = ScheduledRunner(session, recorder, say=lambda _: None)
    task = CronTask(id="aaaa0001", cron="* * * * *", prompt="report", createdAt=0, recurring=True)
    try:
        record = await runner.run(SimpleNamespace(task=task, due_ms=None, fired_ms=None))
        assert record.status == "ok", record
        assert record.todos == PLAN
        assert len(started_shells) == 1 and not list(session.ctx.shells)  # the run ended it, not the session
    finally:
        await session.aclose()
    pid = started_shells[0].proc.pid
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not _alive(pid)
    assert cmd_show(argparse.Namespace(run=record.run_id, json=False), project) == 0
    shown = capsys.readouterr().out
    assert "todos:      1 of 3 done" in shown
    assert "☒ Check the deploy" in shown and "◐ Summarising the issues" in shown
