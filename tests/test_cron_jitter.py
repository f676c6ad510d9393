from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agent.cron.jitter import (
    JitterConfig,
    datetime_to_ms,
    is_aged,
    jitter_frac,
    jittered_next_fire,
    load_jitter_config,
    ms_to_datetime,
    one_shot_fire,
)
from agent.cron.task import CronTask

UTC = ZoneInfo("UTC")
DEFAULTS = JitterConfig()
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def ms(*args: int, tz: ZoneInfo = UTC) -> int:
    return datetime_to_ms(datetime(*args, tzinfo=tz))


# --- jitter_frac -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task_id", "frac"),
    [
        ("80000000", 0.5),
        ("00000000", 0.0),
        ("ffffffff", (2**32 - 1) / 2**32),
        ("40000000", 0.25),
        ("80000000ffff", 0.5),  # only the first 8 characters count
        ("FFFFFFFF", (2**32 - 1) / 2**32),
    ],
)
def test_jitter_frac_is_first_eight_hex_digits_over_two_to_the_32(task_id: str, frac: float) -> None:
    assert jitter_frac(task_id) == frac


@pytest.mark.parametrize("task_id", ["zzzzzzzz", "", "+1234567", "12 34567", "0x123456"])
def test_jitter_frac_of_a_non_hex_id_is_zero(task_id: str) -> None:
    assert jitter_frac(task_id) == 0.0


# --- recurring -------------------------------------------------------------------------------------


def test_hourly_task_with_frac_one_half_fires_exactly_three_minutes_late() -> None:
    fire = jittered_next_fire("0 * * * *", ms(2026, 3, 2, 10, 5), "80000000", DEFAULTS, UTC)
    assert fire == ms(2026, 3, 2, 11, 0) + 180_000


def test_id_zero_gets_no_recurring_delay() -> None:
    assert jittered_next_fire("*/5 * * * *", ms(2026, 3, 2, 10, 1), "00000000", DEFAULTS, UTC) == ms(
        2026, 3, 2, 10, 5
    )


def test_daily_task_delay_is_capped_at_recurring_cap() -> None:
    # 0.1 * ~1 * 86_400_000 would be ~2.4 h late; the cap keeps it at 15 min.
    fire = jittered_next_fire("0 9 * * *", ms(2026, 3, 2, 10, 0), "ffffffff", DEFAULTS, UTC)
    assert fire == ms(2026, 3, 3, 9, 0) + 900_000


def test_custom_cap_and_fraction_are_used() -> None:
    cfg = JitterConfig(recurringFrac=0.5, recurringCapMs=60_000)
    fire = jittered_next_fire("0 * * * *", ms(2026, 3, 2, 10, 0), "40000000", cfg, UTC)
    assert fire == ms(2026, 3, 2, 11, 0) + 60_000  # 0.25 * 0.5 * 1 h = 7.5 min, capped at 1 min


def test_recurring_delay_is_floored_to_whole_milliseconds() -> None:
    # frac ~0.99999999977 * 0.1 * 60_000 = 5999.9999986 -> 5999 ms
    fire = jittered_next_fire("* * * * *", ms(2026, 3, 2, 10, 0), "ffffffff", DEFAULTS, UTC)
    assert fire == ms(2026, 3, 2, 10, 1) + 5_999


def test_recurring_fire_is_strictly_after_the_start() -> None:
    start = ms(2026, 3, 2, 11, 0)  # exactly on a match: the next one is an hour later
    assert jittered_next_fire("0 * * * *", start, "00000000", DEFAULTS, UTC) == ms(2026, 3, 2, 12, 0)


def test_a_fire_years_away_is_found_and_its_delay_capped() -> None:
    # 29 Feb 2028, then 2032: a tenth of four years is far beyond the 15-minute cap.
    fire = jittered_next_fire("0 0 29 2 *", ms(2026, 6, 1, 0, 0), "ffffffff", DEFAULTS, UTC)
    assert fire == ms(2028, 2, 29, 0, 0) + DEFAULTS.recurringCapMs


