"""When did the upstream tasks of a chain last finish well? Read from the run history (shell).

The history database is the source of truth for completions: the run that a chained task waits for
may have run in another process (the daemon, a chat, `agent -p` with stream-json input). The scheduler
asks on every tick while chained tasks exist, so each question is one indexed query per upstream task
(`runs_by_task`: task id, newest start first; it stops at the newest `ok` run). Read-only: this module
never creates the database or changes its schema; a database that does not exist yet means no runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from agent.cron.chains import AFTER_ONLY_CRON, ChainError, UpstreamRun, after_of, chain_due, find_cycles
from agent.cron.history import history_path
from agent.cron.task import CronTask

__all__ = ["ChainWatch", "UpstreamReader"]

log = logging.getLogger(__name__)

_LATEST_OK = ("SELECT run_id, ended_at, result FROM runs WHERE task_id = ? AND status = 'ok' "
              "AND ended_at IS NOT NULL AND started_at >= ? ORDER BY started_at DESC LIMIT 1")
# Runs that started this long before a follower's last fire are not looked at: that bounds the scan
# when an upstream has failed many times in a row; a run lasting longer than this is not plausible.
RUN_SLACK_MS = 86_400_000


class UpstreamReader:
    """Latest successful run per task id. Thread-safe (called through `asyncio.to_thread`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_project(cls, project_dir: Path, env: Mapping[str, str] | None = None) -> UpstreamReader:
        return cls(history_path(project_dir, os.environ if env is None else env))

    def latest_ok_ends(self, since: Mapping[str, int]) -> dict[str, int | None]:
        """task id -> when its newest successful run that started at or after `since[id]` ended
        (epoch ms), None when it has none."""
        return {task_id: (run.ended_ms if run else None) for task_id, run in self._latest(since).items()}

    def latest_runs(self, since: Mapping[str, int]) -> list[UpstreamRun]:
        """The newest successful run (started at or after `since[id]`) of each task, in the order asked."""
        return [run for run in self._latest(since).values() if run is not None]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _latest(self, since: Mapping[str, int]) -> dict[str, UpstreamRun | None]:
        ids = list(since)
        with self._lock:
            db = self._connect()
            if db is None:
                return dict.fromkeys(ids)
            try:
                rows = {task_id: db.execute(_LATEST_OK, (task_id, since[task_id])).fetchone() for task_id in ids}
            except sqlite3.Error as exc:  # a database mid-migration, or damaged: no evidence of completion
                log.debug("run history not readable for chains: %s", exc)
                return dict.fromkeys(ids)
        return {task_id: (UpstreamRun(task_id, row[0], row[1], row[2]) if row else None)
                for task_id, row in rows.items()}

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and self.path.is_file():  # never create it: the recorder does, with its schema
            try:
                self._db = sqlite3.connect(self.path, timeout=5, check_same_thread=False, isolation_level=None)
            except sqlite3.Error as exc:
                log.debug("run history not opened for chains: %s", exc)
        return self._db


class ChainWatch:
    """The scheduler's view of chains: which tasks follow which, when upstream tasks last finished ok,
    and the cycles (from a hand-edited file) that must not fire. Decisions are the pure `chains` core."""

    def __init__(self, reader: UpstreamReader, warn: Callable[[str], None]) -> None:
        self.reader = reader
        self._warn = warn
        self._done: dict[str, int | None] = {}
        self._cycles: dict[str, list[str]] = {}

    def after(self, task: CronTask) -> tuple[str, ...]:
        """The tasks this one follows; () when none, malformed (warned) or on a cycle (warned)."""
        try:
            after = after_of(task)
        except ChainError as exc:
            self._warn(f"task {task.id}: {exc}; it fires by its cron only")
            return ()
        if after and task.id in self._cycles:
            self._warn(f"task {task.id} is on a cycle ({' -> '.join(self._cycles[task.id])}); "
                       "it does not fire by the chain until the cycle is broken")
            return ()
        return after

    def is_after_only(self, task: CronTask) -> bool:
        return task.cron == AFTER_ONLY_CRON and bool(self.after(task))

    def due_ms(self, task: CronTask) -> int | None:
        """When the chain makes this task due (None: not yet, or not chained)."""
        after = self.after(task)
        return chain_due(after, self._done, _anchor(task)) if after else None

    async def refresh(self, tasks: Iterable[CronTask]) -> set[str]:
        """Ask the history (in a worker thread) when the upstream tasks last finished ok. Returns the
        ids of the chained tasks whose due time may have changed (empty when nothing changed)."""
        followers = [(t, after) for t in tasks if (after := _after_or_none(t))]
        if not followers:
            self._done, self._cycles = {}, {}
            return set()
        chained = {t.id: after for t, after in followers}
        cycles = find_cycles(chained)
        since: dict[str, int] = {}
        for task, after in followers:
            for upstream in after:
                since[upstream] = min(since.get(upstream, _anchor(task)), _anchor(task))
        since = {u: max(0, t - RUN_SLACK_MS) for u, t in sorted(since.items())}
        done = await asyncio.to_thread(self.reader.latest_ok_ends, since)
        if done == self._done and cycles == self._cycles:
            return set()
        self._done, self._cycles = done, cycles
        return set(chained)

    async def with_answers(self, task: CronTask) -> CronTask:
        """A fire the chain caused carries the answers of the upstream runs since this task last ran."""
        if self.due_ms(task) is None:
            return task
        since = max(0, _anchor(task) - RUN_SLACK_MS)
        runs = await asyncio.to_thread(self.reader.latest_runs, dict.fromkeys(self.after(task), since))
        return task.with_upstream_runs([r for r in runs if r.ended_ms > _anchor(task)])

    async def close(self) -> None:
        await asyncio.to_thread(self.reader.close)


def _anchor(task: CronTask) -> int:
    return task.lastFiredAt if task.lastFiredAt is not None else task.createdAt


def _after_or_none(task: CronTask) -> tuple[str, ...]:
    try:
        return after_of(task)
    except ChainError:
        return ()
