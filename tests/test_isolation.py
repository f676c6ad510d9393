"""`isolation: "worktree"`: each run in its own git worktree and branch, in-process (real git, temp repos)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.cron.history import RunHistory, RunRecord
from agent.cron.service import CronService
from agent.cron.store import FileTaskStore, SessionTaskStore
from agent.cron.task import CronTask
from agent.cron.worktree import NotAGitRepository, branch_name, list_run_branches
from agent.permissions.policy import PermissionPolicy
from agent.runs.isolation import IsolatedRun, IsolationError, commit_message
from agent.tools.base import RunState, ToolContext, ToolError
from agent.tools.cron_tools import CronCreate
from agent.tools.files import EditTool

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

TASK_ID = "0a1b2c3d"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture(autouse=True)
def quiet_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user config leaks in, and no repository above tmp_path is ever found."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def make_repo(folder: Path) -> Path:
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Dev")
    git(folder, "config", "user.email", "dev@example.com")
    (folder / "app.py").write_text("version = 1\n")
    (folder / "README").write_text("readme\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "first")
    return folder


def dirty(repo: Path) -> None:
    """Unstaged, staged, and staged-then-changed-again edits, plus an untracked file."""
    (repo / "app.py").write_text("version = 'dirty'\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "README").write_text("readme staged\n")
    git(repo, "add", "README")
    (repo / "README").write_text("readme staged then changed\n")
    (repo / "untracked.txt").write_text("mine\n")


def snapshot(repo: Path) -> dict[str, str]:
    """Every file of the checkout and the index, by content hash (.git internals other than the index
    change when a branch or worktree is added, which is expected)."""
    files = {str(p.relative_to(repo)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(repo.rglob("*")) if p.is_file() and ".git" not in p.relative_to(repo).parts}
    files["<index>"] = hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
    return files


def task(prompt: str = "fix the version\nthen say so", isolation: str | None = "worktree") -> CronTask:
    extra = {} if isolation is None else {"isolation": isolation}
    return CronTask(id=TASK_ID, cron="* * * * *", prompt=prompt, createdAt=0, **extra)


async def open_run(repo: Path, run_id: str = "run000000001", **kwargs) -> IsolatedRun:
    run = await IsolatedRun.open(repo, {"XDG_STATE_HOME": str(repo.parent / "state")}, task(**kwargs), run_id)
    assert run is not None
    return run


def commit_of(repo: Path, branch: str) -> str:
    return git(repo, "rev-parse", branch).strip()


# --- names and messages ------------------------------------------------------------------------------


def test_branch_name_is_task_id_and_utc_stamp():
    berlin = timezone(timedelta(hours=1))
    assert branch_name(TASK_ID, datetime(2026, 11, 27, 22, 38, 51, tzinfo=berlin)) == "task/0a1b2c3d/20261127T213851Z"


def test_commit_message_names_the_task_the_run_and_the_prompts_first_line():
    message = commit_message(TASK_ID, "abc123def456", "\n  fix the flaky test\nmore detail", "ok")
    subject = message.splitlines()[0]
    assert TASK_ID in subject and "fix the flaky test" in subject
    assert "abc123def456" in message and "more detail" not in message
    assert "\0" not in commit_message(TASK_ID, "r", "a\0b\x1b[31m", "ok")


# --- a run in its worktree ---------------------------------------------------------------------------


async def test_a_run_gets_a_new_branch_from_head_in_a_folder_outside_the_repository(tmp_path):
    repo = make_repo(tmp_path / "repo")
    dirty(repo)
    run = await open_run(repo)
    assert run.branch.startswith(f"task/{TASK_ID}/") and run.branch.endswith("Z")
    assert commit_of(repo, run.branch) == commit_of(repo, "HEAD")
    assert repo not in run.run_dir.parents and (tmp_path / "state") in run.run_dir.parents
    assert (run.run_dir / "app.py").read_text() == "version = 1\n"  # HEAD, not the dirty working tree
    assert not (run.run_dir / "staged.txt").exists() and not (run.run_dir / "untracked.txt").exists()
    await run.end("ok")


async def test_changes_are_committed_on_the_branch_the_folder_removed_and_the_users_tree_untouched(tmp_path):
    repo = make_repo(tmp_path / "repo")
    dirty(repo)
    before = snapshot(repo)
    run = await open_run(repo, run_id="feedbeef0001")
    (run.run_dir / "app.py").write_text("version = 2\n")
    (run.run_dir / "new.txt").write_text("new\n")
    ended = await run.end("ok")
    assert ended.branch == run.branch and ended.commit == commit_of(repo, run.branch)
    assert not run.worktree.path.exists()
    assert git(repo, "worktree", "list").count("\n") == 1  # only the main checkout
    assert git(repo, "show", f"{run.branch}:app.py") == "version = 2\n"
    assert git(repo, "show", f"{run.branch}:new.txt") == "new\n"
    message = git(repo, "log", "-1", "--format=%B", run.branch)
    assert TASK_ID in message and "feedbeef0001" in message and "fix the version" in message
    assert git(repo, "log", "-1", "--format=%an <%ae>", run.branch).strip() == "Dev <dev@example.com>"
    assert snapshot(repo) == before
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


async def test_nothing_to_commit_after_a_successful_run_removes_the_branch(tmp_path):
    repo = make_repo(tmp_path / "repo")
    run = await open_run(repo)
    ended = await run.end("ok")
    assert ended.branch is None and ended.commit is None
    assert git(repo, "branch", "--list", "task/*") == ""
    assert not run.worktree.path.exists()


@pytest.mark.parametrize("status", ["error", "interrupted", "denied"])
async def test_a_failed_or_interrupted_run_keeps_its_branch_even_with_nothing_committed(tmp_path, status):
    repo = make_repo(tmp_path / "repo")
    run = await open_run(repo)
    ended = await run.end(status)
    assert ended.branch == run.branch and ended.commit is None
    assert git(repo, "branch", "--list", "task/*").strip() == run.branch
    assert not run.worktree.path.exists()


async def test_a_failed_run_with_changes_keeps_them_committed_on_its_branch(tmp_path):
    repo = make_repo(tmp_path / "repo")
    run = await open_run(repo)
    (run.run_dir / "half.txt").write_text("half done\n")
    ended = await run.end("error")
    assert ended.commit and git(repo, "show", f"{run.branch}:half.txt") == "half done\n"
    assert "(error)" in git(repo, "log", "-1", "--format=%B", run.branch)


async def test_end_runs_once(tmp_path):
    repo = make_repo(tmp_path / "repo")
    run = await open_run(repo)
    (run.run_dir / "x.txt").write_text("x\n")
    first = await run.end("ok")
    assert await run.end("error") == first


async def test_a_commit_without_a_configured_identity_uses_the_agents(tmp_path):
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "--unset", "user.name")
    git(repo, "config", "--unset", "user.email")
    run = await open_run(repo)
    (run.run_dir / "x.txt").write_text("x\n")
    ended = await run.end("ok")
    assert git(repo, "log", "-1", "--format=%ae", ended.commit).strip() == "agent@localhost"


async def test_hooks_do_not_run_for_a_runs_checkout_or_commit(tmp_path):
    repo = make_repo(tmp_path / "repo")
    hooks = repo / ".git" / "hooks"
    marker = tmp_path / "hook-ran"
    for name in ("post-checkout", "pre-commit", "commit-msg"):
        (hooks / name).write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
        (hooks / name).chmod(0o755)
    run = await open_run(repo)
    (run.run_dir / "x.txt").write_text("x\n")
    ended = await run.end("ok")
    assert ended.commit and not marker.exists()


async def test_git_variables_of_the_environment_cannot_point_at_the_users_index(tmp_path, monkeypatch):
    repo = make_repo(tmp_path / "repo")
    dirty(repo)
    before = snapshot(repo)
    monkeypatch.setenv("GIT_INDEX_FILE", str(repo / ".git" / "index"))
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(repo))
    run = await open_run(repo)
    (run.run_dir / "app.py").write_text("version = 3\n")
    ended = await run.end("ok")
    monkeypatch.delenv("GIT_INDEX_FILE")
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_WORK_TREE")
    assert ended.commit and git(repo, "show", f"{ended.branch}:app.py") == "version = 3\n"
    assert snapshot(repo) == before


async def test_a_project_in_a_subfolder_of_the_repository_runs_in_the_same_subfolder(tmp_path):
    repo = make_repo(tmp_path / "repo")
    (repo / "svc").mkdir()
    (repo / "svc" / "main.py").write_text("pass\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "svc")
    run = await open_run(repo / "svc")
    assert run.run_dir.name == "svc" and (run.run_dir / "main.py").exists()
    (run.run_dir / "main.py").write_text("print(1)\n")
    ended = await run.end("ok")
    assert git(repo, "show", f"{ended.branch}:svc/main.py") == "print(1)\n"


async def test_two_runs_in_the_same_second_get_two_branches(tmp_path):
    repo = make_repo(tmp_path / "repo")
    when = datetime(2026, 11, 27, 21, 0, tzinfo=timezone.utc)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    first = await IsolatedRun.open(repo, env, task(), "r1", now=when)
    second = await IsolatedRun.open(repo, env, task(), "r2", now=when)
    assert first.branch == "task/0a1b2c3d/20261127T210000Z" and second.branch == first.branch + "-2"
    for run in (first, second):
        await run.end("error")


async def test_a_task_without_isolation_gets_no_worktree(tmp_path):
    repo = make_repo(tmp_path / "repo")
    assert await IsolatedRun.open(repo, {}, task(isolation=None), "r") is None


async def test_an_unknown_isolation_is_refused_at_run_time(tmp_path):
    repo = make_repo(tmp_path / "repo")
    with pytest.raises(IsolationError, match="container"):
        await IsolatedRun.open(repo, {}, task(isolation="container"), "r")


async def test_a_run_outside_a_repository_or_before_the_first_commit_is_not_run(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(IsolationError, match="not a git repository"):
        await IsolatedRun.open(plain, {}, task(), "r")
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    with pytest.raises(IsolationError, match="no commit yet"):
        await IsolatedRun.open(empty, {}, task(), "r")


# --- tools and permissions rooted in the worktree ---------------------------------------------------


class Conv(SimpleNamespace):
    pass


async def test_rooted_moves_tools_permissions_and_prompt_to_the_worktree_and_back(tmp_path):
    repo = make_repo(tmp_path / "repo")
    policy = PermissionPolicy(repo, "default", allow=["Edit"])
    ctx = ToolContext(project_dir=repo, search_filter=policy.search_filter)
    prompt = f"intro\n- Project directory (the working directory): {repo}\nmore"
    conversation = Conv(ctx=ctx, policy=policy, system_prompt=prompt)
    run = await open_run(repo)
    edit = EditTool()
    with run.rooted(conversation):
        moved_ctx, moved = conversation.ctx, conversation.policy
        assert moved_ctx.project_dir == run.run_dir and moved.project_dir == run.run_dir
        assert str(run.run_dir) in conversation.system_prompt and str(repo) not in conversation.system_prompt
        relative = edit.parse_input({"file_path": "app.py", "old_string": "1", "new_string": "2"})
        assert moved.check(edit, relative, moved_ctx).behavior == "allow"
        real = edit.parse_input({"file_path": str(repo / "app.py"), "old_string": "1", "new_string": "2"})
        decision = moved.check(edit, real, moved_ctx)
        assert decision.behavior == "ask" and "outside the project" in decision.reason
        await edit.run(relative, moved_ctx.for_run(RunState()))
        policy.allow_for_session("Bash(make:*)")  # a grant made meanwhile applies to the moved policy too
        assert moved.session_allow is policy.session_allow
    assert conversation.ctx is ctx and conversation.policy is policy and conversation.system_prompt == prompt
    assert (repo / "app.py").read_text() == "version = 1\n"
    ended = await run.end("ok")
    assert git(repo, "show", f"{ended.branch}:app.py") == "version = 2\n"


# --- creating an isolated task ------------------------------------------------------------------------


def service(project: Path) -> CronService:
    return CronService(FileTaskStore(project), SessionTaskStore())


def test_creating_a_worktree_task_in_a_repository_stores_the_field(tmp_path):
    repo = make_repo(tmp_path / "repo")
    created = service(repo).create("*/5 * * * *", "check", durable=True, extra={"isolation": "worktree"})
    saved = json.loads((repo / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    assert saved[0]["isolation"] == "worktree" and created.task.model_extra["isolation"] == "worktree"


def test_creating_a_worktree_task_outside_a_repository_fails_with_a_clear_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotAGitRepository) as err:
        service(plain).create("*/5 * * * *", "check", durable=True, extra={"isolation": "worktree"})
    assert "not a git repository" in str(err.value) and "git init" in str(err.value)
    assert isinstance(err.value, ValueError)  # so every entry point reports it as a usage error
    assert not (plain / ".claude" / "scheduled_tasks.json").exists()


def test_an_unknown_isolation_value_is_refused_at_creation(tmp_path):
    repo = make_repo(tmp_path / "repo")
    with pytest.raises(ValueError, match="only isolation"):
        service(repo).create("*/5 * * * *", "check", extra={"isolation": "vm"})


async def test_cron_create_takes_an_optional_isolation_field(tmp_path):
    repo = make_repo(tmp_path / "repo")
    plain = tmp_path / "plain"
    plain.mkdir()
    tool = CronCreate()
    schema = tool.input_schema()
    assert "isolation" in schema["properties"] and "isolation" not in schema.get("required", [])
    ctx = ToolContext(project_dir=repo, cron=service(repo))
    args = tool.parse_input({"cron": "*/5 * * * *", "prompt": "check", "durable": True, "isolation": "worktree"})
    result = await tool.run(args, ctx)
    assert "own git worktree" in json.loads(result.content)["message"]
    saved = json.loads((repo / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    assert saved[0]["isolation"] == "worktree" and saved[0]["createdByRun"]
    with pytest.raises(ToolError, match="not a git repository"):
        await tool.run(args, ToolContext(project_dir=plain, cron=service(plain)))


# --- run history ---------------------------------------------------------------------------------------


def test_history_schema_3_adds_branch_and_commit_to_an_existing_database(tmp_path):
    path = tmp_path / "history.db"
    db = sqlite3.connect(path)
    from agent.cron import history

    for statement in "".join(history._MIGRATIONS[:2]).split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO runs (run_id, task_id, status, started_at) VALUES ('old1', 'aaaaaaaa', 'ok', 1)")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    runs = RunHistory(path)
    assert runs.get("old1").branch is None
    runs.save(RunRecord("new1", TASK_ID, status="ok", started_at=2, branch="task/0a1b2c3d/20261127T210000Z",
                        commit_id="c0ffee"))
    record = runs.get("new1")
    assert (record.branch, record.commit_id) == ("task/0a1b2c3d/20261127T210000Z", "c0ffee")
    assert record.to_json()["branch"] == record.branch and record.to_json()["commit"] == "c0ffee"
    assert set(runs.by_branch([record.branch, "task/x/y"])) == {record.branch}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
    runs.close()


async def test_recorder_records_the_branch_at_start_and_branch_and_commit_at_the_end(tmp_path):
    from agent.runs.recorder import RunRecorder

    repo = make_repo(tmp_path / "repo")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    recorder = RunRecorder(repo, env, source="chat")
    tracker = await recorder.start(task(), scheduled_ms=None)
    run = await recorder.isolate(tracker, task())
    saved = recorder.history().get(tracker.record.run_id)
    assert saved.status == "running" and saved.branch == run.branch
    (run.run_dir / "x.txt").write_text("x\n")
    record = await recorder.finish(tracker, SimpleNamespace(
        num_requests=1, usage=SimpleNamespace(input_tokens=1, output_tokens=1), cost_usd=0.0,
        result_text="done", is_error=False, error=None))
    assert record.status == "ok" and record.branch == run.branch and record.commit_id == commit_of(repo, run.branch)
    stored = recorder.history().get(record.run_id)
    assert (stored.branch, stored.commit_id) == (record.branch, record.commit_id)


def test_run_branches_are_listed_oldest_first_with_the_checked_out_one_marked(tmp_path):
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "task/0a1b2c3d/20261127T210000Z")
    git(repo, "branch", "task/0a1b2c3d/20250101T000000Z")
    git(repo, "branch", "task/99999999/20260101T000000Z")
    git(repo, "branch", "feature")
    git(repo, "checkout", "-q", "task/0a1b2c3d/20261127T210000Z")
    found = list_run_branches(repo, TASK_ID)
    assert [b.name for b in found] == ["task/0a1b2c3d/20250101T000000Z", "task/0a1b2c3d/20261127T210000Z"]
    assert [b.checked_out for b in found] == [False, True]
    assert found[0].stamp == datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert len(list_run_branches(repo)) == 3


# --- the daemon's runner: interruption and retries -----------------------------------------------------


class WritingConversation:
    """Writes a file where its tools are rooted, then answers or hangs."""

    def __init__(self, project: Path, emit, hang: bool) -> None:
        self.ctx, self.policy, self.system_prompt = ToolContext(project_dir=project), None, ""
        self.emit, self.hang, self.max_turns, self.history = emit, hang, None, []
        self.wrote: asyncio.Event = asyncio.Event()

    async def run_turn(self, prompt, *, scheduled_task=None, source=None, run_id=None):
        from agent.engine.conversation import TurnResult

        (self.ctx.project_dir / f"from-{run_id}.txt").write_text("work\n")
        self.wrote.set()
        if self.hang:
            await asyncio.sleep(3600)
        return TurnResult(result_text="done", num_requests=1)


def runner_for(repo: Path, tmp_path: Path, *, hang: bool):
    from agent.runs.recorder import RunRecorder
    from agent.runs.scheduled import ScheduledRunner

    made: list[WritingConversation] = []

    def new_conversation(*, emit=None, record=True):
        made.append(WritingConversation(repo, emit, hang))
        return made[-1]

    session = SimpleNamespace(project_dir=repo, env={"HOME": str(tmp_path / "home")},
                              new_conversation=new_conversation, cron=SimpleNamespace(next_fire_ms=lambda *a: None))
    recorder = RunRecorder(repo, {"XDG_STATE_HOME": str(tmp_path / "state")}, source="daemon")
    return ScheduledRunner(session, recorder, say=lambda _: None), recorder, made


def due() -> SimpleNamespace:
    return SimpleNamespace(task=task(), due_ms=0, fired_ms=0)


async def test_an_interrupted_daemon_run_is_committed_and_keeps_its_branch(tmp_path):
    repo = make_repo(tmp_path / "repo")
    dirty(repo)
    before = snapshot(repo)
    runner, recorder, made = runner_for(repo, tmp_path, hang=True)
    running = asyncio.create_task(runner.run(due()))
    while not made or not made[0].wrote.is_set():
        await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    [record] = recorder.history().runs()
    assert record.status == "interrupted" and record.branch and record.commit_id
    assert git(repo, "show", f"{record.branch}:from-{record.run_id}.txt") == "work\n"
    assert snapshot(repo) == before and not list((tmp_path / "state").rglob("worktrees/*"))


async def test_a_daemon_run_works_in_the_worktree_and_records_branch_and_commit(tmp_path):
    repo = make_repo(tmp_path / "repo")
    runner, _, made = runner_for(repo, tmp_path, hang=False)
    record = await runner.run(due())
    assert record.status == "ok" and made[0].ctx.project_dir != repo
    assert git(repo, "show", f"{record.branch}:from-{record.run_id}.txt") == "work\n"
    assert not (repo / f"from-{record.run_id}.txt").exists()
