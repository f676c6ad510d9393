"""Isolated runs end to end: `agent daemon`, the chat's scheduled runs, stream-json fires and the CLI,
against the fake API and real git. The user's dirty working tree and index stay byte-identical."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_api import child_env, error_reply, text_reply, tool_reply
from sched_helpers import due_hourly
from test_daemon_e2e import read_until, stop, write_tasks
from test_isolation import dirty, git, make_repo
from test_isolation import snapshot as full_snapshot
from trust_support import trust_folder

from agent.cron.task import CronTask

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

TASK_ID = "7a5c0001"
PROMPT = "bump the version\nand add a note"


@pytest.fixture(autouse=True)
def quiet_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def snapshot(project: Path) -> dict[str, str]:
    """The user's files and index; the scheduler's own bookkeeping (lastFiredAt, its lock) may change."""
    return {k: v for k, v in full_snapshot(project).items() if not k.startswith(".claude/scheduled_tasks")}


def env_for(api, tmp_path: Path) -> dict[str, str]:
    return child_env(api, home=tmp_path / "home", XDG_STATE_HOME=str(tmp_path / "state"), AGENT_MAX_RETRIES="0",
                     GIT_CEILING_DIRECTORIES=str(tmp_path), GIT_CONFIG_NOSYSTEM="1")


def isolated_project(tmp_path: Path, *, repo: bool = True,
                     allow: tuple[str, ...] = ("Edit", "Bash(touch:*)")) -> Path:
    """A dirty repository (or a plain folder) with one task that asks for a worktree, due now and not again
    for 40 minutes (`due_hourly`: an every-minute one would fire again at the turn of the minute)."""
    project = make_repo(tmp_path / "project") if repo else tmp_path / "project"
    project.mkdir(exist_ok=True)
    if repo:
        (project / ".git" / "info" / "exclude").write_text(".claude/\n")  # the scheduler's own files
        dirty(project)
    write_tasks(project, [{"id": TASK_ID, "prompt": PROMPT, "isolation": "worktree",
                           **due_hourly(int(time.time() * 1000))}])
    (project / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"allow": list(allow)}}))
    trust_folder(project, tmp_path / "state")  # the user's own project: its allow rules apply
    return project


def run_daemon(api, tmp_path: Path, project: Path, needle: str) -> str:
    proc = subprocess.Popen([sys.executable, "-m", "agent", "daemon", "--cwd", str(project)],
                            env=env_for(api, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        return read_until(proc, needle, timeout=30)
    finally:
        stop(proc)


def cron(api, tmp_path: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "cron", *args, "--cwd", str(project)],
                          env=env_for(api, tmp_path), capture_output=True, text=True, timeout=60)


def only_run(api, tmp_path: Path, project: Path) -> dict:
    done = cron(api, tmp_path, project, "history", "--json")
    assert done.returncode == 0, done.stderr
    [run] = json.loads(done.stdout)
    return run


def worktrees_left(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "state").rglob("worktrees/*")]


def test_a_daemon_run_edits_in_its_worktree_commits_on_its_branch_and_leaves_the_checkout_alone(fake_api, tmp_path):
    project = isolated_project(tmp_path)
    before = snapshot(project)
    fake_api.script(
        tool_reply(("Edit", {"file_path": "app.py", "old_string": "version = 1", "new_string": "version = 2"}),
                   ("Write", {"file_path": "notes/new.txt", "content": "a note\n"}),
                   ("Bash", {"command": "touch from_bash.txt"})),
        text_reply("bumped"))
    out = run_daemon(fake_api, tmp_path, project, f"task {TASK_ID} run")
    run = only_run(fake_api, tmp_path, project)
    assert run["status"] == "ok", run
    branch, commit = run["branch"], run["commit"]
    assert branch.startswith(f"task/{TASK_ID}/") and branch in out
    assert git(project, "rev-parse", branch).strip() == commit
    assert git(project, "show", f"{branch}:app.py") == "version = 2\n"
    assert git(project, "show", f"{branch}:notes/new.txt") == "a note\n"
    assert git(project, "show", f"{branch}:from_bash.txt") == ""  # Bash ran in the worktree too
    assert git(project, "rev-parse", f"{branch}~1").strip() == git(project, "rev-parse", "HEAD").strip()
    message = git(project, "log", "-1", "--format=%B", branch)
    assert TASK_ID in message and run["runId"] in message and "bump the version" in message
    assert snapshot(project) == before  # dirty tree, staged changes and untracked files: byte-identical
    assert not (project / "from_bash.txt").exists() and not (project / "notes").exists()
    assert worktrees_left(tmp_path) == [] and git(project, "worktree", "list").count("\n") == 1
    shown = cron(fake_api, tmp_path, project, "show", run["runId"])
    assert f"branch:     {branch}" in shown.stdout and f"commit:     {commit}" in shown.stdout
    listed = cron(fake_api, tmp_path, project, "branches", "--json")
    [row] = json.loads(listed.stdout)
    assert (row["branch"], row["status"], row["runId"], row["commit"]) == (branch, "ok", run["runId"], commit)


def test_a_write_aimed_at_the_users_checkout_is_denied_and_the_branch_kept(fake_api, tmp_path):
    project = isolated_project(tmp_path)
    before = snapshot(project)
    fake_api.script(tool_reply(("Write", {"file_path": str(project / "app.py"), "content": "pwned\n"}),
                               ("Write", {"file_path": "ok.txt", "content": "fine\n"})),
                    text_reply("tried"))
    run_daemon(fake_api, tmp_path, project, f"task {TASK_ID} run")
    run = only_run(fake_api, tmp_path, project)
    assert run["status"] == "denied" and "outside the project" in run["denials"][0]["reason"]
    assert snapshot(project) == before
    assert git(project, "show", f"{run['branch']}:ok.txt") == "fine\n"


def test_a_failed_run_keeps_its_branch_with_what_it_did(fake_api, tmp_path):
    project = isolated_project(tmp_path)
    before = snapshot(project)
    fake_api.script(tool_reply(("Write", {"file_path": "half.txt", "content": "half\n"})),
                    error_reply(400, "bad request"))
    run_daemon(fake_api, tmp_path, project, f"task {TASK_ID} run")
    run = only_run(fake_api, tmp_path, project)
    assert run["status"] == "error" and run["branch"] and run["commit"]
    assert git(project, "show", f"{run['branch']}:half.txt") == "half\n"
    assert "(error)" in git(project, "log", "-1", "--format=%B", run["branch"])
    assert snapshot(project) == before and worktrees_left(tmp_path) == []


def test_a_run_that_changes_nothing_leaves_no_branch(fake_api, tmp_path):
    project = isolated_project(tmp_path)
    fake_api.script(text_reply("nothing to do"))
    run_daemon(fake_api, tmp_path, project, f"task {TASK_ID} done")
    run = only_run(fake_api, tmp_path, project)
    assert run["status"] == "ok" and run["branch"] is None and run["commit"] is None
    assert git(project, "branch", "--list", "task/*") == "" and worktrees_left(tmp_path) == []


def test_a_worktree_task_outside_a_repository_is_recorded_failed_and_never_sent(fake_api, tmp_path):
    project = isolated_project(tmp_path, repo=False)
    run_daemon(fake_api, tmp_path, project, f"task {TASK_ID} failed")
    run = only_run(fake_api, tmp_path, project)
    assert run["status"] == "error" and "not a git repository" in run["error"]
    assert fake_api.requests == [] and sorted(p.name for p in project.iterdir()) == [".claude"]


# --- the chat and stream-json -------------------------------------------------------------------------


def fired(project: Path) -> SimpleNamespace:
    task = CronTask(id=TASK_ID, cron="* * * * *", prompt=PROMPT, createdAt=0, isolation="worktree")
    now = int(time.time() * 1000)
    return SimpleNamespace(task=task, fired_ms=now, due_ms=now, durable=True)


def chat_in_isolated_project(fake_api, tmp_path: Path, monkeypatch) -> tuple[Path, dict, object, object]:
    """A git project (with its snapshot) and a chat session's conversation in it, against `fake_api`."""
    from agent.engine.session import AgentSession, SessionOptions

    for key, value in env_for(fake_api, tmp_path).items():
        monkeypatch.setenv(key, value)
    project = isolated_project(tmp_path)
    before = snapshot(project)
    session = AgentSession(project, SessionOptions())
    return project, before, session, session.new_conversation(record=False)


