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
