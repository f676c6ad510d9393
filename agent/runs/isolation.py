"""One run of an `isolation: "worktree"` task in its own git worktree, so the user's checkout stays as it is.

    run = await IsolatedRun.open(project_dir, env, task, run_id)  # None: the task is not isolated
    with run.rooted(conversation):       # tools, permission checks and the system prompt use the worktree
        turn = await conversation.run_turn(...)
    ended = await run.end("ok")          # commit on task/<id>/<stamp>, remove the folder, keep the branch

The worktree is made from the project's HEAD commit under the project's state folder (outside the
repository). The permission rules stay the project's own (read from the real project at start-up);
only the folder they call "the project" moves. A task that asks for isolation and cannot get it is not
run (IsolationError): running it in the user's checkout instead would be the one thing it must not do.
A run that ends with nothing to commit loses its branch unless it failed; a failed or interrupted run
keeps its branch, so it can be inspected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent.cron.worktree import (
    WORKTREE,
    GitError,
    NotAGitRepository,
    Worktree,
    commit_all,
    create_worktree,
    delete_branch,
    remove_worktree,
    task_isolation,
)
from agent.settings import project_state_dir

__all__ = ["WORKTREES", "IsolatedRun", "IsolationError", "IsolationResult", "commit_message", "isolated_turn"]

log = logging.getLogger(__name__)

WORKTREES = "worktrees"  # in the project's state folder
PROJECT_LINE = "- Project directory (the working directory): {}"  # as agent.engine.prompts writes it
SUBJECT_CHARS = 72


class IsolationError(Exception):
    """The run cannot be isolated, so it is not run; the message says why and what to do."""


@dataclass(frozen=True)
class IsolationResult:
    branch: str | None  # kept branch; None when removed (nothing to commit after a successful run)
    commit: str | None
    problem: str | None = None  # what went wrong while committing or cleaning up


def first_line(prompt: str) -> str:
    """The prompt's first non-blank line, control characters (a NUL cannot go into an argument) as spaces."""
    line = next((line.strip() for line in prompt.splitlines() if line.strip()), "(empty prompt)")
    return "".join(ch if ch.isprintable() else " " for ch in line)


def commit_message(task_id: str, run_id: str, prompt: str, status: str) -> str:
    """Subject: the task and the prompt's first line; body: the whole first line, the run, the status."""
    line = first_line(prompt)
    subject = f"task {task_id}: {line}"
    if len(subject) > SUBJECT_CHARS:
        subject = subject[:SUBJECT_CHARS - 1] + "…"
    return (f"{subject}\n\nScheduled task {task_id}, run {run_id} ({status}).\nPrompt: {line}\n\n"
            f"Task-Id: {task_id}\nRun-Id: {run_id}\n")


