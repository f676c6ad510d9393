"""After a crash: close the run records a dead process left open, and tidy its worktrees.

`settle_orphans` (agent.cron.orphans) turns `queued` / `running` records of processes that are gone
into `interrupted`. A run of an `isolation: "worktree"` task killed mid-run also leaves its worktree
folder behind: its changes are committed on the run's branch (so nothing is lost), the folder is
removed, and the branch is kept and marked (its git description and the run's error say it was
interrupted), for `agent cron branches` to show.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.cron.history import RunRecord
from agent.cron.orphans import settle_orphans
from agent.cron.worktree import (
    GitError,
    NotAGitRepository,
    Worktree,
    commit_all,
    git,
    remove_worktree,
    repo_root,
    run_worktrees,
)
from agent.runs.isolation import WORKTREES, commit_message
from agent.settings import project_state_dir

__all__ = ["recover_orphans"]

log = logging.getLogger(__name__)


async def recover_orphans(recorder: Any) -> list[str]:
    """Settle dead processes' records; one line to say per record closed."""
    def work() -> list[str]:
        db = recorder.history()
        if db is None:
            return []
        closed = settle_orphans(db, recorder.now_ms())
        lines = [f"run {r.run_id} of task {r.task_id} was left {_was(r)} by pid {r.pid}, which is gone: "
                 "recorded interrupted" for r in closed]
        by_branch = {r.branch: r for r in closed if r.branch}
        if by_branch:
            lines += _tidy_worktrees(recorder, db, by_branch)
        return lines

    try:
        return await asyncio.to_thread(work)
    except Exception as exc:  # recovery is housekeeping: serving matters more
        log.warning("recovering interrupted runs failed: %s", exc)
        return []


def _was(record: RunRecord) -> str:
    return "running" if "ran it" in (record.error or "") else "queued"


def _tidy_worktrees(recorder: Any, db: Any, by_branch: dict[str, RunRecord]) -> list[str]:
    folder = project_state_dir(recorder.project_dir, recorder.env) / WORKTREES
    try:
        left = run_worktrees(recorder.project_dir, folder)
    except (GitError, NotAGitRepository, OSError) as exc:
        return [f"worktrees of interrupted runs not checked: {exc}"]
    lines = []
    for path, branch in left:
        record = by_branch.get(branch)
        if record is None:
            continue
        worktree = Worktree(repo=repo_root(recorder.project_dir), path=path, branch=branch, base="", run_dir=path)
        try:
            commit = commit_all(worktree, commit_message(record.task_id, record.run_id, record.prompt, "interrupted"))
            remove_worktree(worktree)
            git(["config", f"branch.{branch}.description",
                 f"interrupted run {record.run_id} of task {record.task_id} (its process died)"], worktree.repo,
                check=False)
        except (GitError, OSError) as exc:
            lines.append(f"worktree {path} of interrupted run {record.run_id} not removed: {exc}")
            continue
        record.commit_id = commit or record.commit_id
        record.error = f"{record.error}; its worktree was removed, branch {branch} kept"
        db.save(record)
        lines.append(f"run {record.run_id}: removed its worktree, kept branch {branch}"
                     + (f" (changes committed: {commit[:12]})" if commit else ""))
    return lines

