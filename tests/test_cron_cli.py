"""`agent cron list|add|delete|next` and the top-level command line, run in-process through `main()`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_prints_the_id_and_stores_a_durable_recurring_task(tmp_path, capsys):
    code, out, err = run(capsys, "cron", "--cwd", str(tmp_path), "add", "--cron", "*/30 * * * *",
                         "--prompt", "check the deploy")
    assert code == 0
    task_id = out.strip()
    assert len(task_id) == 8 and int(task_id, 16) >= 0
    assert "Every 30 minutes" in err
    tasks = json.loads((tmp_path / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    assert [(t["id"], t["cron"], t["prompt"], t["recurring"]) for t in tasks] == [
        (task_id, "*/30 * * * *", "check the deploy", True)]


def test_add_once_stores_a_one_shot_without_the_recurring_field(tmp_path, capsys):
    run(capsys, "cron", "add", "--cwd", str(tmp_path), "--cron", "15 9 * * 1-5", "--prompt", "standup", "--once")
    task = json.loads((tmp_path / ".claude" / "scheduled_tasks.json").read_text())["tasks"][0]
    assert "recurring" not in task and task["prompt"] == "standup"


def test_list_shows_schedule_next_fire_kind_and_prompt_as_table_and_json(tmp_path, capsys):
    run(capsys, "cron", "add", "--cwd", str(tmp_path), "--cron", "0 9 * * 1", "--prompt", "weekly report")
    code, out, _ = run(capsys, "cron", "list", "--cwd", str(tmp_path))
    assert code == 0
    assert "Every Monday at 9:00 AM" in out and "recurring" in out and "weekly report" in out
    code, out, _ = run(capsys, "cron", "list", "--cwd", str(tmp_path), "--json")
    rows = json.loads(out)
    assert rows[0]["humanSchedule"] == "Every Monday at 9:00 AM" and rows[0]["nextFireAt"] > 0


def test_list_of_an_empty_project_says_how_to_add(tmp_path, capsys):
    code, out, _ = run(capsys, "cron", "list", "--cwd", str(tmp_path))
    assert code == 0 and "agent cron add" in out


def test_delete_removes_the_task_and_an_unknown_id_fails_with_exit_1(tmp_path, capsys):
    _, out, _ = run(capsys, "cron", "add", "--cwd", str(tmp_path), "--cron", "* * * * *", "--prompt", "x")
    task_id = out.strip()
    code, out, _ = run(capsys, "cron", "delete", "--cwd", str(tmp_path), task_id)
    assert code == 0 and task_id in out
    assert json.loads((tmp_path / ".claude" / "scheduled_tasks.json").read_text()) == {"tasks": []}
    code, _, err = run(capsys, "cron", "delete", "--cwd", str(tmp_path), task_id)
    assert code == 1 and "no task with id" in err


def test_next_prints_the_description_then_iso_times(tmp_path, capsys):
    code, out, _ = run(capsys, "cron", "next", "30 9 * * 1-5", "--count", "3", "--from", "2026-11-20T12:00+00:00")
    assert code == 0
    assert out.splitlines() == ["Weekdays at 9:30 AM", "2026-11-23T09:30:00+00:00", "2026-11-24T09:30:00+00:00",
                                "2026-11-25T09:30:00+00:00"]


@pytest.mark.parametrize(("argv", "message"), [
    (["cron", "next", "61 * * * *"], "minute: 61 is out of range 0-59"),
    (["cron", "next", "0 0 30 2 *"], "never fires"),
    (["cron", "next", "* * * * *", "--from", "yesterday"], "not an ISO-8601 time"),
    (["cron", "next", "* * * * *", "--from", "0001-01-01T00:00+05:00"], "outside the years 1970 to 8999"),
    (["cron", "next", "* * * * *", "--count", "0"], "--count"),
    (["cron", "add", "--cron", "* * * *", "--prompt", "x"], "5 fields"),
    (["cron", "add", "--cron", "* * * * *", "--prompt", "   "], "prompt"),
    (["cron", "frobnicate"], "invalid choice"),
    (["cron"], "required"),
    (["--max-turns", "many"], "invalid int value"),
    (["hello"], "needs -p"),
])
def test_bad_input_gets_one_line_on_stderr_and_exit_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_version_and_help_work_as_a_real_process(tmp_path):
    for args in (["--version"], ["--help"], ["cron", "--help"], ["daemon", "--help"]):
        done = subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
    version = subprocess.run([sys.executable, "-m", "agent", "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("agent ")


def test_unreadable_tasks_file_is_reported_not_overwritten(tmp_path, capsys):
    path = tmp_path / ".claude" / "scheduled_tasks.json"
    path.parent.mkdir()
    path.write_text("[1, 2")
    code, _, err = run(capsys, "cron", "add", "--cwd", str(tmp_path), "--cron", "* * * * *", "--prompt", "x")
    assert code == 1 and "could not be read as a list of tasks" in err
    assert path.read_text() == "[1, 2"


def test_cwd_that_is_not_a_folder_is_a_usage_error(tmp_path: Path, capsys):
    code, _, err = run(capsys, "cron", "list", "--cwd", str(tmp_path / "missing"))
    assert code == 2 and "is not a folder" in err
