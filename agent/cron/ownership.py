"""Who fires the durable tasks: the scheduler's hold on the project lock, said out loud (shell).

Durable tasks belong to whichever session holds the project lock (`SchedulerLock`). A holder checks
every `probe_s` that the lock still names it and writes its heartbeat each tick; a non-owner checks
every tick whether the owner still lives and tries to take the lock every `probe_s`. It never waits
silently: `on_lock_wait` gets one line naming the holder (PID, since when) or the problem with the lock
file, each time that changes. Separate from the scheduler's tick so that the lock's states and their
reports are one object's job.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from agent.cron.heartbeat import write_heartbeat
from agent.cron.lock import SchedulerLock, holder_message

__all__ = ["Ownership"]

log = logging.getLogger(__name__)


class Ownership:
    """The lock, probed on the scheduler's ticks. `changed(owner)` lets the scheduler drop or reload the
    durable tasks before `on_owner_change` hears of it."""

    def __init__(
        self,
        lock: SchedulerLock,
        heartbeat: Path,
        probe_s: float,
        warn: Callable[[str], None],
        changed: Callable[[bool], None],
        on_owner_change: Callable[[bool], None] | None = None,
        on_lock_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.lock = lock
        self.owner = False
        self._known = False
        self._heartbeat = heartbeat
        self._probe_s = probe_s
        self._warn = warn
        self._changed = changed
        self._on_owner_change = on_owner_change
        self._on_lock_wait = on_lock_wait
        self._last_probe_ms: int | None = None
        self._lock_wait_key: tuple | None = None  # what the last lock-wait line was about

    async def refresh(self, now: int) -> None:
        probe_due = self._last_probe_ms is None or now - self._last_probe_ms >= self._probe_s * 1000
        if self.owner:
            if probe_due:
                self._last_probe_ms = now
                self._set(await asyncio.to_thread(self.lock.is_held_by_us))
            return
        if probe_due or not await asyncio.to_thread(self.lock.holder_is_alive):
            self._last_probe_ms = now
            owner = await asyncio.to_thread(self.lock.try_acquire)
            self._set(owner)
            if not owner:
                await self._report_lock_wait()

    async def beat(self, now: int) -> None:
        """The holder's heartbeat (agent.cron.heartbeat): `agent cron status` tells a frozen holder by it."""
        try:
            await asyncio.to_thread(write_heartbeat, self._heartbeat, os.getpid(), self.lock.session_id, now)
        except OSError as exc:
            self._warn(f"scheduler heartbeat not written ({exc})")

    async def release(self) -> None:
        """Release the lock (only if it still names us) on the way out."""
        await asyncio.to_thread(self.lock.release)
        self.owner = False  # no owner-change callback: nobody else took over, we are leaving

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

    def _set(self, owner: bool) -> None:
        first = not self._known  # the first answer is reported even when it is "not owner"
        self._known = True
        if owner == self.owner:
            if first and self._on_owner_change is not None:
                self._on_owner_change(owner)
            return
        self.owner = owner
        self._lock_wait_key = None  # after a change of owner, say again who holds it
        log.info("scheduler %s the project lock", "holds" if owner else "does not hold")
        self._changed(owner)
        if self._on_owner_change is not None:
            self._on_owner_change(owner)
