"""The firing path: commit each fire to its store first, record it, then deliver it (shell).

Delivery guarantee for durable tasks: **at most once**. Before a durable task is delivered, its fire is
committed to the file under the file lock (one-shots and expired tasks removed, recurring tasks get
`lastFiredAt`), and only the tasks that write found in the file are delivered. So a task deleted by
another process never fires again even if the file-change event is slow or lost, and a crash between the
write and the delivery loses that one fire instead of repeating it. Separate from the scheduler's tick,
which decides what is due; this module decides nothing, it keeps that order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from agent.cron.chain_watch import ChainWatch
from agent.cron.fires import DueEntry, FiredTask
from agent.cron.jitter import JitterConfig, is_aged
from agent.cron.store import FileTaskStore, SessionTaskStore, TaskFileError
from agent.cron.task import CronTask

__all__ = ["Delivery"]

log = logging.getLogger(__name__)


class Delivery:
    """Fires due entries for one scheduler. The scheduler supplies how to write the file (so its watcher
    ignores our own writes), how to settle its cache after a fire, and whether it holds the lock now."""

    def __init__(
        self,
        file_store: FileTaskStore,
        session_store: SessionTaskStore,
        chains: ChainWatch,
        *,
        on_fire: Callable[[FiredTask], Awaitable[None] | None],
        on_commit: Callable[[list[FiredTask]], Awaitable[None]] | None,
        store_write: Callable[..., Awaitable],
        settle: Callable[[DueEntry, int, bool], None],
        file_written: Callable[[], None],
        is_owner: Callable[[], bool],
        warn: Callable[[str], None],
        forget_warnings: Callable[[str], None],
    ) -> None:
        self._file_store = file_store
        self._session_store = session_store
        self._chains = chains
        self._on_fire = on_fire
        self._on_commit = on_commit  # the fires just committed, before any is delivered (records them queued)
        self._store_write = store_write
        self._settle = settle
        self._file_written = file_written
        self._is_owner = is_owner
        self._warn = warn
        self._forget_warnings = forget_warnings

    async def fire(self, due: list[DueEntry], now: int, jitter: JitterConfig) -> None:
        final_ids = {e.task.id for e in due if not e.task.recurring or is_aged(e.task, now, jitter)}
        committed: set[tuple[bool, str]] = set()
        durable = [e for e in due if e.durable]
        if durable:
            remove = [e.task.id for e in durable if e.task.id in final_ids]
            mark = [e.task.id for e in durable if e.task.id not in final_ids]
            committed |= {(True, i) for i in await self._commit_durable(remove, mark, now)}
        session = [e for e in due if not e.durable]
        if session:
            self._session_store.remove([e.task.id for e in session if e.task.id in final_ids])
            self._session_store.mark_fired([e.task.id for e in session if e.task.id not in final_ids], now)
            committed |= {(False, e.task.id) for e in session}
        delivered = [e for e in due if (e.durable, e.task.id) in committed]
        if delivered and self._on_commit is not None:
            try:
                await self._on_commit([self._fired(e, e.task, now, e.task.id in final_ids) for e in delivered])
            except Exception:  # a record that could not be written must not stop the fires
                log.exception("recording the committed fires failed")
        for entry in due:
            gone = entry.task.id in final_ids or (entry.durable, entry.task.id) not in committed
            self._settle(entry, now, gone)
        for entry in delivered:
            await self._deliver(entry, now, entry.task.id in final_ids)

    async def record_skipped(self, skipped: list[FiredTask]) -> None:
        """Fires that were not delivered go to `on_commit` all the same: the runs layer records them."""
        if not skipped:
            return
        log.info("not run (skipped): %s", "; ".join(f"task {f.task.id} slot {f.due_ms}: {f.skipped}" for f in skipped))
        if self._on_commit is not None:
            try:
                await self._on_commit(skipped)
            except Exception:  # a record that could not be written must not stop the fires
                log.exception("recording the skipped fires failed")

    async def _commit_durable(self, remove: list[str], mark: list[str], now: int) -> set[str]:
        """Write the fires to the file first (at most once); returns the ids that were still there."""
        try:
            removed = await self._store_write(self._file_store.remove, remove) if remove else []
            marked = await self._store_write(self._file_store.mark_fired, mark, now) if mark else []
        except TaskFileError as exc:
            self._warn(f"{exc}; durable tasks will not fire until it is fixed")
            return set()
        # Writable again: if it breaks the same way later, that deserves a warning of its own.
        self._forget_warnings(f"{self._file_store.path} could not be written")
        committed = set(removed) | set(marked)
        gone = (set(remove) | set(mark)) - committed
        if gone:  # deleted elsewhere and our copy was stale: never fire it
            log.info("not firing %s: no longer in %s", ", ".join(sorted(gone)), self._file_store.path)
        # Re-read once after our own write: the watcher drops the events our write causes, and with
        # them any change another process made just before it.
        self._file_written()
        return committed

    async def _deliver(self, entry: DueEntry, now: int, final: bool) -> None:
        try:
            task = await self._chains.with_answers(entry.task)
        except Exception:  # the answers are a courtesy; the fire itself must still happen
            log.exception("upstream answers of task %s not read", entry.task.id)
            task = entry.task
        fired = self._fired(entry, task, now, final)
        try:
            result = self._on_fire(fired)
            if asyncio.iscoroutine(result):
                await result
        except Exception:  # one bad handler must not stop the other fires or the loop
            log.exception("handler for scheduled task %s failed", entry.task.id)

    def _fired(self, entry: DueEntry, task: CronTask, now: int, final: bool) -> FiredTask:
        return FiredTask(task, entry.durable, entry.due_ms or now, now, self._is_owner(), final)