def test_expression_that_never_fires_has_no_next_fire() -> None:
    assert jittered_next_fire("0 0 30 2 *", ms(2026, 1, 1, 0, 0), "80000000", DEFAULTS, UTC) is None
    assert one_shot_fire("0 0 30 2 *", ms(2026, 1, 1, 0, 0), "80000000", DEFAULTS, UTC) is None


def test_recurring_interval_is_measured_in_real_time_across_dst() -> None:
    # New York springs forward on 2026-03-08: 01:00 -> 03:00 is one real hour, not two.
    ny = ZoneInfo("America/New_York")
    fire = jittered_next_fire("0 * * * *", ms(2026, 3, 8, 0, 30, tz=ny), "80000000", DEFAULTS, ny)
    assert fire == ms(2026, 3, 8, 1, 0, tz=ny) + 180_000


# --- one-shot --------------------------------------------------------------------------------------


def test_one_shot_on_the_half_hour_with_max_id_lands_just_under_90_s_early() -> None:
    fire = one_shot_fire("30 14 * * *", ms(2026, 3, 2, 9, 0), "ffffffff", DEFAULTS, UTC)
    assert fire == ms(2026, 3, 2, 14, 30) - 89_999


def test_one_shot_off_the_round_minute_gets_no_early_jitter() -> None:
    fire = one_shot_fire("17 14 * * *", ms(2026, 3, 2, 9, 0), "ffffffff", DEFAULTS, UTC)
    assert fire == ms(2026, 3, 2, 14, 17)


def test_one_shot_never_fires_before_it_was_created() -> None:
    created = ms(2026, 3, 2, 14, 29, 30)
    assert one_shot_fire("30 14 * * *", created, "ffffffff", DEFAULTS, UTC) == created


def test_one_shot_floor_is_the_minimum_lead() -> None:
    cfg = JitterConfig(oneShotFloorMs=30_000, oneShotMaxMs=90_000)
    at = ms(2026, 3, 2, 15, 0)
    assert one_shot_fire("0 15 * * *", ms(2026, 3, 2, 9, 0), "00000000", cfg, UTC) == at - 30_000
    assert one_shot_fire("0 15 * * *", ms(2026, 3, 2, 9, 0), "80000000", cfg, UTC) == at - 60_000


@pytest.mark.parametrize(
    ("minute", "mod", "early"),
    [(45, 15, True), (30, 60, False), (0, 60, True), (10, 30, False), (10, 1, True)],
)
def test_one_shot_minute_mod_decides_which_minutes_come_early(minute: int, mod: int, early: bool) -> None:
    cfg = JitterConfig(oneShotMinuteMod=mod)
    at = ms(2026, 3, 2, 14, minute)
    fire = one_shot_fire(f"{minute} 14 * * *", ms(2026, 3, 2, 9, 0), "80000000", cfg, UTC)
    assert fire == (at - 45_000 if early else at)


def test_one_shot_minute_check_uses_local_time() -> None:
    # Kathmandu is UTC+5:45: local 14:30 is 08:45 UTC, so only the local minute is divisible by 30.
    ktm = ZoneInfo("Asia/Kathmandu")
    fire = one_shot_fire("30 14 * * *", ms(2026, 3, 2, 9, 0, tz=ktm), "80000000", DEFAULTS, ktm)
    assert fire == ms(2026, 3, 2, 14, 30, tz=ktm) - 45_000


# --- expiry ----------------------------------------------------------------------------------------


def _task(recurring: bool = True, permanent: bool = False, created: int = 0) -> CronTask:
    fields = {"recurring": recurring, "permanent": permanent}
    return CronTask(id="80000000", cron="* * * * *", prompt="p", createdAt=created, **fields)


def test_recurring_task_is_aged_from_exactly_its_max_age() -> None:
    task = _task(created=1_000)
    assert not is_aged(task, 1_000 + 7 * DAY - 1, DEFAULTS)
    assert is_aged(task, 1_000 + 7 * DAY, DEFAULTS)


