"""Where scheduled tasks live: `.claude/scheduled_tasks.json` for durable ones, memory for the rest.

This is the only module that reads or writes the tasks file. The file is shared with other sessions
(and with Claude Code), so:

- every change is read-modify-write under a `filelock` on `.claude/scheduled_tasks.json.lock` (not
  `.claude/scheduled_tasks.lock`: that is the scheduler's ownership lock, see lock.py);
- writes are atomic (temp file in the same folder, fsync, `os.replace`), so a reader or a writer that
  dies midway never sees or leaves a truncated file; `load()` reads without the lock for that reason;
- a file we cannot read as a list of tasks (including an empty one, which is what a non-atomic writer
  shows mid-write) is never overwritten: every operation raises `TaskFileError`. The file is read with
  `agent.jsonfile`: a regular file of at most 1 MiB (Claude Code's limit), strict UTF-8 and JSON, so a
  FIFO, `/dev/zero`, deep nesting or huge numbers are a clear error, never a hang or a crash;
- a failed write (a full disk) leaves the file as it was and raises `TaskFileError`;
- a tasks file that is a symlink is written through the link (the link stays, its target changes);
- temp files left by a writer that was killed are removed by the next write;
- entries we cannot understand are skipped with a problem text and written back unchanged, in place;
- unknown top-level keys and unknown task fields are kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from agent.cron.expr import CronError, parse_cron
from agent.cron.task import CronTask
from agent.jsonfile import MIB, JSONFileError, dump_json, load_json, read_regular_file

__all__ = [
    "MAX_TASKS",
    "MAX_TASKS_FILE_BYTES",
    "TASKS_FILE",
    "FileTaskStore",
    "LoadedTasks",
    "SessionTaskStore",
    "TaskFileError",
    "TaskLimitError",
    "TaskStore",
]

log = logging.getLogger(__name__)

MAX_TASKS = 50
MAX_TASKS_FILE_BYTES = MIB  # as Claude Code; a bigger file is refused, never truncated
TASKS_FILE = Path(".claude") / "scheduled_tasks.json"
_T = TypeVar("_T")


class TaskFileError(Exception):
    """The tasks file cannot be used; it was left unchanged. The message names the file and why."""

    def __init__(self, path: Path, reason: str, *, writing: bool = False) -> None:
        doing = "written" if writing else "read as a list of tasks"
        super().__init__(f"{path} could not be {doing} and was left unchanged: {reason}")
        self.path = path
        self.reason = reason


class TaskLimitError(Exception):
    """Adding a task would exceed MAX_TASKS."""

    def __init__(self, limit: int = MAX_TASKS) -> None:
        super().__init__(f"Too many scheduled jobs (max {limit}). Cancel one first.")
        self.limit = limit


@dataclass
class LoadedTasks:
    """The usable tasks, and one text per malformed entry that was skipped (and kept on disk)."""

    tasks: list[CronTask] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class TaskStore(Protocol):
    def load(self) -> LoadedTasks: ...
    def add(self, task: CronTask, *, max_tasks: int = MAX_TASKS) -> None: ...
    def remove(self, ids: Iterable[str]) -> list[str]: ...
    def mark_fired(self, ids: Iterable[str], at_ms: int) -> list[str]: ...


@dataclass
class _Document:
    """The file as read: `top` is the whole object, `parsed[i]` the task of `top["tasks"][i]` or None."""

    top: dict[str, Any]
    parsed: list[CronTask | None]
    problems: list[str]
    had_tasks_key: bool = True  # False for a file without "tasks" (then treated as an empty list)

    @property
    def entries(self) -> list[Any]:
        return self.top.setdefault("tasks", [])

    def tasks(self) -> list[CronTask]:
        return [task for task in self.parsed if task is not None]


def _parse_entries(entries: list[Any]) -> tuple[list[CronTask | None], list[str]]:
    parsed: list[CronTask | None] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(entries):
        task, why = _parse_entry(raw)
        if task is not None and task.id in seen:
            task, why = None, "duplicate id"
        if task is None:
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            label = f"tasks[{index}]" + (f" (id {raw_id!r})" if isinstance(raw_id, str) else "")
            problems.append(f"{label}: {why}; skipped and left in the file unchanged")
        else:
            seen.add(task.id)
        parsed.append(task)
    return parsed, problems


def _parse_entry(raw: Any) -> tuple[CronTask | None, str]:
    if not isinstance(raw, dict):
        return None, f"not an object but {type(raw).__name__}"
    try:
        task = CronTask.from_json_dict(raw)
    except ValidationError as exc:
        return None, "; ".join(
            f"{'.'.join(map(str, err['loc'])) or 'entry'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
    try:
        parse_cron(task.cron)
    except CronError as exc:
        return None, f"bad cron {task.cron!r}: {exc}"
    return task, ""


def _dump(top: dict[str, Any]) -> bytes:
    """Claude Code's layout: 2-space indent, trailing newline, UTF-8 text rather than escapes."""
    return (dump_json(top, indent=2) + "\n").encode("utf-8")


