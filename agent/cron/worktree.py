"""Git for `isolation: "worktree"` tasks: a worktree per run, its branch, the commit at the end.

Every git call runs `git` directly (no shell) with the GIT_* variables of our own environment removed,
so a stray GIT_DIR or GIT_INDEX_FILE can never point a call at the user's index. Only commands that
leave the user's working tree and index alone are used on the main checkout (`worktree add`,
`branch`, `for-each-ref`); `add` and `commit` run inside the run's own worktree. Failures raise
GitError with git's own message: a caller that cannot isolate a run does not run it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "BRANCH_PREFIX",
    "ISOLATION_FIELD",
    "WORKTREE",
    "GitError",
    "NotAGitRepository",
    "RunBranch",
    "Worktree",
    "branch_name",
    "branch_stamp",
    "check_isolation",
    "commit_all",
    "create_worktree",
    "delete_branch",
    "list_run_branches",
    "remove_worktree",
    "repo_root",
    "run_worktrees",
    "task_isolation",
]

ISOLATION_FIELD = "isolation"  # the task's field in .claude/scheduled_tasks.json
WORKTREE = "worktree"  # its one value
BRANCH_PREFIX = "task/"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_STAMP = re.compile(r"(\d{8}T\d{6}Z)(?:-\d+)?$")
GIT_TIMEOUT_S = 120
FALLBACK_IDENTITY = ("agent", "agent@localhost")  # only when the user has configured none


class GitError(RuntimeError):
    """A git command failed; the message says which and why."""


class NotAGitRepository(ValueError):
    """A worktree task asked for outside a git repository (a ValueError: every entry point reports it)."""


@dataclass(frozen=True)
class Worktree:
    repo: Path  # the top of the user's repository
    path: Path  # the worktree folder (outside the repository)
    branch: str
    base: str  # the commit it started from
    run_dir: Path  # the project folder inside the worktree (the repository may hold the project deeper)


@dataclass(frozen=True)
class RunBranch:
    name: str
    task_id: str
    commit: str
    stamp: datetime | None  # from the name: when the run started (UTC)
    checked_out: bool  # by the main checkout or any worktree: never deleted


def task_isolation(task: Any) -> str | None:
    """The task's `isolation` field, None when absent."""
    value = (getattr(task, "model_extra", None) or {}).get(ISOLATION_FIELD)
    return None if value is None else str(value)


# GIT_* variables kept: they limit repository discovery or name the user, never point at another index
_KEPT_GIT_VARS = frozenset({"GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM", "GIT_CONFIG_GLOBAL",
                            "GIT_CONFIG_NOSYSTEM", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                            "GIT_COMMITTER_EMAIL"})


def git_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment without the GIT_* variables that would point git at another repository or index."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith("GIT_") or k in _KEPT_GIT_VARS}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    return env


def git(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = next((a for a in args if not a.startswith("-") and "=" not in a), "")
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=git_env(), capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH); worktree isolation needs it") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {command} took more than {GIT_TIMEOUT_S}s and was stopped") from None
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(f"git {command} failed: {detail[-1] if detail else f'exit status {done.returncode}'}")
    return done


def repo_root(project_dir: Path) -> Path:
    """The top of the repository holding `project_dir`; NotAGitRepository when there is none."""
    try:
        done = git(["rev-parse", "--show-toplevel"], project_dir, check=False)
    except GitError as exc:
        raise NotAGitRepository(f'{exc}; isolation "worktree" cannot be used here') from None
    if done.returncode != 0 or not done.stdout.strip():
        raise NotAGitRepository(
            f'{project_dir} is not a git repository, so a task cannot have isolation "worktree" (each run works '
            "on its own branch); run `git init` and commit once, or schedule the task without --worktree")
    return Path(done.stdout.strip())


def check_isolation(value: Any, project_dir: Path) -> None:
    """Raise ValueError unless `value` is an isolation this project can give (None: no isolation)."""
    if value is None:
        return
    if value != WORKTREE:
        raise ValueError(f'unknown isolation {value!r}: the only isolation is "worktree"')
    repo_root(project_dir)


def branch_stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime(STAMP_FORMAT)


def branch_name(task_id: str, when: datetime) -> str:
    """`task/<task id>/<UTC stamp>`, e.g. task/0a1b2c3d/20261127T213851Z."""
    return f"{BRANCH_PREFIX}{task_id}/{branch_stamp(when)}"


def _branch_exists(repo: Path, branch: str) -> bool:
    return git(["show-ref", "--verify", "--quiet", f"refs/heads/{branch}"], repo, check=False).returncode == 0


