"""Policy for unattended runs, as pure functions: retries, the circuit breaker, budgets, catch-up.

Settings give the defaults (`cron.retry`, `cron.breaker`, `cron.dailyTokenBudget`, ...); a task's extra
fields in `.claude/scheduled_tasks.json` (`retry`, `breaker`, `maxTurns`, `maxTokensPerRun`, `catchUp`)
win over them. Everything here is a function of its inputs, the current time and any randomness
included, so the shell (the daemon, the chat) decides nothing on its own and tests need no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CATCH_UP_MODES",
    "FAILED_STATUSES",
    "OPEN_STATUSES",
    "RUN_STATUSES",
    "TRANSIENT_ERRORS",
    "Budget",
    "RunPolicy",
    "breaker_should_open",
    "budget_block_reason",
    "catch_up_due",
    "failures_after_run",
    "is_transient",
    "max_concurrent_runs",
    "prompt_cache_ttl",
    "resolve_policy",
    "retry_delay_s",
    "run_status",
    "should_retry",
    "start_deadline_ms",
]

RUN_STATUSES = ("queued", "running", "ok", "error", "timeout", "denied", "skipped", "interrupted", "no-answer",
                "paused")
# What counts towards the breaker: a run that could not do its job. Skipped, paused and interrupted
# runs are not the task's fault; a run stopped at its time limit is.
FAILED_STATUSES = frozenset({"error", "timeout", "denied", "no-answer"})
OPEN_STATUSES = frozenset({"queued", "running"})  # a record not closed yet (or left open by a crash)
# Failures worth another try in the same slot (names of agent.engine.llm errors, after the SDK's own
# retries): the endpoint was busy or unreachable, not wrong.
TRANSIENT_ERRORS = frozenset({"RateLimitedError", "OverloadedError", "ServerError", "ConnectionFailedError"})
CATCH_UP_MODES = ("latest", "skip")

DEFAULT_ATTEMPTS = 2
DEFAULT_BACKOFF_S = 10.0
DEFAULT_BREAKER_FAILURES = 3
MAX_BACKOFF_S = 3600.0
DEFAULT_RUN_TIMEOUT_S = 1800.0
DEFAULT_MAX_CONCURRENT_RUNS = 4
MAX_START_DEADLINE_MS = 3_600_000  # the default starting deadline (the task's interval) is capped at an hour


@dataclass(frozen=True)
class Budget:
    """Daily limits over all scheduled runs of a project (None: no limit)."""

    daily_tokens: int | None = None
    daily_cost_usd: float | None = None


@dataclass(frozen=True)
class RunPolicy:
    """Everything that governs one task's runs, settings and task fields merged."""

    retry_attempts: int = DEFAULT_ATTEMPTS
    backoff_s: float = DEFAULT_BACKOFF_S
    breaker_failures: int = DEFAULT_BREAKER_FAILURES  # 0: never pause
    max_turns: int | None = None
    max_tokens_per_run: int | None = None
    catch_up: str = "latest"
    budget: Budget = Budget()
    timeout_s: float = DEFAULT_RUN_TIMEOUT_S  # wall clock of one run, all attempts and waits included
    starting_deadline_s: float | None = None  # None: the task's interval, at most an hour


def _int(value: Any, default: int | None, *, minimum: int = 0) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        return default
    return int(value)


def _num(value: Any, default: float | None, *, minimum: float = 0.0) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        return default
    return float(value)


