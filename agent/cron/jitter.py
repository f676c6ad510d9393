"""Deterministic jitter and expiry for scheduled tasks (pure: the time is always an argument).

Many sessions scheduling `0 * * * *` would all call the API on the hour; jitter spreads them out.
It is derived from the task id, never random, so every session computes the same fire time for a task
and a restart does not move it.

- Recurring: a fire lands up to `recurringFrac` of the interval to the next match late, capped at
  `recurringCapMs`.
- One-shot: a fire landing on a minute divisible by `oneShotMinuteMod` (people pick :00 and :30) comes
  between `oneShotFloorMs` and `oneShotMaxMs` early, but never before the task was created.

All offsets are floored to whole milliseconds (`math.floor`), so id `ffffffff` with the default 90 s
lead comes 89 999 ms early, not 90 000.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.cron.expr import next_fire

if TYPE_CHECKING:
    from agent.cron.task import CronTask

__all__ = [
    "JitterConfig",
    "datetime_to_ms",
    "is_aged",
    "jitter_frac",
    "jittered_next_fire",
    "load_jitter_config",
    "ms_to_datetime",
    "one_shot_fire",
]

MINUTE_MS = 60_000
DAY_MS = 86_400_000
_HEX8 = re.compile(r"[0-9a-fA-F]{1,8}")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class JitterConfig(BaseModel):
    """The `cronJitter` settings object; field names are the settings file's keys.

    Strict types: `"0.1"` or `true` where a number belongs is an error, not a coercion.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    recurringFrac: float = Field(0.1, ge=0, le=1)
    recurringCapMs: int = Field(15 * MINUTE_MS, ge=0, le=30 * MINUTE_MS)
    oneShotMaxMs: int = Field(90_000, ge=0, le=30 * MINUTE_MS)
    oneShotFloorMs: int = Field(0, ge=0, le=30 * MINUTE_MS)
    oneShotMinuteMod: int = Field(30, ge=1, le=60)
    recurringMaxAgeMs: int = Field(7 * DAY_MS, ge=0, le=30 * DAY_MS)

    @model_validator(mode="after")
    def _floor_not_above_max(self) -> JitterConfig:
        if self.oneShotFloorMs > self.oneShotMaxMs:
            raise ValueError(
                f"oneShotFloorMs ({self.oneShotFloorMs}) must not exceed oneShotMaxMs ({self.oneShotMaxMs})"
            )
        return self


def load_jitter_config(raw: object) -> tuple[JitterConfig, str | None]:
    """Validate a `cronJitter` settings value: (config, warning).

    A config that breaks any rule falls back as a whole to the defaults (mixing a user's values with
    defaults could produce a combination nobody chose), and the warning says what was wrong.
    None means "not configured": defaults, no warning. Unknown keys are ignored.
    """
    if raw is None:
        return JitterConfig(), None
    if not isinstance(raw, dict):
        return JitterConfig(), f"cronJitter must be an object, not {type(raw).__name__}; using the defaults"
    try:
        return JitterConfig.model_validate(raw), None
    except ValidationError as exc:
        return JitterConfig(), f"cronJitter is invalid ({_describe_errors(exc)}); using the defaults"


def _describe_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def jitter_frac(task_id: str) -> float:
    """The task's fixed position in [0, 1): its first 8 hex digits over 2**32; 0.0 if not hex."""
    head = task_id[:8]
    return int(head, 16) / 2**32 if _HEX8.fullmatch(head) else 0.0


def ms_to_datetime(ms: int, tz: tzinfo) -> datetime:
    """Epoch milliseconds as an aware datetime in `tz`."""
    return datetime.fromtimestamp(ms / 1000, tz)


def datetime_to_ms(dt: datetime) -> int:
    """An aware datetime as exact epoch milliseconds (no float rounding)."""
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def jittered_next_fire(
    cron: str, from_ms: int, task_id: str, cfg: JitterConfig, tz: tzinfo
) -> int | None:
    """When a recurring task fires next after `from_ms`: the next match plus its jitter, in epoch ms.

    The delay is `frac * recurringFrac * (t2 - t1)` (t2 = the match after t1), floored to whole ms
    and capped at `recurringCapMs`. None when the expression never matches again; no delay when it
    matches only once more (there is no interval to take a fraction of).
    """
    t1 = next_fire(cron, ms_to_datetime(from_ms, tz))
    if t1 is None:
        return None
    t1_ms = datetime_to_ms(t1)
    t2 = next_fire(cron, t1)
    if t2 is None:
        return t1_ms
    delay = math.floor(jitter_frac(task_id) * cfg.recurringFrac * (datetime_to_ms(t2) - t1_ms))
    return t1_ms + min(delay, cfg.recurringCapMs)


def one_shot_fire(
    cron: str, created_ms: int, task_id: str, cfg: JitterConfig, tz: tzinfo
) -> int | None:
    """When a one-shot task fires: the first match after creation, early when on a round minute.

    Only a match whose local minute is divisible by `oneShotMinuteMod` moves, by
    `floor + frac * (max - floor)` (floored to ms), and never to before `created_ms`.
    """
    t1 = next_fire(cron, ms_to_datetime(created_ms, tz))
    if t1 is None:
        return None
    t1_ms = datetime_to_ms(t1)
    if t1.minute % cfg.oneShotMinuteMod != 0:
        return t1_ms
    span = cfg.oneShotMaxMs - cfg.oneShotFloorMs
    lead = math.floor(cfg.oneShotFloorMs + jitter_frac(task_id) * span)
    return max(t1_ms - lead, created_ms)


def is_aged(task: CronTask, now_ms: int, cfg: JitterConfig) -> bool:
    """Whether a recurring task has reached its maximum age: it fires once more, then is deleted.

    `>=`: a task is aged from the exact moment it is `recurringMaxAgeMs` old, so with the default a
    daily task created at 9:00 last Monday has its last fire at 9:00 this Monday. One-shot and
    permanent tasks never age. A max age of 0 makes every recurring task fire only once.
    """
    if not task.recurring or task.permanent:
        return False
    return now_ms - task.createdAt >= cfg.recurringMaxAgeMs