class IsolatedRun:
    def __init__(self, worktree: Worktree, task_id: str, run_id: str, prompt: str) -> None:
        self.worktree = worktree
        self.task_id = task_id
        self.run_id = run_id
        self.prompt = prompt
        self.status = "ok"  # for isolated_turn's callers: set to the run's status before it ends
        self._ending: asyncio.Future[IsolationResult] | None = None
        self.result: IsolationResult | None = None  # once ended

    @property
    def run_dir(self) -> Path:
        return self.worktree.run_dir

    @property
    def branch(self) -> str:
        return self.worktree.branch

    @classmethod
    async def open(cls, project_dir: Path, env: Mapping[str, str], task: Any, run_id: str,
                   *, now: datetime | None = None) -> IsolatedRun | None:
        """A fresh worktree for this run of `task`; None when the task does not ask for one."""
        value = task_isolation(task)
        if value is None:
            return None
        if value != WORKTREE:
            raise IsolationError(f'task {task.id} asks for isolation {value!r}, which this agent does not know '
                                 '(only "worktree"); not run')
        folder = project_state_dir(project_dir, env) / WORKTREES
        try:
            worktree = await asyncio.to_thread(create_worktree, project_dir, folder, task.id,
                                               now or datetime.now(timezone.utc))
        except (GitError, NotAGitRepository, OSError) as exc:
            raise IsolationError(f"task {task.id} not run: it needs its own git worktree, and making one "
                                 f"failed: {exc}") from None
        log.info("task %s run %s works in %s on branch %s", task.id, run_id, worktree.path, worktree.branch)
        return cls(worktree, task.id, run_id, task.prompt)

    @contextmanager
    def rooted(self, conversation: Any) -> Iterator[IsolatedRun]:
        """Point the conversation's tools, permission checks and system prompt at the worktree for as
        long as the block runs; the session's rules (and grants made meanwhile) still apply."""
        saved = conversation.ctx, conversation.policy, conversation.system_prompt
        self.root(conversation)
        try:
            yield self
        finally:
            conversation.ctx, conversation.policy, conversation.system_prompt = saved

    def root(self, conversation: Any) -> None:
        """Point the conversation at the worktree for good (a conversation made for this run alone)."""
        ctx, policy = conversation.ctx, conversation.policy
        moved = None
        if policy is not None:
            rebased = getattr(policy, "rebased", None)
            if rebased is None:  # a check we cannot move would judge the wrong folder: do not run
                raise IsolationError("the permission policy cannot be moved to the worktree; not run")
            moved = rebased(self.run_dir)
        search = moved.search_filter if moved is not None and ctx.search_filter is not None else None
        conversation.system_prompt = self._retarget(conversation.system_prompt, ctx.project_dir)
        sandbox = ctx.sandbox.rooted(self.run_dir) if ctx.sandbox is not None else None  # its worktree only
        conversation.ctx = replace(ctx, project_dir=self.run_dir, search_filter=search, sandbox=sandbox)
        conversation.policy = moved

    def _retarget(self, system: Any, project_dir: Path) -> Any:
        if not isinstance(system, str):
            return system
        note = (f"{PROJECT_LINE.format(self.run_dir)}\n- This scheduled run works in its own git worktree on "
                f"branch {self.branch}, made from the project's last commit; what you change here is committed "
                "on that branch when the run ends, for the user to review. Work only in this folder.")
        return system.replace(PROJECT_LINE.format(project_dir), note, 1)

    async def end(self, status: str) -> IsolationResult:
        """Commit what changed, remove the folder, keep the branch (drop it when a successful run changed
        nothing). Runs once; later calls return the first result."""
        if self._ending is None:
            self._ending = asyncio.ensure_future(asyncio.to_thread(self._end, status))
        self.result = await asyncio.shield(self._ending)  # a cancel while waiting must not stop the commit
        return self.result

    def _end(self, status: str) -> IsolationResult:
        worktree = self.worktree
        try:
            commit = commit_all(worktree, commit_message(self.task_id, self.run_id, self.prompt, status))
        except (GitError, OSError) as exc:  # keep the folder: its changes are the only copy
            log.warning("run %s: changes not committed (%s); left in %s", self.run_id, exc, worktree.path)
            return IsolationResult(worktree.branch, None, f"changes not committed ({exc}); they are in "
                                   f"{worktree.path}")
        problem = None
        try:
            remove_worktree(worktree)
            if commit is None and status == "ok":
                delete_branch(worktree.repo, worktree.branch)
                return IsolationResult(None, None)
        except (GitError, OSError) as exc:
            log.warning("run %s: worktree clean-up failed: %s", self.run_id, exc)
            problem = f"worktree clean-up failed: {exc}"
        return IsolationResult(worktree.branch, commit, problem)


@asynccontextmanager
async def isolated_turn(conversation: Any, project_dir: Path, env: Mapping[str, str], task: Any,
                        run_id: str) -> Any:
    """For runs nobody records (a stream-json fire, /loop's first run): the turn in the block runs in the
    task's worktree when it asks for one (yields the IsolatedRun, else None). Set `.status` on the
    yielded run when the turn failed; an exception out of the block counts as a failure."""
    run = await IsolatedRun.open(project_dir, env, task, run_id) if task is not None else None
    if run is None:
        yield None
        return
    try:
        with run.rooted(conversation):
            yield run
    except asyncio.CancelledError:
        await run.end("interrupted")
        raise
    except BaseException:
        await run.end("error")
        raise
    await run.end(run.status)