def _section(source: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = source.get(key)
    return value if isinstance(value, Mapping) else {}


def resolve_policy(cron_settings: Any, task_fields: Mapping[str, Any] | None = None) -> RunPolicy:
    """Merge `cron` settings with a task's extra fields (task wins). Bad values fall back to defaults,
    so a typo in a settings file never stops the daemon."""
    cfg = cron_settings if isinstance(cron_settings, Mapping) else {}
    task = task_fields or {}
    retry = {**_section(cfg, "retry"), **_section(task, "retry")}
    breaker = {**_section(cfg, "breaker"), **_section(task, "breaker")}
    catch_up = task.get("catchUp", cfg.get("catchUp"))
    return RunPolicy(
        retry_attempts=_int(retry.get("attempts"), DEFAULT_ATTEMPTS) or 0,
        backoff_s=_num(retry.get("backoffS"), DEFAULT_BACKOFF_S) or 0.0,
        breaker_failures=_int(breaker.get("failures"), DEFAULT_BREAKER_FAILURES) or 0,
        max_turns=_int(task.get("maxTurns"), None, minimum=1),
        max_tokens_per_run=_int(task.get("maxTokensPerRun"), None, minimum=1),
        catch_up=catch_up if catch_up in CATCH_UP_MODES else "latest",
        budget=Budget(_int(cfg.get("dailyTokenBudget"), None, minimum=1),
                      _num(cfg.get("dailyCostBudgetUsd"), None, minimum=0.0)),
        timeout_s=_num(task.get("timeoutS"), None, minimum=0.001)
        or _num(cfg.get("runTimeoutS"), DEFAULT_RUN_TIMEOUT_S, minimum=0.001) or DEFAULT_RUN_TIMEOUT_S,
        starting_deadline_s=_num(task.get("startingDeadlineS", cfg.get("startingDeadlineS")), None, minimum=0.0),
    )


def max_concurrent_runs(cron_settings: Any) -> int:
    """`cron.maxConcurrentRuns`: how many different tasks the daemon runs at once (default 4)."""
    cfg = cron_settings if isinstance(cron_settings, Mapping) else {}
    return _int(cfg.get("maxConcurrentRuns"), DEFAULT_MAX_CONCURRENT_RUNS, minimum=1) or DEFAULT_MAX_CONCURRENT_RUNS


def start_deadline_ms(policy: RunPolicy, interval_ms: int | None) -> int:
    """How late after its fire a run may still start: `startingDeadlineS` when set, else the task's
    interval capped at an hour (a one-shot, with no interval, gets the hour)."""
    if policy.starting_deadline_s is not None:
        return int(policy.starting_deadline_s * 1000)
    if interval_ms is None or interval_ms <= 0:
        return MAX_START_DEADLINE_MS
    return min(interval_ms, MAX_START_DEADLINE_MS)


def is_transient(error_kind: str | None) -> bool:
    return error_kind in TRANSIENT_ERRORS


def retry_delay_s(attempt: int, backoff_s: float, rand: float) -> float:
    """Wait before retry number `attempt` (1-based): exponential, with "equal jitter" from `rand` in
    [0, 1) so that many tasks failing together do not come back together."""
    base = min(MAX_BACKOFF_S, backoff_s * 2 ** max(0, attempt - 1))
    return base / 2 + base / 2 * rand


def should_retry(attempt: int, error_kind: str | None, policy: RunPolicy, *, now_ms: int, delay_s: float,
                 slot_end_ms: int | None) -> bool:
    """Retry number `attempt` runs only for a transient failure, within the attempts allowed, and only
    if it starts before the task's next slot (a retry must never collide with the next fire)."""
    if attempt > policy.retry_attempts or not is_transient(error_kind):
        return False
    return slot_end_ms is None or now_ms + delay_s * 1000 < slot_end_ms


def breaker_should_open(consecutive_failures: int, policy: RunPolicy) -> bool:
    return policy.breaker_failures > 0 and consecutive_failures >= policy.breaker_failures


def budget_block_reason(tokens_today: int, cost_today: float, budget: Budget) -> str | None:
    """Why a scheduled run may not start now (the day's budget is spent), or None."""
    if budget.daily_tokens is not None and tokens_today >= budget.daily_tokens:
        return f"daily token budget spent ({tokens_today:,} of {budget.daily_tokens:,} tokens)"
    if budget.daily_cost_usd is not None and cost_today >= budget.daily_cost_usd:
        return f"daily cost budget spent (${cost_today:.2f} of ${budget.daily_cost_usd:.2f})"
    return None


def catch_up_due(due_ms: int, started_ms: int, mode: str, next_after_start_ms: int | None,
                 latest_missed_ms: int | None = None) -> int | None:
    """The due time to use for a recurring task whose slot may have passed while nothing ran.

    `latest`: one run, due at the most recent missed slot (`latest_missed_ms`, else the first missed
    one; it may lie a little ahead when only that slot's jitter is still to come). `skip`: a slot that
    passed before this process started (or came back from a pause) is not run; the task waits for its
    first slot after that."""
    if due_ms >= started_ms:
        return due_ms
    if mode == "skip":
        return next_after_start_ms
    return latest_missed_ms if latest_missed_ms is not None and latest_missed_ms >= due_ms else due_ms


PROMPT_CACHE_MS = 5 * 60_000  # the API's default cache lifetime
LONG_PROMPT_CACHE_MS = 60 * 60_000  # the "1h" breakpoint lifetime


def prompt_cache_ttl(intervals_ms: Iterable[int | None]) -> str | None:
    """"1h" when a recurring task fires more often than hourly but less often than the 5-minute cache
    lives: each fire would otherwise find the cache gone and write the whole conversation again (1.25x),
    where a 1-hour breakpoint is written once (2x) and then read (0.1x). A task every 5 minutes or
    faster keeps the 5-minute cache warm by itself; None then (the default lifetime)."""
    return "1h" if any(i is not None and PROMPT_CACHE_MS < i < LONG_PROMPT_CACHE_MS for i in intervals_ms) else None


def run_status(*, is_error: bool, cancelled: bool, denials: int, result_text: str, unanswered: int = 0) -> str:
    """How a finished run is recorded. `ok` needs evidence: an answer, and no permission denied.
    `unanswered` of the denials were questions nobody answered: the run is `no-answer`, not `denied`."""
    if cancelled:
        return "interrupted"
    if is_error:
        return "error"
    if unanswered:
        return "no-answer"
    if denials:
        return "denied"
    return "ok" if result_text.strip() else "no-answer"


def failures_after_run(consecutive: int, status: str) -> int:
    """The breaker's count after a run: failed runs add one, a good run resets it, others leave it."""
    if status in FAILED_STATUSES:
        return consecutive + 1
    return 0 if status == "ok" else consecutive
