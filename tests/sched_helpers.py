"""Shared helpers for tests that drive CronScheduler tick by tick with a fake clock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from agent.cron.jitter import JitterConfig
from agent.cron.scheduler import CronScheduler, FiredTask
from agent.cron.task import CronTask
from agent.cron.zone import local_zone

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


def due_hourly(now_ms: int) -> dict[str, object]:
    """The schedule of a recurring task that is due at once and not again for 40 minutes: an hourly slot
    that passed 20 minutes ago, after its last fire (jitter delays an hourly fire by 6 minutes at most).
    A daemon watched for a few seconds fires it exactly once whatever the time of day; an every-minute
    task fires again when the turn of the minute falls inside the run (a second run, or a `skipped` record
    while the first still goes)."""
    minute = datetime.fromtimestamp((now_ms - 20 * MIN) / 1000, local_zone()).minute
    return {"cron": f"{minute} * * * *", "recurring": True, "createdAt": now_ms - 120 * MIN,
            "lastFiredAt": now_ms - 30 * MIN}
