from __future__ import annotations

import pytest

from agent.cron.expr import parse_cron
from agent.cron.loop_spec import DEFAULT_LOOP_CRON, LoopError, LoopSpec, parse_loop, slot_taken_by_first_run

MONTH_NOTE = "restarts on the 1st of each month"

# (input, cron, prompt, a fragment of the note or None for no note)
CASES: list[tuple[str, str, str, str | None]] = [
    # leading intervals, exact
    ("5m /check-tests", "*/5 * * * *", "/check-tests", None),
    ("1m ping", "* * * * *", "ping", None),
    ("15min check queue", "*/15 * * * *", "check queue", None),
    ("30 minutes tidy", "*/30 * * * *", "tidy", None),
    ("60m hourly thing", "0 * * * *", "hourly thing", None),
    ("2h check deploy", "0 */2 * * *", "check deploy", None),
    ("1 hour x", "0 * * * *", "x", None),
    ("12hrs y", "0 */12 * * *", "y", None),
    ("24h z", "0 0 * * *", "z", None),
    ("1d backup", "0 0 * * *", "backup", None),
    ("1w report", "0 0 * * 1", "report", None),
    ("120s two minutes", "*/2 * * * *", "two minutes", None),
    ("every 5m lint", "*/5 * * * *", "lint", None),
    ("every hour sync", "0 * * * *", "sync", None),
    ("+5m plus sign", "*/5 * * * *", "plus sign", None),
    ("5M shout", "*/5 * * * *", "shout", None),
    # rounding
    ("30s ping", "* * * * *", "ping", "30s was rounded up to 1m"),
    ("45 sec x", "* * * * *", "x", "45s was rounded up to 1m"),
    ("90s x", "*/2 * * * *", "x", "90s was rounded up to 2m"),
    ("420 seconds x", "*/6 * * * *", "x", "7m does not divide an hour; running every 6 minutes"),
    ("7m x", "*/6 * * * *", "x", "7m does not divide an hour; running every 6 minutes"),
    ("8m x", "*/10 * * * *", "x", "8m does not divide an hour; running every 10 minutes"),  # tie: longer
    ("9m x", "*/10 * * * *", "x", "running every 10 minutes"),
    ("22m x", "*/20 * * * *", "x", "running every 20 minutes"),
    ("25m x", "*/30 * * * *", "x", "running every 30 minutes"),  # tie: longer
    ("45m x", "0 * * * *", "x", "45m does not divide an hour; running every hour"),  # tie: longer
    ("90m x", "0 */2 * * *", "x", "90m does not divide an hour; running every 2 hours"),
    ("150m x", "0 */3 * * *", "x", "running every 3 hours"),
    ("5h x", "0 */6 * * *", "x", "5h does not divide a day; running every 6 hours"),  # tie: longer
    ("7h x", "0 */8 * * *", "x", "7h does not divide a day; running every 8 hours"),  # tie: longer
    ("11h x", "0 */12 * * *", "x", "running every 12 hours"),
    ("10h x", "0 */12 * * *", "x", "running every 12 hours"),  # tie 8/12: longer
    ("36h x", "0 0 */2 * *", "x", "36h does not divide a day; running every 2 days"),
    ("3d x", "0 0 */3 * *", "x", MONTH_NOTE),
    ("6 days x", "0 0 */6 * *", "x", MONTH_NOTE),
    ("7d weekly", "0 0 * * 1", "weekly", None),
    # trailing intervals
    ("check the deploy every 20m", "*/20 * * * *", "check the deploy", None),
    ("check the deploy every 2 hours", "0 */2 * * *", "check the deploy", None),
    ("look at CI every hour.", "0 * * * *", "look at CI", None),
    ("summarise logs every day", "0 0 * * *", "summarise logs", None),
    ("poll every 7 minutes", "*/6 * * * *", "poll", "7m does not divide an hour"),
    ("Poll Every 30 Seconds", "* * * * *", "Poll", "30s was rounded up"),
    # leading cron expression, taken as is
    ("*/5 9-17 * * 1-5 run tests", "*/5 9-17 * * 1-5", "run tests", None),
    ("0  9 * * 1\tweekly review", "0 9 * * 1", "weekly review", None),
    ("30 14 1 1 * new year standup", "30 14 1 1 *", "new year standup", None),
    # no interval: every 10 minutes
    ("check the build", DEFAULT_LOOP_CRON, "check the build", None),
    ("5 things to check", DEFAULT_LOOP_CRON, "5 things to check", None),
    ("minutes of the meeting", DEFAULT_LOOP_CRON, "minutes of the meeting", None),
    ("m check", DEFAULT_LOOP_CRON, "m check", None),
    ("  padded prompt  ", DEFAULT_LOOP_CRON, "padded prompt", None),
    ("5m line one\nline two", "*/5 * * * *", "line one\nline two", None),
]


