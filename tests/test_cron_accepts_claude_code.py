"""Expressions Claude Code accepts are accepted on every way in: CronService (and so CronCreate), the
CronCreate tool itself, `agent cron add` and `/loop`. Only an expression that can never fire is refused."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from agent.cli.main import main
from agent.cron.expr import CronError
from agent.cron.jitter import JitterConfig, datetime_to_ms
from agent.cron.loop_spec import parse_loop
from agent.cron.service import CronService
from agent.cron.store import FileTaskStore, SessionTaskStore
from agent.tools.base import ToolContext, ToolError
from agent.tools.cron_tools import CronCreate, CronCreateInput

UTC = timezone.utc
NOW = datetime_to_ms(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
NO_JITTER = JitterConfig(recurringFrac=0, oneShotMaxMs=0)
LEAP_DAY_2028 = datetime_to_ms(datetime(2028, 2, 29, tzinfo=UTC))

ACCEPTED = ["0 0 29 2 *", "*/60 * * * *", "1-5/60 * * * *", "0 9 * * */9", "0000005 * * * *",
            "0 0 1 1 0000007"]
NEVER = ["0 0 31 4 *", "0 0 30 2 *"]


def service(project: Path) -> CronService:
    return CronService(FileTaskStore(project), SessionTaskStore(), now_ms=lambda: NOW,
                       jitter=lambda: NO_JITTER, tz=UTC)


@pytest.mark.parametrize("cron", ACCEPTED)
def test_service_creates_durable_tasks_for_expressions_claude_code_accepts(tmp_path: Path, cron: str) -> None:
    created = service(tmp_path).create(cron, "x", durable=True)
    assert created.next_fire_ms is not None and created.next_fire_ms > NOW
    assert FileTaskStore(tmp_path).load().tasks == [created.task]


def test_leap_day_task_asked_for_in_2026_fires_on_29_february_2028(tmp_path: Path) -> None:
    assert service(tmp_path).create("0 0 29 2 *", "x", recurring=False).next_fire_ms == LEAP_DAY_2028


@pytest.mark.parametrize("cron", NEVER)
def test_service_refuses_only_expressions_that_never_fire(tmp_path: Path, cron: str) -> None:
    with pytest.raises(CronError, match="never fires"):
        service(tmp_path).create(cron, "x")


async def test_cron_create_tool_accepts_a_leap_day_and_refuses_31_april(tmp_path: Path) -> None:
    ctx = ToolContext(project_dir=tmp_path, cron=service(tmp_path))
    result = await CronCreate().run(CronCreateInput(cron="0 0 29 2 *", prompt="x", recurring=False), ctx)
    assert json.loads(result.content)["nextFireAt"].startswith("2028-02-29")
    with pytest.raises(ToolError, match="never fires"):
        await CronCreate().run(CronCreateInput(cron="0 0 31 4 *", prompt="x"), ctx)


@pytest.mark.parametrize("cron", ACCEPTED)
def test_agent_cron_add_accepts_what_claude_code_accepts(tmp_path: Path, capsys, cron: str) -> None:
    assert main(["cron", "add", "--cwd", str(tmp_path), "--cron", cron, "--prompt", "x"]) == 0
    task_id = capsys.readouterr().out.strip()
    assert [t.id for t in FileTaskStore(tmp_path).load().tasks] == [task_id]


def test_agent_cron_add_refuses_31_april_with_exit_2_and_one_line(tmp_path: Path, capsys) -> None:
    assert main(["cron", "add", "--cwd", str(tmp_path), "--cron", "0 0 31 4 *", "--prompt", "x"]) == 2
    err = capsys.readouterr().err
    assert "never fires" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / ".claude" / "scheduled_tasks.json").exists()


@pytest.mark.parametrize("cron", ACCEPTED)
def test_loop_takes_these_expressions_as_a_cron_schedule(cron: str) -> None:
    spec = parse_loop(f"{cron} check the build")
    assert (spec.cron, spec.prompt) == (cron, "check the build")
