"""Shared helpers for tests that drive CronScheduler tick by tick with a fake clock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from agent.cron.jitter import JitterConfig
from agent.cron.scheduler import CronScheduler, FiredTask
from agent.cron.task import CronTask

UTC = timezone.utc
T0 = int(datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp() * 1000)
MIN = 60_000
NO_JITTER = JitterConfig(recurringFrac=0, oneShotMaxMs=0)


class Clock:
    """A settable clock in epoch ms."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make(project: Path, clock: Clock, fired: list[FiredTask], **kw) -> CronScheduler:
    """A scheduler with no jitter, no watchdog thread, an empty environment and UTC as local time."""
    kw.setdefault("jitter_config", NO_JITTER)
    kw.setdefault("env", {})
    return CronScheduler(project, fired.append, clock=clock, tz=UTC, use_watchdog=False, **kw)


def task(id_: str, cron: str = "*/5 * * * *", *, created: int = T0, recurring: bool = True, **extra) -> CronTask:
    return CronTask(id=id_, cron=cron, prompt=f"prompt {id_}", createdAt=created, recurring=recurring, **extra)


def flake_c_due_hourly_task(task_id: str, prompt: str) -> dict:
    """A durable recurring task (JSON, as in scheduled_tasks.json) due at once whose next slot is 40 minutes
    away: an hourly task whose slot passed 20 minutes ago, after its last fire 30 minutes ago. A test that
    counts requests after the fire cannot see a second one (an every-minute task falls due again at the
    turn of the minute, a few seconds after a fire near it)."""
    import time

    from agent.cron.zone import local_zone

    now = time.time_ns() // 1_000_000
    minute = datetime.fromtimestamp((now - 20 * MIN) / 1000, local_zone()).minute
    return {"id": task_id, "cron": f"{minute} * * * *", "prompt": prompt, "createdAt": now - 120 * MIN,
            "recurring": True, "lastFiredAt": now - 30 * MIN}
