"""The machine's local time zone: the one part of the cron core's inputs read from the environment.

Kept out of the pure core (`expr`, `jitter`, `missed`), which takes the zone as an argument.
"""

from __future__ import annotations

import io
import os
import struct
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["local_zone"]


def _posix_rule_zone(rule: str) -> tzinfo:
    """A zone from a POSIX TZ rule such as `JST-9` or `EST5EDT,M3.2.0,M11.1.0`, which the C library
    honours but `ZoneInfo` cannot look up: a TZif file with no transitions whose footer is the rule
    (zoneinfo then applies the rule, DST included). ValueError when the rule does not parse."""
    header = b"TZif2" + bytes(15) + struct.pack(">6l", 0, 0, 0, 0, 1, 4)  # one type, 4 name bytes
    block = header + struct.pack(">lbB", 0, 0, 0) + b"UTC\0"
    return ZoneInfo.from_file(io.BytesIO(block + block + b"\n" + rule.encode("ascii") + b"\n"), key=rule)


@lru_cache(maxsize=8)
def _zone_for(tz_env: str | None) -> tzinfo:
    """The zone $TZ names, read as the C library reads it (so cron slots and the times shown with
    `astimezone()` agree): a zone name, a zone file's path, or a POSIX rule; an empty or unusable
    value means UTC; no $TZ means /etc/localtime."""
    if tz_env is not None:
        value = tz_env.removeprefix(":")
        try:
            if value.startswith("/"):
                with open(value, "rb") as fh:
                    return ZoneInfo.from_file(fh, key=value)
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
        try:
            return _posix_rule_zone(value)
        except (ValueError, UnicodeEncodeError):
            return timezone.utc
    try:
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError):
        # No tz database: a fixed offset is right except across DST changes.
        return datetime.now().astimezone().tzinfo or timezone.utc


def local_zone() -> tzinfo:
    """The machine's local zone with its DST rules (a ZoneInfo when possible, cached per $TZ)."""
    return _zone_for(os.environ.get("TZ"))