async def test_a_chat_fire_runs_in_the_worktree_and_the_chat_gets_its_folder_back(fake_api, tmp_path, monkeypatch):
    from agent.repl.render import Renderer
    from agent.repl.scheduled_runs import ChatScheduledRuns
    from agent.runs.recorder import RunRecorder

    project, before, session, conversation = chat_in_isolated_project(fake_api, tmp_path, monkeypatch)
    shown: list[str] = []
    recorder = RunRecorder.for_session(session, source="chat")
    runs = ChatScheduledRuns(recorder, Renderer(lambda text, then=None: shown.append(text), color=False,
                                                width=lambda: 120), lambda: None, session.cron,
                             retry_later=lambda _fired: None)
    fake_api.script(tool_reply(("Edit", {"file_path": "app.py", "old_string": "1", "new_string": "3"})),
                    text_reply("done"))
    await runs.run(conversation, PROMPT, fired(project))
    [record] = recorder.history().runs()
    assert record.status == "ok" and record.branch and record.commit_id
    assert git(project, "show", f"{record.branch}:app.py") == "version = 3\n"
    assert conversation.ctx.project_dir == project and conversation.policy is session.policy
    assert str(project) in conversation.system_prompt
    assert snapshot(project) == before and any(record.branch in line for line in shown)


