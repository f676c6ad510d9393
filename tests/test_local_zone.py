"""The local zone is $TZ as the C library reads it, so cron slots and the times shown agree.

`ZoneInfo` alone knows zone names; a POSIX rule (`JST-9`), a zone file's path or an unusable value fell
back to /etc/localtime, so slots followed one zone while `astimezone()` (and `date`) showed another.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from agent.cron.zone import _zone_for

WINTER = datetime(2027, 1, 15, 12, tzinfo=timezone.utc)
SUMMER = datetime(2027, 7, 15, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(("tz", "winter_h", "summer_h"), [
    ("JST-9", 9, 9),
    ("EST5EDT,M3.2.0,M11.1.0", -5, -4),  # a POSIX rule with its DST change
    ("<+0545>-5:45", 5.75, 5.75),
    (":America/New_York", -5, -4),
    ("/usr/share/zoneinfo/Australia/Sydney", 11, 10),
    ("", 0, 0),  # set but empty: UTC, as glibc
    ("not a zone!!", 0, 0),  # unusable: UTC, as glibc
])
def test_tz_values_the_c_library_accepts(tz, winter_h, summer_h):
    if tz.startswith("/") and not os.path.exists(tz):
        pytest.skip("no tz database here")
    zone = _zone_for(tz)
    assert WINTER.astimezone(zone).utcoffset() == timedelta(hours=winter_h)
    assert SUMMER.astimezone(zone).utcoffset() == timedelta(hours=summer_h)


def test_a_cron_slot_and_the_time_shown_agree_under_a_posix_rule():
    code = ("from datetime import datetime, timezone\nfrom agent.cron.zone import local_zone\n"
            "for month in (1, 7):\n"
            "    d = datetime(2027, month, 15, 12, tzinfo=timezone.utc)\n"
            "    print(d.astimezone(local_zone()).isoformat(), d.astimezone().isoformat())\n")
    env = {**os.environ, "TZ": "EST5EDT,M3.2.0,M11.1.0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    lines = [line.split() for line in out.splitlines()]
    assert lines == [["2027-01-15T07:00:00-05:00"] * 2, ["2027-07-15T08:00:00-04:00"] * 2]
