"""`isolation: "worktree"` in the real chat (a pseudo-terminal): /loop --worktree and a due isolated task."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from fake_api import text_reply, tool_reply
from sched_helpers import due_hourly
from test_isolation_e2e import snapshot
from trust_support import trust_folder

from agent.cron.zone import local_zone

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")



def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The chat's project as a dirty git repository whose rules allow writing."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git(project, "init", "-q", "-b", "main")
    git(project, "config", "user.name", "Dev")
    git(project, "config", "user.email", "dev@example.com")
    (project / ".git" / "info" / "exclude").write_text(".claude/\n")
    (project / "app.py").write_text("version = 1\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "first")
    (project / "app.py").write_text("version = 'dirty'\n")
    (project / "staged.txt").write_text("staged\n")
    git(project, "add", "staged.txt")
    (project / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["Edit"]}}))
    trust_folder(project)  # the user's own project: its allow rules apply
    return project


def branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--list", "task/*", "--format=%(refname:short)").split()


def test_loop_worktree_runs_its_first_run_on_a_branch_and_leaves_the_checkout(spawn, fake_api, repo, tmp_path):
    before = snapshot(repo)
    fake_api.script(tool_reply(("Write", {"file_path": "loop.txt", "content": "from the loop\n"})),
                    text_reply("wrote loop.txt"))
    term = spawn(GIT_CEILING_DIRECTORIES=str(tmp_path), GIT_CONFIG_NOSYSTEM="1")
    # hourly at the minute half an hour from now: the loop's next fire cannot come while the test looks
    # (`10m` fires again up to 60 s past each turn of 10 minutes, and its run's branch would be listed too)
    minute = datetime.fromtimestamp(time.time() + 30 * 60, local_zone()).minute
    term.type_line(f"/loop --worktree {minute} * * * * write loop.txt")
    task_id = term.expect(rf"Scheduled ([0-9a-f]{{8}}): every hour[^(]*\({minute} \* \* \* \*\)", timeout=30).group(1)
    term.expect(r"own git worktree")
    term.expect(rf"branch task/{task_id}/\d{{8}}T\d{{6}}Z \(committed as [0-9a-f]{{12}}\)", timeout=40)
    [branch] = branches(repo)
    assert git(repo, "show", f"{branch}:loop.txt") == "from the loop\n"
    assert snapshot(repo) == before and not (repo / "loop.txt").exists()


def test_a_due_isolated_task_fires_in_the_chat_on_its_own_branch(spawn, fake_api, repo, tmp_path):
    # due now and not again for 40 minutes: an every-minute task fired again when the turn of the minute
    # fell inside the first run, and that run's branch was there as the test listed them
    task = {"id": "9c0ffee1", "prompt": "write fired.txt", "isolation": "worktree",
            **due_hourly(int(time.time() * 1000))}
    (repo / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": [task]}))
    before = snapshot(repo)
    fake_api.script(tool_reply(("Write", {"file_path": "fired.txt", "content": "fired\n"})), text_reply("done"))
    term = spawn(GIT_CEILING_DIRECTORIES=str(tmp_path), GIT_CONFIG_NOSYSTEM="1")
    term.expect(r"Scheduled task 9c0ffee1: branch task/9c0ffee1/\S+ \(committed as [0-9a-f]{12}\)", timeout=40)
    [branch] = branches(repo)
    assert git(repo, "show", f"{branch}:fired.txt") == "fired\n"
    assert snapshot(repo) == before and not (repo / "fired.txt").exists()