@pytest.mark.parametrize(("text", "cron", "prompt", "note"), CASES, ids=[c[0] for c in CASES])
def test_parse_loop_turns_arguments_into_cron_prompt_and_note(
    text: str, cron: str, prompt: str, note: str | None
) -> None:
    spec = parse_loop(text)
    assert (spec.cron, spec.prompt) == (cron, prompt)
    if note is None:
        assert spec.note is None
    else:
        assert spec.note is not None and note in spec.note
    parse_cron(spec.cron)  # every result is a valid expression


def test_90m_note_reads_exactly_as_documented() -> None:
    assert parse_loop("90m check") == LoopSpec(
        "0 */2 * * *", "check", "90m does not divide an hour; running every 2 hours"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Usage: /loop"),
        ("   ", "Usage: /loop"),
        ("5m", "Nothing to run"),
        ("5m   ", "Nothing to run"),
        ("every 2 hours", "Nothing to run"),
        ("*/5 * * * *", "Nothing to run"),
        ("0m x", "at least 1"),
        ("0s x", "at least 1"),
        ("-5m x", "cannot be negative"),
        ("x every -2h", "cannot be negative"),
        ("500d x", "too long"),
        ("8d x", "too long"),
        ("2w x", "too long"),
        ("169h x", "too long"),
        ("99999999999999m x", "too long"),
    ],
)
def test_parse_loop_rejects_unusable_arguments_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(LoopError, match=message):
        parse_loop(text)


def test_loop_error_is_a_value_error() -> None:
    assert issubclass(LoopError, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 9 * * 8 check", "day-of-week: 8 is out of range 0-7"),
        ("61 * * * * check", "minute: 61 is out of range 0-59"),
        ("0 9 32 * * check", "day-of-month: 32 is out of range 1-31"),
        ("0 9 * * MON-FRI check", "day-of-week: range start 'MON' is not a number"),
        ("*/5 * check", "needs 5 fields .* '\\*/5 \\*' has 2"),
        ("5x check", "Unknown interval unit 'x' in '5x': use s \\(seconds\\), m \\(minutes\\), h \\(hours\\)"),
        ("every 5x check", "Unknown interval unit 'x'"),
        ("0 9 * * check", "needs 5 fields .* has 4"),
        ("2fa check", "give the interval first: /loop 10m 2fa"),
    ],
)
def test_loop_never_guesses_a_schedule_from_a_malformed_interval(text: str, message: str) -> None:
    with pytest.raises(LoopError, match=message) as caught:
        parse_loop(text)
    assert "Nothing was scheduled" in str(caught.value)


@pytest.mark.parametrize("text", ["1st check the logs", "3rd party audit", "5 things to check", "check 5x"])
def test_prompts_that_only_start_like_an_interval_keep_the_default(text: str) -> None:
    assert parse_loop(text) == LoopSpec(DEFAULT_LOOP_CRON, text, defaulted=True)


def test_only_the_default_interval_is_marked_defaulted() -> None:
    assert parse_loop("check the build").defaulted
    assert not parse_loop("5m check the build").defaulted
    assert not parse_loop("check the build every 5m").defaulted
    assert not parse_loop("*/5 * * * * check the build").defaulted


# ------------------------------------------------------------------ calendar words (agent.cron.loop_calendar)

