"""The scheduler: the imperative shell that fires tasks on time in a running process.

One asyncio task ticks about once a second (sooner when a task falls due between ticks). On each tick:

1. The kill switch (`AGENT_DISABLE_CRON=1` / `CLAUDE_CODE_DISABLE_CRON=1`, from the environment or from
   `.claude/settings.json` `env`) is read; when set, nothing fires.
2. Durable tasks (`.claude/scheduled_tasks.json`) belong to whichever session holds the project lock
   (`ownership.py`: probing, takeover, the one-line lock-wait reports, the holder's heartbeat).
3. Each task's due time is computed once (`due_times.py`: jitter, chains, catch-up after downtime and
   pauses) and cached here until the task changes. Due tasks fire unless `is_busy()` says a turn is
   running: then they wait, and a blocked session gets one fire afterwards, not a burst. The start-up
   backlog is paced (`pacing.py`); a backlog slot overtaken meanwhile is recorded skipped (`overtaken.py`).

Delivery guarantee for durable tasks: **at most once** (`delivery.py`): a fire is committed to the file
under the file lock before it is delivered, and only the tasks that write found in the file are
delivered (a repeated fire costs a model run; a lost one shows as a gap in the task's history).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from pathlib import Path

from agent.cron.chain_watch import ChainWatch, UpstreamReader
from agent.cron.delivery import Delivery
from agent.cron.due_times import DueTimes
from agent.cron.fires import DueEntry, FiredTask
from agent.cron.heartbeat import heartbeat_path
from agent.cron.jitter import JitterConfig, load_jitter_config
from agent.cron.lock import SchedulerLock
from agent.cron.missed import find_missed
from agent.cron.overtaken import take_overtaken
from agent.cron.ownership import Ownership
from agent.cron.pacing import BacklogPacer, max_starts_per_minute, over_limit_note, split_at_limit
from agent.cron.service import wall_clock_ms
from agent.cron.store import FileTaskStore, SessionTaskStore, TaskFileError
from agent.cron.task import CronTask
from agent.cron.watch import TaskFileWatcher
from agent.cron.zone import local_zone
from agent.settings import SettingsError, load_settings, settings_paths
from agent.settings.trust import trust_store

__all__ = ["KILL_SWITCHES", "CronScheduler", "FiredTask", "cron_disabled"]

log = logging.getLogger(__name__)

KILL_SWITCHES = ("AGENT_DISABLE_CRON", "CLAUDE_CODE_DISABLE_CRON")
_TRUE = {"1", "true", "yes", "on"}


def cron_disabled(*envs: dict[str, str]) -> bool:
    """True when any kill switch is set to a true value in any of the given environments."""
    return any(env.get(name, "").strip().lower() in _TRUE for env in envs for name in KILL_SWITCHES)


def _signature(task: CronTask) -> tuple:
    extra = task.model_extra or {}
    return (task.cron, task.createdAt, task.lastFiredAt, task.recurring, task.permanent, extra.get("catchUp"),
            extra.get("after"))


class CronScheduler:
    """Fires due tasks through `on_fire`. Knows nothing of the REPL: callers wire the callbacks."""

    def __init__(
        self,
        project_dir: Path,
        on_fire: Callable[[FiredTask], Awaitable[None] | None],
        is_busy: Callable[[], bool] = lambda: False,
        *,
        session_store: SessionTaskStore | None = None,
        file_store: FileTaskStore | None = None,
        clock: Callable[[], int] = wall_clock_ms,
        jitter_config: JitterConfig | None = None,
        session_id: str | None = None,
        on_missed: Callable[[list[CronTask]], None] | None = None,
        on_owner_change: Callable[[bool], None] | None = None,
        on_lock_wait: Callable[[str], None] | None = None,
        env: dict[str, str] | None = None,
        tz: tzinfo | None = None,
        tick_s: float = 1.0,
        probe_s: float = 5.0,
        use_watchdog: bool = True,
        upstreams: UpstreamReader | None = None,
        on_commit: Callable[[list[FiredTask]], Awaitable[None]] | None = None,
    ) -> None:
        self.project_dir = Path(project_dir)
        self.session_store = session_store if session_store is not None else SessionTaskStore()
        self.file_store = file_store if file_store is not None else FileTaskStore(self.project_dir)
        self.session_id = session_id or str(uuid.uuid4())
        self.lock = SchedulerLock(self.project_dir, self.session_id)
        self._is_busy = is_busy
        self._on_missed = on_missed
        self._clock = clock
        self._env = env if env is not None else os.environ
        self._tz = tz
        self._tick_s = tick_s
        self._use_watchdog = use_watchdog
        self._fixed_jitter = jitter_config
        self._settings_env: dict[str, str] = {}
        self._settings_sig: tuple | None = None
        self._entries: dict[tuple[bool, str], DueEntry] = {}
        self._file_tasks: list[CronTask] = []
        self._file_revision = 0  # bumped with every new _file_tasks list
        self._entries_source: tuple | None = None  # (file revision, session revision, owner) of _entries
        self._earliest: tuple[CronTask, int] | None = None
        self._earliest_stale = True
        self._reload_file = True
        self._started_ms: int | None = None
        self._missed_checked = False
        self._warned: set[str] = set()
        self._pacer = BacklogPacer()  # the start-up backlog starts `cron.maxStartsPerMinute` at a time
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._watcher: TaskFileWatcher | None = None
        self._chains = ChainWatch(upstreams or UpstreamReader.for_project(self.project_dir), self._warn_once)
        self._due = DueTimes(self._chains, lambda: self.tz, self._warn_once, jitter_config or JitterConfig())
        self._ownership = Ownership(self.lock, heartbeat_path(self.project_dir, self._env), probe_s, self._warn_once,
                                    self._owner_changed, on_owner_change, on_lock_wait)
        self._delivery = Delivery(
            self.file_store, self.session_store, self._chains, on_fire=on_fire, on_commit=on_commit,
            store_write=self._store_write, settle=self._settle, file_written=self._file_written,
            is_owner=lambda: self._ownership.owner, warn=self._warn_once, forget_warnings=self._forget_warnings,
        )

    # -- public -------------------------------------------------------------------------------------

    @property
    def is_owner(self) -> bool:
        return self._ownership.owner

    @property
    def tz(self) -> tzinfo:
        """The zone schedules are read in: the one given, else the machine's local zone."""
        return self._tz or local_zone()

    @property
    def jitter_config(self) -> JitterConfig:
        return self._due.jitter

    async def start(self) -> None:
        if self._task is None:
            self._watcher = TaskFileWatcher(
                self.file_store.path, asyncio.get_running_loop(), self._file_changed,
                force_polling=not self._use_watchdog,
            )
            self._task = asyncio.create_task(self._run(), name="cron-scheduler")

    async def stop(self) -> None:
        """Stop ticking, join the watcher thread and release the lock (only if it still names us)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.stop)
        await self._ownership.release()
        await self._chains.close()

    def wake(self) -> None:
        """Tick now rather than at the next second (after a task was added, for instance)."""
        self._wake.set()

    def next_fire_time(self) -> tuple[CronTask, int] | None:
        """The task that fires next among those this process would fire, and when (epoch ms)."""
        if self._earliest_stale:
            due = [(e.due_ms, e.task) for e in self._entries.values() if e.due_ms is not None]
            self._earliest = None
            if due:
                due_ms, task = min(due, key=lambda pair: pair[0])
                self._earliest = (task, due_ms)
            self._earliest_stale = False
        return self._earliest

    # -- the loop -----------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must never die; the next tick tries again
                log.exception("scheduler tick failed")
            await self._sleep_until_next()

    async def _sleep_until_next(self) -> None:
        delay = self._tick_s
        nxt = self.next_fire_time()
        if nxt is not None and not self._is_busy():
            at = max(nxt[1], self._pacer.until or 0)  # a paced burst waits for its next start slot
            delay = min(delay, max(0.0, (at - self._clock()) / 1000))
        self._wake.clear()
        # asyncio.wait, not wait_for: on Python < 3.12 wait_for can swallow a cancel that arrives as
        # the event is set (stop() racing a wake()), and the loop would never end.
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=delay)
        finally:
            waiter.cancel()

    async def tick(self) -> None:
        """One pass: settings, lock, reload, then fire what is due. Tests call it with a fake clock."""
        now = self._clock()
        if self._started_ms is None:
            self._started_ms = self._due.resumed_ms = now
        # before a time jump moves the due times on
        overtaken = take_overtaken(self._entries.values(), self._pacer, self._due, now, self._ownership.owner)
        if overtaken:
            self._earliest_stale = True
        if self._due.note_time_jump(now):
            self._recompute_due_times()
        self._refresh_settings()
        await self._ownership.refresh(now)
        if self._ownership.owner:
            await self._ownership.beat(now)
            await self._refresh_file_tasks()
        self._refresh_entries(now)
        await self._refresh_chains()
        await self._delivery.record_skipped(overtaken)
        if cron_disabled(self._env, self._settings_env) or self._is_busy():
            return
        # the first tick: what is already due is the start-up backlog
        self._pacer.begin([e.task.id for e in self._entries.values() if e.due_ms is not None and e.due_ms <= now])
        earliest = self.next_fire_time()
        if earliest is None or earliest[1] > now:
            return
        due = sorted((e for e in self._entries.values() if e.due_ms is not None and e.due_ms <= now),
                     key=lambda e: (e.due_ms, e.task.createdAt, e.task.id))
        starting = self._pacer.select(due, lambda e: e.task.id, now)
        if starting:
            await self._delivery.fire(starting, self._clock(), self._due.jitter)

    # -- settings (kill switch in env, jitter config) ---------------------------------------------------

    def _refresh_settings(self) -> None:
        """Re-read settings when any settings file changed (a few stat calls per tick)."""
        # The trust store too: `agent trust` from another shell changes which project keys apply.
        watched = [*settings_paths(self.project_dir), trust_store().path]
        sig = tuple(_stat_sig(p) for p in watched)
        if sig == self._settings_sig:
            return
        self._settings_sig = sig
        try:
            settings = load_settings(self.project_dir)
        except SettingsError as exc:
            self._warn_once(f"settings: {exc}")
            return
        self._settings_env = settings.env
        self._due.cron_settings = settings.get("cron")
        self._pacer.per_minute, warning = max_starts_per_minute(self._due.cron_settings)
        if warning:
            self._warn_once(warning)
        if self._fixed_jitter is None:
            cfg, warning = load_jitter_config(settings.get("cronJitter"))
            if warning:
                self._warn_once(f"cronJitter in .claude/settings.json: {warning}")
            if cfg != self._due.jitter:
                self._due.jitter = cfg
                self._recompute_due_times()

    # -- file tasks -------------------------------------------------------------------------------------

    def _owner_changed(self, owner: bool) -> None:
        """Taking the lock means reading the file; losing it means the file's tasks are not ours to fire."""
        self._reload_file = True
        if not owner:
            self._set_file_tasks([])

    def _file_changed(self) -> None:
        self._reload_file = True
        self._wake.set()

    def _file_written(self) -> None:
        """After our own write (a fire committed): re-read the file at the next tick, without waking."""
        self._reload_file = True

    async def _refresh_file_tasks(self) -> None:
        watcher = self._watcher
        if watcher is not None:
            watcher.ensure_started()
            if watcher.poll():
                self._reload_file = True
        if not self._reload_file:
            return
        self._reload_file = False
        try:
            loaded = await asyncio.to_thread(self.file_store.load)
        except TaskFileError as exc:
            self._warn_once(str(exc))
            self._set_file_tasks([])
            return
        # Readable again: if it breaks the same way later, that deserves a warning of its own.
        self._forget_warnings(f"{self.file_store.path} could not be read")
        for problem in loaded.problems:
            self._warn_once(f"{self.file_store.path}: {problem}")
        self._set_file_tasks(loaded.tasks)
        if not self._missed_checked:
            self._missed_checked = True
            await self._handle_missed()

    async def _handle_missed(self) -> None:
        """At start-up, one-shots that fell due while no session ran go to `on_missed`, not `on_fire`."""
        if self._on_missed is None:
            return
        missed = find_missed(self._file_tasks, self._started_ms or self._clock(), self._due.jitter, tz=self.tz)
        if not missed:
            return
        removed = set(await self._store_write(self.file_store.remove, [t.id for t in missed]))
        self._set_file_tasks([t for t in self._file_tasks if t.id not in removed])
        taken = [t for t in missed if t.id in removed]
        if taken:
            self._on_missed(taken)

    # -- the due-time cache ------------------------------------------------------------------------------

    def _set_file_tasks(self, tasks: list[CronTask]) -> None:
        self._file_tasks = tasks
        self._file_revision += 1

    def _refresh_entries(self, now: int) -> None:
        """Bring the due-time cache in line with the stores; nothing to do when neither changed."""
        source = (self._file_revision, self.session_store.revision, self._ownership.owner)
        if source == self._entries_source:
            return
        self._entries_source = source
        self._earliest_stale = True
        tasks = [(False, t) for t in self.session_store.load().tasks]
        if self._ownership.owner:
            tasks += [(True, t) for t in self._file_tasks]
        firing, over = split_at_limit([t for _, t in tasks])  # a committed file of 300 tasks fires 50
        if over:
            self._warn_once(over_limit_note(over))
        kept = {id(t) for t in firing}
        current = {(durable, t.id): t for durable, t in tasks if id(t) in kept}
        for key in self._entries.keys() - current.keys():
            del self._entries[key]
        for key, task in current.items():
            entry = self._entries.get(key)
            if entry is None or _signature(entry.task) != _signature(task):
                self._entries[key] = DueEntry(task, key[0], self._due.due_ms(task))

    async def _refresh_chains(self) -> None:
        """Tasks with `after` fall due when their upstream tasks finished ok (the history says when)."""
        changed = await self._chains.refresh(e.task for e in self._entries.values())
        for entry in self._entries.values():
            if entry.task.id in changed:
                entry.due_ms = self._due.due_ms(entry.task)
                self._earliest_stale = True

    def _recompute_due_times(self) -> None:
        """Every due time again: the jitter config changed, or the process came back from a pause."""
        for entry in self._entries.values():
            entry.due_ms = self._due.due_ms(entry.task)
        self._earliest_stale = True

    def _settle(self, entry: DueEntry, now: int, gone: bool) -> None:
        """Update the cache right away so the task cannot fire twice while the file catches up."""
        key = (entry.durable, entry.task.id)
        self._earliest_stale = True
        if gone:
            self._entries.pop(key, None)
            if entry.durable:
                self._set_file_tasks([t for t in self._file_tasks if t.id != entry.task.id])
            return
        task = entry.task.with_last_fired(now)
        self._entries[key] = DueEntry(task, entry.durable, self._due.due_ms(task))
        if entry.durable:
            self._set_file_tasks([task if t.id == task.id else t for t in self._file_tasks])

    async def _store_write(self, method: Callable, *args):
        result = await asyncio.to_thread(method, *args)
        if self._watcher is not None:
            self._watcher.note_own_write()
        return result

    def _forget_warnings(self, prefix: str) -> None:
        self._warned = {w for w in self._warned if not w.startswith(prefix)}

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning("%s", message)


def _stat_sig(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
