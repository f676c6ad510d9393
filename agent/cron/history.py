"""Run history and run state of scheduled tasks: one SQLite database per project.

It lives in the user's state folder (`project_state_dir(project) / "history.db"`), never in the
repository, so it cannot be committed by accident, and never in the tasks file, which Claude Code
rewrites with only its own fields. WAL mode lets the daemon, chats and `agent cron history` use it at
once. The schema is versioned with `PRAGMA user_version` and migrated when the database is opened.

Two tables: `runs` (one row per fire: what ran, when, how it ended, what it cost, and for a task
isolated in a git worktree the branch and commit it left) and `task_state`
(the circuit breaker: paused, pausedAt, lastError, consecutiveFailures). Plus `gaps`, the expected
fires already reported as missing, so a gap is notified once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.settings import project_state_dir
from agent.settings.private import private_file, tighten

__all__ = ["HISTORY_FILE", "SCHEMA_VERSION", "RunHistory", "RunRecord", "TaskState", "history_path", "new_run_id"]

log = logging.getLogger(__name__)

HISTORY_FILE = "history.db"

_MIGRATIONS: tuple[str, ...] = (
    # 1: runs and the breaker state
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, prompt TEXT NOT NULL DEFAULT '',
        cron TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, scheduled_at INTEGER, started_at INTEGER NOT NULL,
        ended_at INTEGER, requests INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0, cost_usd REAL, result TEXT, error TEXT,
        denials TEXT NOT NULL DEFAULT '[]', transcript TEXT, pid INTEGER, host TEXT,
        attempts INTEGER NOT NULL DEFAULT 1,
        source TEXT NOT NULL DEFAULT 'daemon'
    );
    CREATE INDEX runs_by_start ON runs (started_at DESC);
    CREATE INDEX runs_by_task ON runs (task_id, started_at DESC);
    CREATE TABLE task_state (
        task_id TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0, paused_at INTEGER, last_error TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0, updated_at INTEGER
    );
    """,
    # 2: expected fires already reported as gaps (notified once each)
    """
    CREATE TABLE gaps (task_id TEXT NOT NULL, slot_ms INTEGER NOT NULL, noted_at INTEGER NOT NULL,
                       PRIMARY KEY (task_id, slot_ms));
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 3: the git branch and commit of a run in its own worktree (isolation "worktree")
    """
    ALTER TABLE runs ADD COLUMN branch TEXT;
    ALTER TABLE runs ADD COLUMN commit_id TEXT;
    CREATE INDEX runs_by_branch ON runs (branch) WHERE branch IS NOT NULL;
    """,
    # 4: the start time of the recording process (a pid alone is reused), and the open records
    """
    ALTER TABLE runs ADD COLUMN proc_start TEXT;
    CREATE INDEX runs_open ON runs (status) WHERE status IN ('queued', 'running');
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_COLUMNS = ("run_id", "task_id", "prompt", "cron", "status", "scheduled_at", "started_at", "ended_at",
            "requests", "input_tokens", "output_tokens", "cost_usd", "result", "error", "denials",
            "transcript", "pid", "host", "attempts", "source", "branch", "commit_id", "proc_start")


def history_path(project_dir: Path, env: Mapping[str, str]) -> Path:
    return project_state_dir(project_dir, env) / HISTORY_FILE


def new_run_id() -> str:
    """12 hex characters: short enough to type after `agent cron show`, unique enough per project."""
    return uuid.uuid4().hex[:12]


@dataclass
class RunRecord:
    """One fire of a task. Times are epoch ms; `denials` is a list of {tool, reason, rule}."""

    run_id: str
    task_id: str
    prompt: str = ""
    cron: str = ""
    status: str = "running"
    scheduled_at: int | None = None
    started_at: int = 0
    ended_at: int | None = None
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    result: str | None = None
    error: str | None = None
    denials: list[dict[str, Any]] = field(default_factory=list)
    transcript: str | None = None
    pid: int | None = None
    host: str | None = None
    attempts: int = 1
    source: str = "daemon"
    branch: str | None = None  # isolation "worktree": the run's branch, kept after the run
    commit_id: str | None = None  # the commit of its changes on that branch (None: nothing committed)
    proc_start: str | None = None  # when the recording process started (with pid: is it still that one?)

    def to_json(self) -> dict[str, Any]:
        """The `agent cron history --json` shape (camelCase, as the issue names it)."""
        return {
            "runId": self.run_id, "taskId": self.task_id, "prompt": self.prompt, "cron": self.cron,
            "status": self.status, "scheduledAt": self.scheduled_at, "startedAt": self.started_at,
            "endedAt": self.ended_at, "requests": self.requests, "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens, "costUsd": self.cost_usd, "result": self.result,
            "error": self.error, "denials": self.denials, "transcript": self.transcript, "pid": self.pid,
            "host": self.host, "attempts": self.attempts, "source": self.source, "branch": self.branch,
            "commit": self.commit_id, "procStart": self.proc_start,
        }

    def _row(self) -> tuple:
        values = asdict(self)
        values["denials"] = json.dumps(self.denials, ensure_ascii=False)
        return tuple(values[c] for c in _COLUMNS)

    @classmethod
    def _from_row(cls, row: Iterable[Any]) -> RunRecord:
        values = dict(zip(_COLUMNS, row, strict=True))
        try:
            values["denials"] = json.loads(values["denials"] or "[]")
        except ValueError:
            values["denials"] = []
        return cls(**values)