class FileTaskStore:
    """Durable tasks in `<project>/.claude/scheduled_tasks.json`, safe to share between processes."""

    def __init__(self, project_dir: Path | str, *, lock_timeout_s: float = 10.0) -> None:
        self._path = Path(project_dir) / TASKS_FILE
        self._lock_timeout_s = lock_timeout_s

    @property
    def path(self) -> Path:
        return self._path

    @property
    def lock_path(self) -> Path:
        return self._path.with_name(self._path.name + ".lock")

    def load(self) -> LoadedTasks:
        """The tasks on disk. A missing file is no tasks. Raises TaskFileError when unreadable."""
        doc = self._read()
        return LoadedTasks(doc.tasks(), doc.problems)

    def add(self, task: CronTask, *, max_tasks: int = MAX_TASKS) -> None:
        """Append a task. TaskLimitError if the file already holds `max_tasks` tasks."""

        def edit(doc: _Document) -> tuple[None, bool]:
            tasks = doc.tasks()
            if len(tasks) >= max_tasks:
                raise TaskLimitError()
            if any(t.id == task.id for t in tasks):
                raise ValueError(f"a task with id {task.id} already exists")
            doc.entries.append(task.to_json_dict())
            return None, True

        return self._change(edit, create_dir=True)

    def remove(self, ids: Iterable[str]) -> list[str]:
        """Delete the tasks with these ids; returns the ids actually removed (file order)."""
        wanted = set(ids)

        def edit(doc: _Document) -> tuple[list[str], bool]:
            removed = [t.id for t in doc.parsed if t is not None and t.id in wanted]
            pairs = zip(doc.entries, doc.parsed, strict=True)
            doc.top["tasks"] = [raw for raw, t in pairs if t is None or t.id not in wanted]
            return removed, bool(removed)

        return self._change(edit) if wanted else []

    def mark_fired(self, ids: Iterable[str], at_ms: int) -> list[str]:
        """Set lastFiredAt on these tasks; returns the ids that were found and updated."""
        wanted = set(ids)

        def edit(doc: _Document) -> tuple[list[str], bool]:
            updated = []
            for index, task in enumerate(doc.parsed):
                if task is not None and task.id in wanted:
                    doc.entries[index] = task.with_last_fired(at_ms).to_json_dict()
                    updated.append(task.id)
            return updated, bool(updated)

        return self._change(edit) if wanted else []

    def _change(self, edit: Callable[[_Document], tuple[_T, bool]], *, create_dir: bool = False) -> _T:
        folder = self._path.parent
        if create_dir:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # `.claude` is a file, or the project is read-only
                reason = f"cannot create {folder}: {exc.strerror or exc}"
                raise TaskFileError(self._path, reason, writing=True) from None
        elif not folder.is_dir():
            # Nothing on disk, so nothing to change; the edit runs on an empty document.
            return edit(_Document({"tasks": []}, [], []))[0]
        from filelock import FileLock, Timeout  # on first write: reading the tasks needs no lock

        lock = FileLock(str(self.lock_path), timeout=self._lock_timeout_s)
        try:
            lock.acquire()
        except Timeout:
            raise TaskFileError(
                self._path, f"{self.lock_path} stayed locked for {self._lock_timeout_s:g} s", writing=True
            ) from None
        except OSError as exc:  # say, a folder where the lock file belongs
            reason = f"its lock file {self.lock_path} cannot be used ({exc.strerror or exc}); remove it"
            raise TaskFileError(self._path, reason, writing=True) from None
        try:
            doc = self._read()
            result, changed = edit(doc)
            if changed:
                self._check_symlink_target(doc)
                self._write(doc.top)
            return result
        finally:
            lock.release()

    def _read(self) -> _Document:
        try:
            data = read_regular_file(self._path, MAX_TASKS_FILE_BYTES)
        except JSONFileError as exc:
            raise TaskFileError(self._path, exc.reason) from None
        if data is None:
            if self._path.is_symlink():  # dangling: never create a file wherever a committed link points
                raise TaskFileError(self._path, f"it is a symlink to {os.readlink(self._path)}, which does not exist")
            return _Document({"tasks": []}, [], [])
        top = self._decode(data)
        had_tasks_key = "tasks" in top
        parsed, problems = _parse_entries(top.setdefault("tasks", []))
        return _Document(top, parsed, problems, had_tasks_key)

    def _decode(self, data: bytes) -> dict[str, Any]:
        if not data.strip():
            raise TaskFileError(self._path, "the file is empty")
        try:
            top = load_json(data)
        except JSONFileError as exc:
            raise TaskFileError(self._path, exc.reason) from None
        if not isinstance(top, dict):
            raise TaskFileError(self._path, f"the top level is {type(top).__name__}, not an object")
        if not isinstance(top.get("tasks", []), list):
            raise TaskFileError(self._path, '"tasks" is not a list')
        return top

    def _check_symlink_target(self, doc: _Document) -> None:
        """Write through a link only into a tasks file: a committed link must not make us add tasks to,
        say, a package.json elsewhere. (A plain file without "tasks" is fine: it is ours to use.)"""
        if self._path.is_symlink() and not doc.had_tasks_key:
            target = os.readlink(self._path)
            raise TaskFileError(self._path, f'it is a symlink to {target}, which holds no "tasks" list; '
                                "not writing through it", writing=True)

    def _write(self, top: dict[str, Any]) -> None:
        """Atomically replace the file (the target, if it is a symlink). Runs under the file lock."""
        content = _dump(top)
        # _read just saw the link point at a regular file, so realpath is that file.
        target = Path(os.path.realpath(self._path)) if self._path.is_symlink() else self._path
        folder = target.parent
        _remove_leftover_temp_files(folder, target.name)
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=_TEMP_SUFFIX)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException as exc:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if isinstance(exc, OSError):  # ENOSPC, EDQUOT, EROFS, EACCES ...
                raise TaskFileError(self._path, exc.strerror or str(exc), writing=True) from None
            raise
        _fsync_dir(folder)