def test_permanent_and_one_shot_tasks_never_age() -> None:
    assert not is_aged(_task(permanent=True), 365 * DAY, DEFAULTS)
    assert not is_aged(_task(recurring=False), 365 * DAY, DEFAULTS)


def test_custom_max_age_is_used() -> None:
    cfg = JitterConfig(recurringMaxAgeMs=HOUR)
    assert is_aged(_task(), HOUR, cfg)
    assert not is_aged(_task(), HOUR - 1, cfg)


# --- config ----------------------------------------------------------------------------------------


def test_missing_config_gives_defaults_without_warning() -> None:
    cfg, warning = load_jitter_config(None)
    assert cfg == JitterConfig() and warning is None
    assert (cfg.recurringFrac, cfg.recurringCapMs, cfg.oneShotMaxMs) == (0.1, 900_000, 90_000)
    assert (cfg.oneShotFloorMs, cfg.oneShotMinuteMod, cfg.recurringMaxAgeMs) == (0, 30, 604_800_000)


def test_valid_config_is_used_and_unknown_keys_are_ignored() -> None:
    raw = {"recurringFrac": 0.2, "recurringCapMs": 60_000, "oneShotMinuteMod": 15, "futureKnob": 1}
    cfg, warning = load_jitter_config(raw)
    assert warning is None
    assert (cfg.recurringFrac, cfg.recurringCapMs, cfg.oneShotMinuteMod) == (0.2, 60_000, 15)
    assert cfg.oneShotMaxMs == 90_000


def test_integer_fraction_is_accepted() -> None:
    cfg, warning = load_jitter_config({"recurringFrac": 1})
    assert warning is None and cfg.recurringFrac == 1.0


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"recurringFrac": 1.5}, "recurringFrac"),
        ({"recurringFrac": -0.1}, "recurringFrac"),
        ({"recurringFrac": "0.1"}, "recurringFrac"),
        ({"recurringFrac": None}, "recurringFrac"),
        ({"recurringCapMs": 30 * MIN + 1}, "recurringCapMs"),
        ({"recurringCapMs": 1.5}, "recurringCapMs"),
        ({"oneShotMaxMs": -1}, "oneShotMaxMs"),
        ({"oneShotMaxMs": True}, "oneShotMaxMs"),
        ({"oneShotFloorMs": 31 * MIN}, "oneShotFloorMs"),
        ({"oneShotFloorMs": 60_000, "oneShotMaxMs": 30_000}, "oneShotFloorMs"),
        ({"oneShotMinuteMod": 0}, "oneShotMinuteMod"),
        ({"oneShotMinuteMod": 61}, "oneShotMinuteMod"),
        ({"recurringMaxAgeMs": 30 * DAY + 1}, "recurringMaxAgeMs"),
        ({"recurringMaxAgeMs": -1}, "recurringMaxAgeMs"),
    ],
)
def test_invalid_config_falls_back_whole_to_defaults_with_a_warning(bad: dict, named: str) -> None:
    # A valid key next to the bad one must not survive: the fallback is all or nothing.
    raw = bad if "recurringCapMs" in bad else {"recurringCapMs": 1_000, **bad}
    cfg, warning = load_jitter_config(raw)
    assert cfg == JitterConfig()
    assert warning is not None and named in warning and "defaults" in warning


@pytest.mark.parametrize("raw", [[1, 2], "fast", 3, True])
def test_config_that_is_not_an_object_falls_back_with_a_warning(raw: object) -> None:
    cfg, warning = load_jitter_config(raw)
    assert cfg == JitterConfig()
    assert warning is not None and "must be an object" in warning


# --- time helpers ----------------------------------------------------------------------------------


def test_millisecond_conversions_round_trip_exactly() -> None:
    ny = ZoneInfo("America/New_York")
    for value in (0, 1_772_461_234_567, 1_793_512_800_000 + 1):  # the last is inside a DST fold
        dt = ms_to_datetime(value, ny)
        assert dt.tzinfo is ny and datetime_to_ms(dt) == value