@dataclass(frozen=True)
class TaskState:
    task_id: str
    paused: bool = False
    paused_at: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0


class RunHistory:
    """The database of one project. Thread-safe (one connection behind a lock), so the asyncio shell
    can call it through `asyncio.to_thread`. Raises sqlite3.Error; callers on the firing path log it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        private_file(self.path)  # SQLite gives its -wal and -shm files the database's mode
        for suffix in ("-wal", "-shm", "-journal"):
            tighten(f"{self.path}{suffix}")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    @classmethod
    def for_project(cls, project_dir: Path, env: Mapping[str, str]) -> RunHistory:
        return cls(history_path(project_dir, env))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _migrate(self) -> None:
        with self._lock:
            if self._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return  # the usual case: no write lock needed just to read
            self._db.execute("BEGIN IMMEDIATE")  # two processes opening a new database at once
            try:
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    log.warning("%s has schema %d, newer than this agent knows (%d); using it as is",
                                self.path, version, SCHEMA_VERSION)
                for number in range(version, SCHEMA_VERSION):
                    for statement in _MIGRATIONS[number].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                if version < SCHEMA_VERSION:
                    # when recording began: gap checks must not blame the time before it
                    self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('recordingSince', ?)",
                                     (str(time.time_ns() // 1_000_000),))
                    self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # -- runs ---------------------------------------------------------------------------------------

    def save(self, record: RunRecord) -> None:
        """Insert or replace a run (started, then finished, with the same run id)."""
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({marks})",
                             record._row())

    def save_many(self, records: Iterable[RunRecord]) -> None:
        marks = ", ".join("?" for _ in _COLUMNS)
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({marks})",
                                 (r._row() for r in records))
            self._db.execute("COMMIT")

    def get(self, run_id: str) -> RunRecord | None:
        """A run by its id, or by a unique prefix of it (at least 4 characters)."""
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE run_id >= ? AND run_id < ? "
                                    "LIMIT 2", (run_id, run_id + "\uffff")).fetchall()
        if len(rows) == 1 and (len(run_id) >= 4 or rows[0][0] == run_id):
            return RunRecord._from_row(rows[0])
        return None

    def runs(self, *, task_id: str | None = None, since_ms: int | None = None, status: str | None = None,
             limit: int | None = 50) -> list[RunRecord]:
        """Runs newest first, filtered."""
        where, params = [], []
        if task_id:
            where.append("task_id = ?")
            params.append(task_id)
        if since_ms is not None:
            where.append("started_at >= ?")
            params.append(since_ms)
        if status:
            where.append("status = ?")
            params.append(status)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, rowid DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [RunRecord._from_row(r) for r in rows]

    def by_branch(self, branches: Iterable[str]) -> dict[str, RunRecord]:
        """branch -> the run that made it, for the branches given (those with no record are left out)."""
        wanted = list(dict.fromkeys(branches))
        found: dict[str, RunRecord] = {}
        for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            chunk = wanted[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            with self._lock:
                rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE branch IN ({marks})",
                                        chunk).fetchall()
            found.update((r.branch, r) for r in map(RunRecord._from_row, rows) if r.branch)
        return found

    def recording_since(self) -> int | None:
        """When this database began recording (epoch ms)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'recordingSince'").fetchone()
        return int(row[0]) if row else None

    def due_times(self, since_ms: int) -> dict[str, list[int]]:
        """task id -> when each of its runs since `since_ms` was due (else started), sorted."""
        with self._lock:
            rows = self._db.execute("SELECT task_id, COALESCE(scheduled_at, started_at) AS t FROM runs "
                                    "WHERE started_at >= ? ORDER BY t", (since_ms,)).fetchall()
        times: dict[str, list[int]] = {}
        for task_id, when in rows:
            times.setdefault(task_id, []).append(when)
        return times

    def usage_since(self, since_ms: int, *, sources: tuple[str, ...] = ("daemon", "chat", "headless", "cron-run")
                    ) -> tuple[int, float]:
        """Tokens (input + output) and cost of the scheduled runs started since `since_ms`."""
        marks = ", ".join("?" for _ in sources)
        with self._lock:
            row = self._db.execute(
                f"SELECT COALESCE(SUM(input_tokens + output_tokens), 0), COALESCE(SUM(cost_usd), 0) FROM runs "
                f"WHERE started_at >= ? AND source IN ({marks})", (since_ms, *sources)).fetchone()
        return int(row[0]), float(row[1])

    def open_runs(self) -> list[RunRecord]:
        """Runs still `queued` or `running` (or left so by a process that died)."""
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs "
                                    "WHERE status IN ('queued', 'running')").fetchall()
        return [RunRecord._from_row(r) for r in rows]

    def close_open(self, records: Iterable[RunRecord]) -> int:
        """Save these records only where they are still open (another process may have closed one)."""
        marks = ", ".join(f"{c} = ?" for c in _COLUMNS)
        changed = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for record in records:
                    changed += self._db.execute(f"UPDATE runs SET {marks} WHERE run_id = ? AND status IN "
                                                "('queued', 'running')", (*record._row(), record.run_id)).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return changed

    def retention_candidates(self, before_ms: int, keep_per_task: int) -> list[tuple[str, str | None]]:
        """(run id, transcript) of closed runs started before `before_ms` or beyond the newest
        `keep_per_task` runs of their task."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id, transcript FROM (SELECT run_id, transcript, status, started_at, ROW_NUMBER() OVER "
                "(PARTITION BY task_id ORDER BY started_at DESC, rowid DESC) AS n FROM runs) "
                "WHERE status NOT IN ('queued', 'running') AND (started_at < ? OR n > ?)",
                (before_ms, keep_per_task)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def delete_runs(self, run_ids: list[str], gaps_before_ms: int | None = None) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for start in range(0, len(run_ids), 500):
                    chunk = run_ids[start:start + 500]
                    self._db.execute(f"DELETE FROM runs WHERE run_id IN ({', '.join('?' for _ in chunk)})", chunk)
                if gaps_before_ms is not None:
                    self._db.execute("DELETE FROM gaps WHERE slot_ms < ?", (gaps_before_ms,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def vacuum(self) -> None:
        """Give freed pages back to the file system (after a large prune)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")

    # -- small facts between processes (alert de-duplication, heartbeats of prunes) -------------------

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def delete_meta(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM meta WHERE key = ?", (key,))

    def claim_meta(self, key: str, value: str) -> bool:
        """Set `key` only if it is not set yet; True when this call set it (once across processes)."""
        with self._lock:
            return self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                                    (key, value)).rowcount == 1

    # -- breaker state --------------------------------------------------------------------------------

    def state(self, task_id: str) -> TaskState:
        with self._lock:
            row = self._db.execute("SELECT paused, paused_at, last_error, consecutive_failures FROM task_state "
                                   "WHERE task_id = ?", (task_id,)).fetchone()
        return TaskState(task_id) if row is None else TaskState(task_id, bool(row[0]), row[1], row[2], row[3])

    def states(self) -> dict[str, TaskState]:
        with self._lock:
            rows = self._db.execute("SELECT task_id, paused, paused_at, last_error, consecutive_failures "
                                    "FROM task_state").fetchall()
        return {r[0]: TaskState(r[0], bool(r[1]), r[2], r[3], r[4]) for r in rows}

    def set_state(self, state: TaskState, now_ms: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO task_state (task_id, paused, paused_at, last_error, consecutive_failures, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (state.task_id, int(state.paused), state.paused_at, state.last_error, state.consecutive_failures,
                 now_ms))

    # -- gaps -----------------------------------------------------------------------------------------

    def note_gap(self, task_id: str, slot_ms: int, now_ms: int) -> bool:
        """Remember a reported gap; False when it was reported before (notify once per gap)."""
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO gaps (task_id, slot_ms, noted_at) VALUES (?, ?, ?)",
                                      (task_id, slot_ms, now_ms))
        return cursor.rowcount == 1
