"""The one code path for creating, listing and deleting scheduled tasks.

The CronCreate/CronList/CronDelete tools, `/loop`, `/cron` and `agent cron` all go through
`CronService`, so validation, the 50-task limit and the next-fire arithmetic live in one place. The
clock, the jitter settings and the time zone are passed in, which keeps it testable without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any

from pydantic import ValidationError

from agent.cron.chains import (
    AFTER_FIELD,
    AFTER_ONLY_CRON,
    ChainError,
    after_of,
    chain_schedule,
    check_new_chain,
    is_after_only,
    parse_after,
)
from agent.cron.expr import describe_cron, validate_cron
from agent.cron.jitter import JitterConfig, jittered_next_fire, ms_to_datetime, one_shot_fire
from agent.cron.pacing import over_limit_note, split_at_limit
from agent.cron.store import MAX_TASKS, FileTaskStore, SessionTaskStore, TaskFileError
from agent.cron.task import CronTask, new_task_id
from agent.cron.worktree import ISOLATION_FIELD, check_isolation
from agent.cron.zone import local_zone

__all__ = ["CronService", "ScheduledTask", "wall_clock_ms"]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ScheduledTask:
    """A task as callers show it: where it lives, when it fires next, and its schedule in words."""

    task: CronTask
    durable: bool
    next_fire_ms: int | None
    human_schedule: str
    over_limit: bool = False  # beyond the 50-task limit: listed, never fired

    @property
    def id(self) -> str:
        return self.task.id


class CronService:
    def __init__(
        self,
        file_store: FileTaskStore,
        session_store: SessionTaskStore,
        *,
        now_ms: Callable[[], int] = wall_clock_ms,
        jitter: Callable[[], JitterConfig] | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        self.file_store = file_store
        self.session_store = session_store
        self._now_ms = now_ms
        self._jitter = jitter or JitterConfig
        self._tz = tz

    @property
    def tz(self) -> tzinfo:
        return self._tz or local_zone()

    def jitter_config(self) -> JitterConfig:
        """The jitter settings in force now (read through the callable, so edits apply live)."""
        return self._jitter()

    def create(
        self, cron: str | None, prompt: str, *, recurring: bool = True, durable: bool = False,
        extra: Mapping[str, Any] | None = None, after: Sequence[str] | None = None,
    ) -> ScheduledTask:
        """Validate and store a new task. `extra` adds fields of ours (kept in the file; Claude Code
        ignores them, and drops them if it rewrites the file). `after`: the ids of the tasks it follows
        (agent.cron.chains); with no cron it fires only by them (stored with the never-matching cron).

        Raises CronError (bad or never-firing expression), ValueError (empty prompt; `isolation` that this
        project cannot give, e.g. "worktree" outside a git repository; ChainError for an unknown upstream
        or a cycle), TaskLimitError (MAX_TASKS across both stores) and, for durable tasks, TaskFileError
        (unusable file).
        """
        now = self._now_ms()
        if after is not None:
            after = parse_after(list(after))
        if not (cron or "").strip():
            if not after:
                raise ValueError("A task needs a cron expression, or the tasks it follows (after)")
            cron = AFTER_ONLY_CRON
        else:
            cron = " ".join(cron.split())
            validate_cron(cron, now=ms_to_datetime(now, self.tz))
        extra = {**(extra or {}), **({AFTER_FIELD: list(after)} if after else {})}
        prompt = prompt.strip()
        if not prompt:
            raise ValueError("The prompt is empty: say what the scheduled task should do")
        check_isolation((extra or {}).get(ISOLATION_FIELD), self.file_store.path.parent.parent)
        session_tasks = self.session_store.load().tasks
        file_tasks = self._file_tasks_if_readable(required=durable)
        taken = {t.id for t in (*session_tasks, *file_tasks)}
        task_id = _unused_id(taken)
        if after:
            # a durable task fires where session tasks are unknown (the daemon): durable upstreams only
            session_ids = {t.id for t in session_tasks}
            if durable and (named := [i for i in after if i in session_ids]):
                raise ChainError(f"task {named[0]} lives only in this session; a durable task can follow "
                                 "durable tasks only")
            check_new_chain(task_id, after, _graph(file_tasks if durable else (*file_tasks, *session_tasks)))
        try:
            task = CronTask(id=task_id, cron=cron, prompt=prompt, createdAt=now, recurring=recurring,
                            **dict(extra or {}))
        except ValidationError as exc:  # say, a prompt with a lone surrogate: one line, not pydantic's report
            first = exc.errors()[0]
            raise ValueError(f"{first['loc'][0]}: {first['msg'].removeprefix('Value error, ')}") from None
        if durable:
            # The file store re-counts under its lock, so racing sessions cannot exceed the limit.
            self.file_store.add(task, max_tasks=MAX_TASKS - len(session_tasks))
        else:
            self.session_store.add(task, max_tasks=MAX_TASKS - len(file_tasks))
        return self._scheduled(task, durable, now)

    def delete(self, task_id: str) -> ScheduledTask | None:
        """Remove a task from whichever store holds it; None if neither does.

        Raises TaskFileError when the id is not a session task and the tasks file is unusable.
        """
        now = self._now_ms()
        for durable, store in ((False, self.session_store), (True, self.file_store)):
            task = next((t for t in store.load().tasks if t.id == task_id), None)
            if task is not None and store.remove([task_id]):
                return self._scheduled(task, durable, now)
        return None

    def get(self, task_id: str) -> ScheduledTask | None:
        return next((s for s in self.list() if s.id == task_id), None)

    def list(self) -> list[ScheduledTask]:
        return self.list_with_problems()[0]

    def list_with_problems(self) -> tuple[list[ScheduledTask], list[str]]:
        """All tasks (oldest first) and texts about what could not be read.

        An unreadable tasks file does not hide the session tasks: its error becomes a problem text.
        """
        now = self._now_ms()
        problems: list[str] = []
        try:
            loaded = self.file_store.load()
            problems += loaded.problems
            file_tasks = loaded.tasks
        except TaskFileError as exc:
            problems.append(str(exc))
            file_tasks = []
        items = [self._scheduled(t, True, now) for t in file_tasks]
        items += [self._scheduled(t, False, now) for t in self.session_store.load().tasks]
        items.sort(key=lambda s: (s.task.createdAt, s.task.id))
        _, over = split_at_limit([s.task for s in items])
        if over:
            over_ids = {t.id for t in over}
            items = [replace(s, over_limit=True) if s.task.id in over_ids else s for s in items]
            problems.append(over_limit_note(over))
        return items, problems

    def next_fire_ms(self, task: CronTask, now_ms: int | None = None) -> int | None:
        """When the task fires next, never earlier than now (a past time means "due now").

        Recurring: the jittered match after the last fire (or creation). One-shot: its first match,
        jittered early; None once it has fired, or if the expression never matches again.
        """
        now = self._now_ms() if now_ms is None else now_ms
        if is_after_only(task):  # fires when its upstream tasks finish: no time to tell
            return None
        cfg = self._jitter()
        if task.recurring:
            base = task.createdAt if task.lastFiredAt is None else task.lastFiredAt
            fire = jittered_next_fire(task.cron, base, task.id, cfg, self.tz)
        elif task.lastFiredAt is None:
            fire = one_shot_fire(task.cron, task.createdAt, task.id, cfg, self.tz)
        else:
            fire = None
        return None if fire is None else max(fire, now)

    def _scheduled(self, task: CronTask, durable: bool, now_ms: int) -> ScheduledTask:
        return ScheduledTask(task, durable, self.next_fire_ms(task, now_ms),
                             chain_schedule(task, describe_cron(task.cron)))

    def _file_tasks_if_readable(self, *, required: bool) -> list[CronTask]:
        # An unreadable file holds no runnable tasks, so it should not block a session-only task.
        try:
            return self.file_store.load().tasks
        except TaskFileError:
            if required:
                raise
            return []


def _graph(tasks: Iterable[CronTask]) -> dict[str, tuple[str, ...]]:
    """id -> the ids it follows, for cycle checks (a malformed `after` counts as none)."""
    graph: dict[str, tuple[str, ...]] = {}
    for task in tasks:
        try:
            graph[task.id] = after_of(task)
        except ChainError:
            graph[task.id] = ()
    return graph


def _unused_id(taken: set[str]) -> str:
    while (task_id := new_task_id()) in taken:
        pass
    return task_id
