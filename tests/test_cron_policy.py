"""The pure policy of unattended runs: settings and task fields merged, retries, breaker, budgets."""

from __future__ import annotations

import pytest

from agent.cron.policy import (
    Budget,
    RunPolicy,
    breaker_should_open,
    budget_block_reason,
    catch_up_due,
    failures_after_run,
    resolve_policy,
    retry_delay_s,
    run_status,
    should_retry,
)


def test_task_fields_win_over_settings_and_settings_over_defaults():
    settings = {"retry": {"attempts": 4, "backoffS": 5}, "breaker": {"failures": 2}, "dailyTokenBudget": 1000}
    policy = resolve_policy(settings, {"retry": {"attempts": 1}, "maxTurns": 3, "catchUp": "skip"})
    assert (policy.retry_attempts, policy.backoff_s, policy.breaker_failures) == (1, 5.0, 2)
    assert policy.max_turns == 3 and policy.catch_up == "skip"
    assert policy.budget == Budget(daily_tokens=1000, daily_cost_usd=None)
    assert resolve_policy(None) == RunPolicy()


@pytest.mark.parametrize("bad", [{"retry": {"attempts": -1}}, {"retry": "x"}, {"retry": {"attempts": True}},
                                 {"breaker": {"failures": "3"}}, {"catchUp": "all"}, {"dailyTokenBudget": 0}])
def test_bad_values_fall_back_to_defaults_instead_of_failing(bad):
    policy = resolve_policy(bad)
    assert policy.retry_attempts == 2 and policy.breaker_failures == 3 and policy.catch_up == "latest"
    assert policy.budget.daily_tokens is None


def test_retry_delay_grows_exponentially_and_jitter_stays_within_half_to_full():
    assert retry_delay_s(1, 10, 0.0) == 5 and retry_delay_s(1, 10, 0.999) < 10
    assert retry_delay_s(3, 10, 0.0) == 20
    assert retry_delay_s(40, 10, 0.0) == 1800  # capped at an hour


def test_only_transient_failures_are_retried_within_attempts_and_before_the_next_slot():
    policy = RunPolicy(retry_attempts=2)
    ok = dict(now_ms=0, delay_s=10, slot_end_ms=60_000)
    assert should_retry(1, "OverloadedError", policy, **ok)
    assert should_retry(2, "ConnectionFailedError", policy, **ok)
    assert not should_retry(3, "OverloadedError", policy, **ok)
    assert not should_retry(1, "InvalidCredentialsError", policy, **ok)
    assert not should_retry(1, None, policy, **ok)
    assert not should_retry(1, "ServerError", policy, now_ms=55_000, delay_s=10, slot_end_ms=60_000)


def test_breaker_opens_at_k_consecutive_failures_and_zero_means_never():
    assert not breaker_should_open(2, RunPolicy(breaker_failures=3))
    assert breaker_should_open(3, RunPolicy(breaker_failures=3))
    assert not breaker_should_open(100, RunPolicy(breaker_failures=0))


def test_failed_runs_count_ok_resets_and_skipped_or_interrupted_leave_the_count():
    assert failures_after_run(1, "error") == 2 and failures_after_run(1, "denied") == 2
    assert failures_after_run(1, "no-answer") == 2
    assert failures_after_run(2, "ok") == 0
    for status in ("skipped", "paused", "interrupted"):
        assert failures_after_run(2, status) == 2


def test_run_status_needs_an_answer_for_ok_and_denials_count_as_denied():
    assert run_status(is_error=False, cancelled=False, denials=0, result_text="done") == "ok"
    assert run_status(is_error=False, cancelled=False, denials=0, result_text="  ") == "no-answer"
    assert run_status(is_error=False, cancelled=False, denials=2, result_text="x", unanswered=1) == "no-answer"
    assert run_status(is_error=False, cancelled=False, denials=2, result_text="x") == "denied"
    assert run_status(is_error=False, cancelled=False, denials=1, result_text="could not") == "denied"
    assert run_status(is_error=True, cancelled=False, denials=1, result_text="x") == "error"
    assert run_status(is_error=True, cancelled=True, denials=0, result_text="") == "interrupted"


def test_daily_budget_blocks_at_the_limit_with_a_reason_naming_it():
    assert budget_block_reason(999, 0, Budget(daily_tokens=1000)) is None
    assert "token budget" in budget_block_reason(1000, 0, Budget(daily_tokens=1000))
    assert "$5.00" in budget_block_reason(0, 5.0, Budget(daily_cost_usd=5.0))
    assert budget_block_reason(10**9, 10**9, Budget()) is None


def test_catch_up_skip_moves_a_slot_missed_before_start_to_the_next_one_latest_keeps_it():
    assert catch_up_due(100, 500, "latest", 900) == 100
    assert catch_up_due(100, 500, "skip", 900) == 900
    assert catch_up_due(600, 500, "skip", 900) == 600  # due after start: not a missed slot