CALENDAR: list[tuple[str, str, str]] = [
    ("check daily at 9am", "0 9 * * *", "check"),
    ("daily at 9am check", "0 9 * * *", "check"),
    ("every tuesday at 9 x", "0 9 * * 2", "x"),
    ("x every tuesday at 9", "0 9 * * 2", "x"),
    ("every Tuesday at 9am: review the PRs", "0 9 * * 2", "review the PRs"),
    ("every day at 9:30 standup", "30 9 * * *", "standup"),
    ("each day at 6pm wrap up", "0 18 * * *", "wrap up"),
    ("weekdays at 18:30 standup", "30 18 * * 1-5", "standup"),
    ("every weekday at 8am build", "0 8 * * 1-5", "build"),
    ("tidy on weekends at noon", "0 12 * * 0,6", "tidy"),
    ("check CI on mondays and thursdays at 9:15am", "15 9 * * 1,4", "check CI"),
    ("every monday, wednesday and friday at noon review", "0 12 * * 1,3,5", "review"),
    ("report at 9pm every day", "0 21 * * *", "report"),
    ("9am daily check", "0 9 * * *", "check"),
    ("backup every sunday at midnight", "0 0 * * 0", "backup"),
    ("every fri at 5 p.m. weekly notes", "0 17 * * 5", "weekly notes"),
    ("every day at 12am x", "0 0 * * *", "x"),
    ("every day at 12pm x", "0 12 * * *", "x"),
]


@pytest.mark.parametrize(("text", "cron", "prompt"), CALENDAR, ids=[c[0] for c in CALENDAR])
def test_calendar_words_become_their_cron(text: str, cron: str, prompt: str) -> None:
    spec = parse_loop(text)
    assert (spec.cron, spec.prompt, spec.defaulted) == (cron, prompt, False)
    parse_cron(spec.cron)


@pytest.mark.parametrize(("text", "message"), [
    ("every tuesday x", "'every tuesday' needs a time of day"),
    ("x every tuesday", "needs a time of day"),
    ("weekdays check", "needs a time of day"),
    ("each morning check the logs", "Could not read a schedule in 'each morning'"),
    ("check the logs every morning", "'every morning'"),
    ("nightly build check", "'nightly'"),
    ("check the build every other day", "'every other day'"),
    ("every fortnight report", "'every fortnight'"),
    ("check the logs tomorrow", "'tomorrow'"),
    ("check the build at 9pm", "'9pm'"),
    ("check the build daily at 9am and report", "'daily'"),
    ("at 25:00 daily x", "'at 25:00' is not a time of day"),
    ("13pm daily x", "with am/pm the hour is 1-12"),
    ("every 3 fortnights x", "'every 3 fortnights'"),
])
def test_schedule_words_it_cannot_read_are_refused_never_defaulted(text: str, message: str) -> None:
    with pytest.raises(LoopError, match=message) as caught:
        parse_loop(text)
    error = str(caught.value)
    assert "Nothing was scheduled" in error and "daily at 9am" in error  # says what it understands


@pytest.mark.parametrize("text", ["report every error", "look at 5 logs", "minutes of the meeting",
                                  "check what changed since tuesday", "standup notes"])
def test_prompts_without_a_schedule_still_get_the_default(text: str) -> None:
    assert parse_loop(text).defaulted


def test_daily_without_a_time_runs_at_midnight_and_says_so() -> None:
    spec = parse_loop("check daily")
    assert spec.cron == "0 0 * * *" and spec.prompt == "check" and "midnight" in (spec.note or "")


def test_61s_is_rounded_up_and_the_note_says_how() -> None:
    spec = parse_loop("61s x")
    assert spec.cron == "*/2 * * * *" and spec.note == "cron runs at most once a minute, so 61s was rounded up to 2m"


@pytest.mark.parametrize(("now", "first", "second", "taken"), [
    (110_000, 120_000, 240_000, 120_000),  # 10 s before a 2-minute slot: the run now stands in for it
    (60_000, 120_000, 240_000, None),  # 60 s before: both run (half a period apart)
    (61_000, 120_000, 240_000, 120_000),
    (0, None, None, None),  # a schedule with no two fires ahead
])
def test_the_run_at_once_stands_in_for_a_slot_less_than_half_a_period_away(now, first, second, taken) -> None:
    assert slot_taken_by_first_run(now, first, second) == taken
