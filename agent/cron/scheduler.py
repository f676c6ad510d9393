"""The scheduler: the imperative shell that fires tasks on time in a running process.

One asyncio task ticks about once a second (sooner when a task falls due between ticks). On each tick:

1. The kill switch (`AGENT_DISABLE_CRON=1` / `CLAUDE_CODE_DISABLE_CRON=1`, from the environment or from
   `.claude/settings.json` `env`) is read; when set, nothing fires.
2. Durable tasks (`.claude/scheduled_tasks.json`) belong to whichever session holds the project lock;
   a non-owner checks every tick whether the owner still lives and tries to take the lock every 5 s.
   It never waits silently: `on_lock_wait` gets one line naming the holder (PID, since when) or the
   problem with the lock file, each time that changes.
3. Each task's due time is computed once (pure core: `jittered_next_fire`, `one_shot_fire`) and cached
   until the task changes. Due tasks fire unless `is_busy()` says a turn is running: then they wait, and a
   blocked session gets one fire afterwards, not a burst.

Delivery guarantee for durable tasks: **at most once**. Before a durable task is delivered, its fire is
committed to the file under the file lock (one-shots and expired tasks removed, recurring tasks get
`lastFiredAt`), and only the tasks that write found in the file are delivered. So a task deleted by
another process never fires again even if the file-change event is slow or lost, and a crash between the
write and the delivery loses that one fire instead of repeating it (a repeated fire costs a model run; a
lost one shows as a gap in the task's history).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from agent.cron.chain_watch import ChainWatch, UpstreamReader
from agent.cron.expr import CronError, next_fire
from agent.cron.heartbeat import heartbeat_path, write_heartbeat
from agent.cron.jitter import (
    JitterConfig,
    datetime_to_ms,
    is_aged,
    jittered_next_fire,
    load_jitter_config,
    ms_to_datetime,
    one_shot_fire,
)
from agent.cron.lock import SchedulerLock, holder_message
from agent.cron.missed import find_missed
from agent.cron.pacing import BacklogPacer, max_starts_per_minute, over_limit_note, split_at_limit
from agent.cron.policy import catch_up_due, resolve_policy
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
TIME_JUMP_MS = 30_000  # ticks come every second: a gap this long means the process did not run
MAX_CATCH_UP_STEPS = 20_000
_TRUE = {"1", "true", "yes", "on"}


def cron_disabled(*envs: dict[str, str]) -> bool:
    """True when any kill switch is set to a true value in any of the given environments."""
    return any(env.get(name, "").strip().lower() in _TRUE for env in envs for name in KILL_SWITCHES)


@dataclass(frozen=True)
class FiredTask:
    """One delivery: the task, where it lives, when it was due, when it fired, whether it was the last."""

    task: CronTask
    durable: bool
    due_ms: int
    fired_ms: int
    owner: bool
    final: bool  # a one-shot, or a recurring task that expired with this fire
    skipped: str | None = None  # not delivered, only recorded `skipped` with this reason (`on_commit`)


@dataclass
class _Entry:
    task: CronTask
    durable: bool
    due_ms: int | None


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
        self._on_fire = on_fire
        self._is_busy = is_busy
        self._on_missed = on_missed
        self._on_owner_change = on_owner_change
        self._on_lock_wait = on_lock_wait
        self._on_commit = on_commit  # the fires just committed, before any is delivered (records them queued)
        self._lock_wait_key: tuple | None = None  # what the last lock-wait line was about
        self._clock = clock
        self._env = env if env is not None else os.environ
        self._tz = tz
        self._tick_s = tick_s
        self._probe_s = probe_s
        self._use_watchdog = use_watchdog
        self._fixed_jitter = jitter_config
        self._jitter = jitter_config or JitterConfig()
        self._settings_env: dict[str, str] = {}
        self._cron_settings: object = None  # `cron` in settings: the catchUp default
        self._settings_sig: tuple | None = None
        self._entries: dict[tuple[bool, str], _Entry] = {}
        self._file_tasks: list[CronTask] = []
        self._file_revision = 0  # bumped with every new _file_tasks list
        self._entries_source: tuple | None = None  # (file revision, session revision, owner) of _entries
        self._earliest: tuple[CronTask, int] | None = None
        self._earliest_stale = True
        self._reload_file = True
        self._owner = False
        self._owner_known = False
        self._started_ms: int | None = None
        self._resumed_ms: int | None = None  # start-up, or the end of a pause: slots before it are caught up
        self._last_tick_ms: int | None = None
        self._last_probe_ms: int | None = None
        self._missed_checked = False
        self._warned: set[str] = set()
        self._pacer = BacklogPacer()  # the start-up backlog starts `cron.maxStartsPerMinute` at a time
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._watcher: TaskFileWatcher | None = None
        self._heartbeat = heartbeat_path(self.project_dir, self._env)
        self._chains = ChainWatch(upstreams or UpstreamReader.for_project(self.project_dir), self._warn_once)

    # -- public -------------------------------------------------------------------------------------

    @property
    def is_owner(self) -> bool:
        return self._owner

    @property
    def tz(self) -> tzinfo:
        """The zone schedules are read in: the one given, else the machine's local zone."""
        return self._tz or local_zone()

    @property
    def jitter_config(self) -> JitterConfig:
        return self._jitter

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
        await asyncio.to_thread(self.lock.release)
        await self._chains.close()
        self._owner = False  # no owner-change callback: nobody else took over, we are leaving

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
            self._started_ms = self._resumed_ms = now
        overtaken = self._take_overtaken(now)  # before a time jump moves the due times on
        self._note_time_jump(now)
        self._refresh_settings()
        await self._refresh_ownership(now)
        if self._owner:
            await self._beat(now)
            await self._refresh_file_tasks()
        self._refresh_entries(now)
        await self._refresh_chains()
        await self._record_skipped(overtaken)
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
            await self._fire(starting, self._clock())

    def _take_overtaken(self, now: int) -> list[FiredTask]:
        """A backlog task still waiting for a paced start when its next slot falls due (or a pause of the
        process passed it): the slot it waited with is to be recorded `skipped` (late), and the task
        leaves the backlog, due at its latest slot and on time from then on. Without this the slot would
        vanish with no record (the fire, when it came, would be stamped with a later slot)."""
        skipped: list[FiredTask] = []
        if not self._pacer.backlog:
            return skipped
        for entry in self._entries.values():
            task = entry.task
            if (not self._pacer.waiting(task.id) or not task.recurring or entry.due_ms is None
                    or entry.due_ms > now):
                continue
            try:
                next_due = jittered_next_fire(task.cron, entry.due_ms, task.id, self._jitter, self.tz)
            except (CronError, ValueError, OverflowError):
                continue
            if next_due is None or next_due > now:
                continue
            reason = (f"late: the start-up backlog starts {self._pacer.per_minute} runs a minute "
                      "(cron.maxStartsPerMinute) and this task's next slot came first")
            skipped.append(FiredTask(task, entry.durable, entry.due_ms, now, self._owner, False, reason))
            self._pacer.release(task.id)
            entry.due_ms = self._latest_due(task, entry.due_ms, now)
            self._earliest_stale = True
        return skipped

    async def _record_skipped(self, skipped: list[FiredTask]) -> None:
        """Fires that were not delivered go to `on_commit` all the same: the runs layer records them."""
        if not skipped:
            return
        log.info("not run (skipped): %s", "; ".join(f"task {f.task.id} slot {f.due_ms}: {f.skipped}" for f in skipped))
        if self._on_commit is not None:
            try:
                await self._on_commit(skipped)
            except Exception:  # a record that could not be written must not stop the fires
                log.exception("recording the skipped fires failed")

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
        self._cron_settings = settings.get("cron")
        self._pacer.per_minute, warning = max_starts_per_minute(self._cron_settings)
        if warning:
            self._warn_once(warning)
        if self._fixed_jitter is None:
            cfg, warning = load_jitter_config(settings.get("cronJitter"))
            if warning:
                self._warn_once(f"cronJitter in .claude/settings.json: {warning}")
            if cfg != self._jitter:
                self._jitter = cfg
                for entry in self._entries.values():
                    entry.due_ms = self._due_ms(entry.task)
                self._earliest_stale = True

    # -- ownership --------------------------------------------------------------------------------------

    async def _refresh_ownership(self, now: int) -> None:
        probe_due = self._last_probe_ms is None or now - self._last_probe_ms >= self._probe_s * 1000
        if self._owner:
            if probe_due:
                self._last_probe_ms = now
                self._set_owner(await asyncio.to_thread(self.lock.is_held_by_us))
            return
        if probe_due or not await asyncio.to_thread(self.lock.holder_is_alive):
            self._last_probe_ms = now
            owner = await asyncio.to_thread(self.lock.try_acquire)
            self._set_owner(owner)
            if not owner:
                await self._report_lock_wait()

    async def _beat(self, now: int) -> None:
        """The holder's heartbeat (agent.cron.heartbeat): `agent cron status` tells a frozen holder by it."""
        try:
            await asyncio.to_thread(write_heartbeat, self._heartbeat, os.getpid(), self.session_id, now)
        except OSError as exc:
            self._warn_once(f"scheduler heartbeat not written ({exc})")

    async def _report_lock_wait(self) -> None:
        """Say once who holds the lock (or what is wrong with it), and again only when that changes."""
        holder, problem = self.lock.blocked_by, self.lock.problem
        if holder is not None:
            key: tuple = ("holder", holder.pid, holder.session_id, holder.acquired_at_ms)
        elif problem is not None:
            key = ("problem", problem)
        else:
            return  # a contender mid-takeover: the next probe knows more
        if key == self._lock_wait_key:
            return
        self._lock_wait_key = key
        if holder is not None:
            message = await asyncio.to_thread(holder_message, holder)
        else:
            message = f"Durable tasks do not fire: {problem}; fix it and this process takes over."
        log.info("%s", message)
        if self._on_lock_wait is not None:
            self._on_lock_wait(message)

    def _set_owner(self, owner: bool) -> None:
        first = not self._owner_known  # the first answer is reported even when it is "not owner"
        self._owner_known = True
        if owner == self._owner:
            if first and self._on_owner_change is not None:
                self._on_owner_change(owner)
            return
        self._owner = owner
        self._reload_file = True
        self._lock_wait_key = None  # after a change of owner, say again who holds it
        log.info("scheduler %s the project lock", "holds" if owner else "does not hold")
        if not owner:
            self._set_file_tasks([])
        if self._on_owner_change is not None:
            self._on_owner_change(owner)

    # -- file tasks -------------------------------------------------------------------------------------

    def _file_changed(self) -> None:
        self._reload_file = True
        self._wake.set()

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
        missed = find_missed(self._file_tasks, self._started_ms or self._clock(), self._jitter, tz=self.tz)
        if not missed:
            return
        removed = set(await self._store_write(self.file_store.remove, [t.id for t in missed]))
        self._set_file_tasks([t for t in self._file_tasks if t.id not in removed])
        taken = [t for t in missed if t.id in removed]
        if taken:
            self._on_missed(taken)

    # -- due times --------------------------------------------------------------------------------------

    def _set_file_tasks(self, tasks: list[CronTask]) -> None:
        self._file_tasks = tasks
        self._file_revision += 1

    def _refresh_entries(self, now: int) -> None:
        """Bring the due-time cache in line with the stores; nothing to do when neither changed."""
        source = (self._file_revision, self.session_store.revision, self._owner)
        if source == self._entries_source:
            return
        self._entries_source = source
        self._earliest_stale = True
        tasks = [(False, t) for t in self.session_store.load().tasks]
        if self._owner:
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
                self._entries[key] = _Entry(task, key[0], self._due_ms(task))

    async def _refresh_chains(self) -> None:
        """Tasks with `after` fall due when their upstream tasks finished ok (the history says when)."""
        changed = await self._chains.refresh(e.task for e in self._entries.values())
        for entry in self._entries.values():
            if entry.task.id in changed:
                entry.due_ms = self._due_ms(entry.task)
                self._earliest_stale = True

    def _due_ms(self, task: CronTask) -> int | None:
        """The cron's due time or the chain's (`after`), whichever comes first."""
        cron_due = None if self._chains.is_after_only(task) else self._cron_due_ms(task)
        chain_due = self._chains.due_ms(task)
        return min((d for d in (cron_due, chain_due) if d is not None), default=None)

    def _cron_due_ms(self, task: CronTask) -> int | None:
        try:
            if task.recurring:
                anchor = task.lastFiredAt if task.lastFiredAt is not None else task.createdAt
                due = jittered_next_fire(task.cron, anchor, task.id, self._jitter, self.tz)
                due = self._caught_up(task, due)
            else:
                due = one_shot_fire(task.cron, task.createdAt, task.id, self._jitter, self.tz)
        except (CronError, ValueError, OverflowError) as exc:  # one task's problem must not stop the tick
            self._warn_once(f"task {task.id}: cron {task.cron!r} is not usable ({exc}); skipped")
            return None
        if due is None:  # parses but never matches (say 30 February): say so rather than sit silent
            self._warn_once(f"task {task.id}: cron {task.cron!r} never fires (no matching time ahead); skipped")
        return due

    def _caught_up(self, task: CronTask, due: int | None) -> int | None:
        """A slot missed before this process started, or while it was paused (a time jump), is caught up
        by the task's `catchUp` (pure rule in `catch_up_due`): `latest` (the default) runs once, due at
        the most recent missed slot; `skip` runs nothing until the first slot after the process came back."""
        back = self._resumed_ms
        if due is None or back is None or due >= back:
            return due
        mode = resolve_policy(self._cron_settings, task.model_extra or {}).catch_up
        if mode == "skip":
            # a slot exactly at `back` is not missed: it is due now
            after = jittered_next_fire(task.cron, back - 1, task.id, self._jitter, self.tz)
            log.info("task %s: skipping the slot missed at %d (catchUp: skip); next at %s", task.id, due, after)
            return catch_up_due(due, back, mode, after)
        return catch_up_due(due, back, mode, None, self._latest_due(task, due, back))

    def _latest_due(self, task: CronTask, due: int, now: int) -> int:
        """The due time of the most recent slot whose cron match has passed by `now`: the last missed
        slot. Usually that due time has passed too (fire now); when only the slot's jitter is still to
        come, it is a little ahead, and the catch-up run waits for it. Looks back an hour first, then
        further, so a week of every-minute slots is not walked."""
        last = due
        for window_ms in (3_600_000, 86_400_000, 31 * 86_400_000, 400 * 86_400_000):
            anchor = max(due, now - window_ms)
            fire, steps = jittered_next_fire(task.cron, anchor, task.id, self._jitter, self.tz), 0
            while fire is not None and fire <= now and steps < MAX_CATCH_UP_STEPS:
                last, steps = fire, steps + 1
                fire = jittered_next_fire(task.cron, fire, task.id, self._jitter, self.tz)
            if steps or anchor == due:
                match = next_fire(task.cron, ms_to_datetime(last, self.tz)) if fire is not None else None
                return fire if match is not None and datetime_to_ms(match) <= now else last
        return last

    def _note_time_jump(self, now: int) -> None:
        """A tick far later than the last one: the process was paused (SIGSTOP, a machine asleep) or the
        clock moved. Slots missed meanwhile are caught up as after a restart (`catchUp`)."""
        last, self._last_tick_ms = self._last_tick_ms, now
        if last is None or now - last < TIME_JUMP_MS:
            return
        log.info("the clock jumped %d s since the last tick (the process was paused or the machine slept); "
                    "missed slots are caught up by each task's catchUp", (now - last) // 1000)
        self._resumed_ms = now
        for entry in self._entries.values():
            entry.due_ms = self._due_ms(entry.task)
        self._earliest_stale = True

    # -- firing -----------------------------------------------------------------------------------------

    async def _fire(self, due: list[_Entry], now: int) -> None:
        final_ids = {e.task.id for e in due if not e.task.recurring or is_aged(e.task, now, self._jitter)}
        committed: set[tuple[bool, str]] = set()
        durable = [e for e in due if e.durable]
        if durable:
            remove = [e.task.id for e in durable if e.task.id in final_ids]
            mark = [e.task.id for e in durable if e.task.id not in final_ids]
            committed |= {(True, i) for i in await self._commit_durable(remove, mark, now)}
        session = [e for e in due if not e.durable]
        if session:
            self.session_store.remove([e.task.id for e in session if e.task.id in final_ids])
            self.session_store.mark_fired([e.task.id for e in session if e.task.id not in final_ids], now)
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

    async def _commit_durable(self, remove: list[str], mark: list[str], now: int) -> set[str]:
        """Write the fires to the file first (at most once); returns the ids that were still there."""
        try:
            removed = await self._store_write(self.file_store.remove, remove) if remove else []
            marked = await self._store_write(self.file_store.mark_fired, mark, now) if mark else []
        except TaskFileError as exc:
            self._warn_once(f"{exc}; durable tasks will not fire until it is fixed")
            return set()
        # Writable again: if it breaks the same way later, that deserves a warning of its own.
        self._forget_warnings(f"{self.file_store.path} could not be written")
        committed = set(removed) | set(marked)
        gone = (set(remove) | set(mark)) - committed
        if gone:  # deleted elsewhere and our copy was stale: never fire it
            log.info("not firing %s: no longer in %s", ", ".join(sorted(gone)), self.file_store.path)
        # Re-read once after our own write: the watcher drops the events our write causes, and with
        # them any change another process made just before it.
        self._reload_file = True
        return committed

    def _settle(self, entry: _Entry, now: int, gone: bool) -> None:
        """Update the cache right away so the task cannot fire twice while the file catches up."""
        key = (entry.durable, entry.task.id)
        self._earliest_stale = True
        if gone:
            self._entries.pop(key, None)
            if entry.durable:
                self._set_file_tasks([t for t in self._file_tasks if t.id != entry.task.id])
            return
        task = entry.task.with_last_fired(now)
        self._entries[key] = _Entry(task, entry.durable, self._due_ms(task))
        if entry.durable:
            self._set_file_tasks([task if t.id == task.id else t for t in self._file_tasks])

    async def _deliver(self, entry: _Entry, now: int, final: bool) -> None:
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

    def _fired(self, entry: _Entry, task: CronTask, now: int, final: bool) -> FiredTask:
        return FiredTask(task, entry.durable, entry.due_ms or now, now, self._owner, final)

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