def create_worktree(project_dir: Path, folder: Path, task_id: str, when: datetime) -> Worktree:
    """A new worktree under `folder` on a new branch from the project's HEAD. The user's working tree
    and index are not read or written: the worktree is checked out from the HEAD commit."""
    repo = repo_root(project_dir)
    head = git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], repo, check=False)
    if head.returncode != 0:
        raise GitError(f"{repo} has no commit yet, so there is no HEAD to branch from; commit once")
    base = head.stdout.strip()
    branch, n = branch_name(task_id, when), 1
    while _branch_exists(repo, branch):  # two runs of one task in the same second
        n += 1
        branch = f"{branch_name(task_id, when)}-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task_id}-{branch_stamp(when)}-{secrets.token_hex(3)}"
    git(["-c", "core.hooksPath=/dev/null", "worktree", "add", "--quiet", "-b", branch, str(path), base], repo)
    try:
        inside = Path(os.path.realpath(project_dir)).relative_to(os.path.realpath(repo))
    except ValueError:
        inside = Path()
    return Worktree(repo, path, branch, base, path / inside)


def _identity_args(cwd: Path) -> list[str]:
    name = git(["config", "user.name"], cwd, check=False).stdout.strip()
    email = git(["config", "user.email"], cwd, check=False).stdout.strip()
    if name and email:
        return []
    return ["-c", f"user.name={name or FALLBACK_IDENTITY[0]}", "-c", f"user.email={email or FALLBACK_IDENTITY[1]}"]


def commit_all(worktree: Worktree, message: str) -> str | None:
    """Commit everything changed in the worktree (new files too, .gitignore respected); the commit id,
    or None when nothing changed. Hooks are not run and nothing is signed: nobody is there to answer."""
    git(["add", "--all"], worktree.path)
    if git(["diff", "--cached", "--quiet"], worktree.path, check=False).returncode == 0:
        return None
    git([*_identity_args(worktree.path), "-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify",
         "--cleanup=verbatim", "-m", message], worktree.path)
    return git(["rev-parse", "HEAD"], worktree.path).stdout.strip()


def remove_worktree(worktree: Worktree) -> None:
    """Remove the worktree folder (the branch stays). Falls back to deleting the folder by hand."""
    done = git(["worktree", "remove", "--force", "--force", str(worktree.path)], worktree.repo, check=False)
    if done.returncode != 0 or worktree.path.exists():
        shutil.rmtree(worktree.path, ignore_errors=True)
        git(["worktree", "prune"], worktree.repo, check=False)


def delete_branch(repo: Path, branch: str) -> None:
    """Delete a run branch (git refuses a checked-out one, which is what we want)."""
    if not branch.startswith(BRANCH_PREFIX):
        raise GitError(f"{branch} is not a run branch ({BRANCH_PREFIX}...); not deleted")
    git(["branch", "--quiet", "-D", branch], repo)


def list_run_branches(project_dir: Path, task_id: str | None = None) -> list[RunBranch]:
    """The run branches (`task/<id>/<stamp>`) of the repository, oldest first."""
    repo = repo_root(project_dir)
    pattern = f"refs/heads/{BRANCH_PREFIX}{task_id}/" if task_id else f"refs/heads/{BRANCH_PREFIX}"
    out = git(["for-each-ref", "--format=%(refname:short)%00%(objectname)%00%(HEAD)%00%(worktreepath)", pattern],
              repo).stdout
    branches = []
    for line in out.splitlines():
        name, commit, head, worktree_path = [*line.split("\0"), "", "", ""][:4]
        parts = name.split("/")
        if len(parts) != 3:
            continue
        match = _STAMP.fullmatch(parts[2])
        stamp = datetime.strptime(match[1], STAMP_FORMAT).replace(tzinfo=timezone.utc) if match else None
        branches.append(RunBranch(name, parts[1], commit, stamp, head.strip() == "*" or bool(worktree_path)))
    return sorted(branches, key=lambda b: (b.stamp or datetime.min.replace(tzinfo=timezone.utc), b.name))


def run_worktrees(project_dir: Path, folder: Path) -> list[tuple[Path, str]]:
    """(path, branch) of the worktrees under `folder` (where runs make theirs) that git still knows:
    after a clean end there are none; one left behind means its run is still going or was killed."""
    repo = repo_root(project_dir)
    real_folder = os.path.realpath(folder)
    found: list[tuple[Path, str]] = []
    for block in git(["worktree", "list", "--porcelain"], repo).stdout.split("\n\n"):
        fields = dict(line.split(" ", 1) for line in block.splitlines() if " " in line)
        path, branch = fields.get("worktree"), fields.get("branch", "").removeprefix("refs/heads/")
        if path and branch.startswith(BRANCH_PREFIX) and os.path.realpath(path).startswith(real_folder + os.sep):
            found.append((Path(path), branch))
    return found