async def test_the_first_run_of_loop_worktree_runs_in_a_worktree_too(fake_api, tmp_path, monkeypatch):
    from agent.engine.custom_commands import run_prompt
    from agent.repl.render import Renderer
    from agent.repl.scheduled_runs import run_unrecorded

    project, before, session, conversation = chat_in_isolated_project(fake_api, tmp_path, monkeypatch)
    shown: list[str] = []
    fake_api.script(tool_reply(("Write", {"file_path": "first.txt", "content": "1\n"})), text_reply("done"))
    task = fired(project).task
    await run_unrecorded(conversation, session, task, lambda run_id: run_prompt(conversation, session, PROMPT,
                         run_id=run_id), Renderer(lambda text, then=None: shown.append(text), color=False))
    [branch] = git(project, "branch", "--list", "task/*").split()
    assert git(project, "show", f"{branch}:first.txt") == "1\n" and any(branch in line for line in shown)
    assert snapshot(project) == before and conversation.ctx.project_dir == project


def test_a_stream_json_fire_runs_in_the_worktree(fake_api, tmp_path):
    project = isolated_project(tmp_path)
    before = snapshot(project)
    fake_api.script(tool_reply(("Write", {"file_path": "streamed.txt", "content": "s\n"})), text_reply("ok"))
    proc = subprocess.Popen([sys.executable, "-m", "agent", "-p", "--input-format", "stream-json",
                             "--output-format", "stream-json", "--verbose"], cwd=project,
                            env=env_for(fake_api, tmp_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not git(project, "branch", "--list", "task/*").strip():
            time.sleep(0.2)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    [branch] = git(project, "branch", "--list", "task/*").split()
    assert git(project, "show", f"{branch}:streamed.txt") == "s\n", err
    assert snapshot(project) == before


# --- the command line -----------------------------------------------------------------------------------


def test_cron_add_worktree_stores_isolation_and_refuses_outside_a_repository(fake_api, tmp_path):
    repo = make_repo(tmp_path / "repo")
    done = cron(fake_api, tmp_path, repo, "add", "--cron", "*/5 * * * *", "--prompt", "lint", "--worktree")
    assert done.returncode == 0, done.stderr
    [task] = json.loads((repo / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    assert task["isolation"] == "worktree" and "own worktree" in done.stderr
    [listed] = json.loads(cron(fake_api, tmp_path, repo, "list", "--json").stdout)
    assert listed["isolation"] == "worktree"
    plain = tmp_path / "plain"
    plain.mkdir()
    done = cron(fake_api, tmp_path, plain, "add", "--cron", "*/5 * * * *", "--prompt", "lint", "--worktree")
    assert done.returncode == 2 and "not a git repository" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (plain / ".claude").exists()
    assert cron(fake_api, tmp_path, plain, "branches").returncode == 1


def test_prune_deletes_old_run_branches_but_never_a_checked_out_one(fake_api, tmp_path):
    repo = make_repo(tmp_path / "repo")
    old, older, recent = ("task/0a1b2c3d/20200101T000000Z", "task/0a1b2c3d/20190101T000000Z",
                          f"task/0a1b2c3d/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    for name in (old, older, recent, "feature"):
        git(repo, "branch", name)
    git(repo, "checkout", "-q", older)
    dry = cron(fake_api, tmp_path, repo, "prune", "--older-than", "14d", "--dry-run")
    assert f"Would delete {old}" in dry.stdout and old in git(repo, "branch", "--list", old)
    done = cron(fake_api, tmp_path, repo, "prune", "--older-than", "14d")
    assert done.returncode == 0, done.stderr
    left = git(repo, "branch", "--format=%(refname:short)").split()
    assert sorted(left) == sorted(["main", "feature", older, recent])
    assert f"Kept {older}: it is checked out" in done.stdout and f"Deleted {old}" in done.stdout
    bad = cron(fake_api, tmp_path, repo, "prune", "--older-than", "soon")
    assert bad.returncode == 2 and "--older-than" in bad.stderr
    listed = cron(fake_api, tmp_path, repo, "branches")
    assert older in listed.stdout and "no record (checked out)" in listed.stdout


async def test_loop_worktree_creates_an_isolated_task_and_refuses_outside_a_repository(tmp_path):
    from test_commands import Harness

    from agent.engine.session import AgentSession, SessionOptions

    repo = make_repo(tmp_path / "repo")
    harness = Harness(AgentSession(repo, SessionOptions()))
    out = await harness.run("/loop --worktree --durable 10m tidy up")
    [task] = json.loads((repo / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    assert task["isolation"] == "worktree" and task["prompt"] == "tidy up" and "own git worktree" in out
    plain = tmp_path / "plain"
    (plain / ".claude").mkdir(parents=True)
    harness = Harness(AgentSession(plain, SessionOptions()))
    out = await harness.run("/loop --worktree 10m tidy up")
    assert "not a git repository" in out and harness.session.cron.list() == []



def test_prune_removes_the_worktree_a_killed_run_left_and_then_its_old_branch(fake_api, tmp_path):
    from datetime import datetime, timezone

    from agent.cron.worktree import create_worktree
    from agent.runs.isolation import WORKTREES
    from agent.settings import project_state_dir

    repo = make_repo(tmp_path / "repo")
    folder = project_state_dir(repo, {"XDG_STATE_HOME": str(tmp_path / "state")}) / WORKTREES
    killed = create_worktree(repo, folder, "0a1b2c3d", datetime(2020, 1, 1, tzinfo=timezone.utc))
    running = create_worktree(repo, folder, "0a1b2c3d", datetime.now(timezone.utc))
    listed = cron(fake_api, tmp_path, repo, "branches")
    assert f"{killed.branch}" in listed.stdout and "(checked out)" in listed.stdout
    done = cron(fake_api, tmp_path, repo, "prune", "--older-than", "14d")
    assert done.returncode == 0, done.stderr
    assert f"Removed the abandoned worktree of {killed.branch}" in done.stdout
    assert f"Deleted {killed.branch}" in done.stdout
    assert not killed.path.exists() and running.path.exists()
    assert git(repo, "branch", "--list", "task/*", "--format=%(refname:short)").split() == [running.branch]


def test_kill_9_mid_run_leaves_no_worktree_after_restart_and_keeps_the_marked_branch(fake_api, tmp_path):
    from fake_api import stalled_reply

    project = isolated_project(tmp_path)
    fake_api.script(tool_reply(("Write", {"file_path": "half.txt", "content": "half done\n"})), stalled_reply())
    proc = subprocess.Popen([sys.executable, "-m", "agent", "daemon", "--cwd", str(project)],
                            env=env_for(fake_api, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        fake_api.wait_for_requests(2, timeout=30)  # the Write ran; the second model call hangs
        assert len(worktrees_left(tmp_path)) == 1
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    fake_api.set_default(text_reply("done"))
    out = run_daemon(fake_api, tmp_path, project, "removed its worktree")
    assert "recorded interrupted" in out
    runs = json.loads(cron(fake_api, tmp_path, project, "history", "--json").stdout)
    [killed] = [r for r in runs if r["status"] == "interrupted"]
    branch = killed["branch"]
    assert worktrees_left(tmp_path) == [] or all(branch not in str(p) for p in worktrees_left(tmp_path))
    assert git(project, "show", f"{branch}:half.txt") == "half done\n"  # what it did is on its branch
    assert "interrupted run" in git(project, "config", f"branch.{branch}.description")
    assert f"branch {branch} kept" in killed["error"]
