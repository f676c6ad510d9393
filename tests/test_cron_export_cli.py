"""`agent cron export` from the command line: which tasks go out, what is refused and why, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from agent.cli.cron import run_cron_cli

CREATED = 1_790_000_000_000


def write_tasks(project: Path, *tasks: dict) -> None:
    (project / ".claude").mkdir(exist_ok=True)
    entries = [{"cron": "30 9 * * 1-5", "prompt": "check", "createdAt": CREATED, "recurring": True, **t} for t in tasks]
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": entries}))


def export(project: Path, *args: str) -> int:
    return run_cron_cli(["--cwd", str(project), "export", "--timezone", "Europe/Berlin", *args])


def test_every_recurring_task_is_exported_and_a_one_shot_is_skipped_with_a_note(tmp_path: Path, capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa", "maxTurns": 4}, {"id": "bbbbbbbb", "cron": "0 12 * * *"},
                {"id": "cccccccc", "recurring": False})
    assert export(tmp_path, "--format", "crontab", "-o", str(tmp_path / "out")) == 0
    text = (tmp_path / "out" / "crontab").read_text()
    assert "CRON_TZ=Europe/Berlin" in text
    assert "30 9 * * 1-5 cd " in text and "agent cron run aaaaaaaa;" in text
    assert "0 12 * * * cd " in text and "cccccccc" not in text
    assert "task cccccccc not exported: it is a one-shot task" in capsys.readouterr().err


def test_a_named_task_that_does_not_exist_fails_and_says_session_tasks_are_not_exported(tmp_path: Path,
                                                                                         capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa"})
    assert export(tmp_path, "deadbeef", "--format", "systemd") == 1
    assert "no such durable task (session tasks are not exported" in capsys.readouterr().err


def test_kubernetes_without_an_image_is_a_usage_error(tmp_path: Path, capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa"})
    assert export(tmp_path, "--format", "kubernetes") == 2
    assert "needs --image IMAGE" in capsys.readouterr().err


def test_a_task_systemd_cannot_express_is_refused_and_the_others_are_still_written(tmp_path: Path, capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa"}, {"id": "bbbbbbbb", "cron": "30 2 * * *"})
    assert export(tmp_path, "--format", "systemd", "-o", str(tmp_path / "units")) == 1
    assert sorted(p.name for p in (tmp_path / "units").iterdir()) == ["agent-task-aaaaaaaa.service",
                                                                     "agent-task-aaaaaaaa.timer"]
    assert "task bbbbbbbb not exported: systemd cannot express '30 2 * * *' exactly" in capsys.readouterr().err


def test_an_isolated_task_goes_to_github_actions_with_a_pull_request_but_not_to_kubernetes(tmp_path: Path,
                                                                                          capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa", "isolation": "worktree"})
    assert export(tmp_path, "--format", "github-actions", "-o", str(tmp_path / "wf")) == 0
    workflow = yaml.safe_load((tmp_path / "wf" / "agent-task-aaaaaaaa.yml").read_text())
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    capsys.readouterr()
    assert export(tmp_path, "--format", "kubernetes", "--image", "img:1") == 1
    assert "own git worktree" in capsys.readouterr().err


def test_github_actions_says_where_daylight_saving_moves_the_runs(tmp_path: Path, capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa"})
    assert export(tmp_path, "--format", "github-actions") == 0
    out, err = capsys.readouterr()
    assert "- cron: 30 8 * * 1-5" in out
    assert "daylight saving time" in err and "1 hour later by the local clock" in err


def test_a_prompt_with_a_nul_character_is_refused(tmp_path: Path, capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa", "prompt": "a\u0000b"})
    assert export(tmp_path, "aaaaaaaa", "--format", "crontab") == 1
    assert "NUL character" in capsys.readouterr().err


def test_chained_tasks_and_token_limits_are_reported(tmp_path: Path, capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa", "maxTokensPerRun": 50_000}, {"id": "bbbbbbbb", "after": ["aaaaaaaa"]})
    assert export(tmp_path, "--format", "kubernetes", "--image", "img:1") == 0
    out, err = capsys.readouterr()
    documents = list(yaml.safe_load_all(out))
    assert [d["metadata"]["name"] for d in documents] == ["agent-task-aaaaaaaa"]
    assert "task bbbbbbbb not exported: it follows other tasks (after:)" in err
    assert "maxTokensPerRun" not in err  # agent cron run enforces it


@pytest.mark.parametrize("fmt", ["crontab", "systemd", "kubernetes", "github-actions"])
def test_no_tasks_writes_nothing_and_succeeds(tmp_path: Path, fmt: str, capsys) -> None:
    write_tasks(tmp_path)
    assert export(tmp_path, "--format", fmt, "--image", "img:1") == 0
    assert capsys.readouterr().out == ""


def test_an_unknown_time_zone_is_a_usage_error(tmp_path: Path, capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa"})
    code = run_cron_cli(["--cwd", str(tmp_path), "export", "--format", "crontab", "--timezone", "Mars/Olympus"])
    assert code == 2
    assert "unknown time zone 'Mars/Olympus'" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["crontab", "systemd", "kubernetes", "github-actions"])
def test_exporting_twice_writes_the_same_bytes(tmp_path: Path, fmt: str) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa", "maxTurns": 3}, {"id": "bbbbbbbb", "cron": "*/20 8-17 * * *"})
    runs = []
    for name in ("one", "two"):
        assert export(tmp_path, "--format", fmt, "--image", "img:1", "-o", str(tmp_path / name)) == 0
        runs.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert runs[0] == runs[1] and runs[0]


def test_limits_and_catch_up_come_from_the_task_and_settings(tmp_path: Path, capsys) -> None:
    write_tasks(tmp_path, {"id": "aaaaaaaa", "maxTurns": 6, "catchUp": "skip", "timeoutS": 300})
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps({"cronJitter": {"recurringCapMs": 120_000}}))
    assert export(tmp_path, "--format", "systemd") == 0
    out = capsys.readouterr().out
    assert '"cron" "run" "aaaaaaaa"' in out and "RuntimeMaxSec=420\n" in out
    assert "Persistent=false" in out and "RandomizedDelaySec=120\n" in out


def test_the_zone_comes_from_tz_first() -> None:
    from agent.export.jobs import zone_name_here

    assert zone_name_here({"TZ": ":America/Denver"}) == "America/Denver"
    # as the scheduler reads $TZ (agent.cron.zone): a zone file's path names its zone, empty is UTC
    assert zone_name_here({"TZ": "/usr/share/zoneinfo/Europe/Paris"}) == "Europe/Paris"
    assert zone_name_here({"TZ": "/home/me/my-zone"}) is None
    assert zone_name_here({"TZ": ""}) == "UTC"


def test_a_posix_tz_rule_is_no_zone_a_job_file_can_name(tmp_path: Path, capsys, monkeypatch) -> None:
    """The scheduler follows `TZ=JST-9`, but cron's CRON_TZ and Kubernetes' timeZone take zone names:
    the export says to pass one rather than guess."""
    write_tasks(tmp_path, {"id": "aaaaaaaa"})
    monkeypatch.setenv("TZ", "JST-9")
    assert run_cron_cli(["--cwd", str(tmp_path), "export", "--format", "crontab"]) == 2
    assert "unknown time zone 'JST-9'; pass --timezone Area/City" in capsys.readouterr().err