_TEMP_SUFFIX = ".tmp"


def _remove_leftover_temp_files(folder: Path, name: str) -> None:
    """Temp files of writers killed mid-write. Only called under the file lock, so none is in use."""
    for leftover in folder.glob(f".{glob_escape(name)}.*{_TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; not every platform can open a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        log.debug("fsync of %s failed", folder, exc_info=True)
    finally:
        os.close(fd)


class SessionTaskStore:
    """Tasks that live and die with this process. Same interface as FileTaskStore; thread-safe."""

    def __init__(self) -> None:
        self._tasks: dict[str, CronTask] = {}
        self._lock = threading.Lock()
        self.revision = 0  # bumped on every change, so a reader can skip work when nothing changed

    def load(self) -> LoadedTasks:
        with self._lock:
            return LoadedTasks(list(self._tasks.values()))

    def add(self, task: CronTask, *, max_tasks: int = MAX_TASKS) -> None:
        with self._lock:
            if len(self._tasks) >= max_tasks:
                raise TaskLimitError()
            if task.id in self._tasks:
                raise ValueError(f"a task with id {task.id} already exists")
            self._tasks[task.id] = task
            self.revision += 1

    def remove(self, ids: Iterable[str]) -> list[str]:
        wanted = set(ids)
        with self._lock:
            removed = [task_id for task_id in self._tasks if task_id in wanted]
            for task_id in removed:
                del self._tasks[task_id]
            self.revision += bool(removed)
            return removed

    def mark_fired(self, ids: Iterable[str], at_ms: int) -> list[str]:
        wanted = set(ids)
        with self._lock:
            updated = [task_id for task_id in self._tasks if task_id in wanted]
            for task_id in updated:
                self._tasks[task_id] = self._tasks[task_id].with_last_fired(at_ms)
            self.revision += bool(updated)
            return updated
