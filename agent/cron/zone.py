"""The machine's local time zone: the one part of the cron core's inputs read from the environment.

Kept out of the pure core (`expr`, `jitter`, `missed`), which takes the zone as an argument.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["local_zone"]


@lru_cache(maxsize=8)
def _zone_for(tz_env: str | None) -> tzinfo:
    if tz_env:
        try:
            return ZoneInfo(tz_env.removeprefix(":"))
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        # No tz database: a fixed offset is right except across DST changes.
        return datetime.now().astimezone().tzinfo or timezone.utc


def local_zone() -> tzinfo:
    """The machine's local zone with its DST rules (a ZoneInfo when possible, cached per $TZ)."""
    return _zone_for(os.environ.get("TZ"))
