"""Claude Code's `-p` result object (`--output-format json`, and the last line of `stream-json`).

Field names, JSON types and the values scripts branch on follow what Claude Code 2.1.328 printed
(`tests/data/claude_code/`, recorded): an API failure (401, connection refused) is `"subtype":
"success"` with `"is_error": true`, `api_error_status` and `terminal_reason: "api_error"`; max turns is
`error_max_turns` with an `errors` list and no `result`; `num_turns` counts model requests, plus the one
the limit or the failure stopped; `total_cost_usd` and `modelUsage` add up over the whole session,
across `--resume`, while `usage` is this turn's. Fields of Claude Code's own features that we do not
have (fast mode, subagents, safety stops) are present with the values that say "none".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from agent.engine.events import Usage

SUCCESS, MAX_TURNS, DURING_EXECUTION = "success", "error_max_turns", "error_during_execution"
MAX_BUDGET = "error_max_budget_usd"  # --max-budget-usd reached (Claude Code's subtype)
# The API's error types by HTTP status (as its error bodies name them).
API_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                   404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                   500: "api_error", 529: "overloaded_error"}
_NO_SUBAGENTS: dict[str, Any] = {
    "spawned": 0, "requested": {"background": 0, "foreground": 0, "unset": 0}, "started_in_background": 0,
    "max_depth": 0, "spawned_by_subagents": 0, "completed": 0, "failed": 0,
    "killed": {"parent": 0, "user": 0, "system": 0},
    "refused": {"depth_limit": 0, "concurrency_limit": 0, "budget": 0}, "by_type": {},
}
FAST_MODE_OFF = {"fast_mode_state": "off", "fast_mode_disabled_reason": "unavailable"}


def new_uuid() -> str:
    return str(uuid.uuid4())


def api_error_type(status: int | None) -> str | None:
    return None if status is None else API_ERROR_TYPES.get(status, "api_error")


def error_word(status: int | None) -> str:
    """Claude Code's short `error` word for a failed request (api_retry lines, the error message)."""
    if status in (401, 403):
        return "authentication_failed"
    if status == 429:
        return "rate_limit"
    if status in (400, 413, 422):
        return "invalid_request"
    return "server_error" if status else "unknown"


@dataclass
class RunOutcome:
    """What one `-p` turn (or a failure before it) ended with, in the result object's terms."""

    is_error: bool
    result: str
    subtype: str = SUCCESS
    num_turns: int = 0
    duration_ms: int = 0
    duration_api_ms: int = 0
    total_cost_usd: float | None = 0.0  # this turn's; the result object reports the session's
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None
    terminal_reason: str = "completed"  # completed | max_turns | api_error | error
    api_error_status: int | None = None
    api_error: str | None = None  # "connection_failed" when the API was never reached
    errors: list[str] | None = None  # error_max_turns: what stopped the run (there is no `result` then)

    @property
    def api_failed(self) -> bool:
        return self.terminal_reason == "api_error"

    @classmethod
    def from_turn(cls, turn: Any) -> RunOutcome:
        base = {"num_turns": turn.num_requests, "duration_ms": turn.duration_ms,
                "duration_api_ms": getattr(turn, "duration_api_ms", 0), "total_cost_usd": turn.cost_usd,
                "usage": turn.usage, "stop_reason": getattr(turn, "model_stop_reason", None) or turn.stop_reason}
        if turn.stop_reason == "max_turns":
            return cls(True, "", MAX_TURNS, **{**base, "num_turns": turn.num_requests + 1},
                       terminal_reason="max_turns",
                       errors=[f"Reached maximum number of turns ({turn.num_requests})"])
        if turn.stop_reason == "max_budget":
            return cls(True, "", MAX_BUDGET, **base, terminal_reason="max_budget", errors=[turn.error or ""])
        if turn.is_error and getattr(turn, "error_kind", None):  # the model call failed
            return cls.api_failure(turn.error or turn.result_text, status=turn.error_status,
                                   unreachable=turn.error_kind == "ConnectionFailedError",
                                   **{**base, "num_turns": turn.num_requests + 1})
        if turn.is_error:  # cancelled, or an internal error
            return cls(True, turn.error or turn.result_text, DURING_EXECUTION, **base, terminal_reason="error")
        return cls(False, turn.result_text, SUCCESS, **base)

    @classmethod
    def api_failure(cls, message: str, *, status: int | None, unreachable: bool, **fields: Any) -> RunOutcome:
        fields.setdefault("num_turns", 1)
        fields["stop_reason"] = "stop_sequence"  # Claude Code answers with a synthetic message that stops so
        return cls(True, message, SUCCESS, terminal_reason="api_error", api_error_status=status,
                   api_error="connection_failed" if unreachable else None, **fields)

    @classmethod
    def failure(cls, message: str, duration_ms: int = 0) -> RunOutcome:
        """A run that failed before or outside the turn (unknown command, bad session id, ...)."""
        return cls(True, message, DURING_EXECUTION, duration_ms=duration_ms, terminal_reason="error")


def full_usage(usage: Usage) -> dict[str, Any]:
    """A turn's usage with every field Claude Code's result object carries."""
    return {**usage.to_dict(), "output_tokens_details": {"thinking_tokens": 0},
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0}, "service_tier": "standard",
            "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": usage.cache_write_tokens},
            "inference_geo": "", "iterations": [], "speed": "standard", "fallback_credit": None}


@dataclass
class ModelLimits:
    model: str
    context_window: int = 0
    max_output_tokens: int = 0


def model_usage_entry(limits: ModelLimits, usage: Usage, cost: float | None) -> dict[str, Any]:
    return {"inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens,
            "cacheReadInputTokens": usage.cache_read_tokens, "cacheCreationInputTokens": usage.cache_write_tokens,
            "webSearchRequests": 0, "costUSD": cost or 0.0, "contextWindow": limits.context_window,
            "maxOutputTokens": limits.max_output_tokens, "thinkingTokens": 0,
            "cacheCreationEphemeral5mInputTokens": usage.cache_write_tokens,
            "cacheCreationEphemeral1hInputTokens": 0, "canonicalModel": limits.model, "provider": "firstParty",
            "costBasis": "list"}


_SUMMED = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheCreationInputTokens", "webSearchRequests",
           "costUSD", "thinkingTokens", "cacheCreationEphemeral5mInputTokens", "cacheCreationEphemeral1hInputTokens")


def _add_entries(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two model-usage entries of one model: counts added, limits and names kept."""
    return {k: (a.get(k, 0) + v if k in _SUMMED else v) for k, v in b.items()}


@dataclass
class SessionTotals:
    """What the session spent so far (restored on `--resume`), and how many results it wrote."""

    cost_usd: float = 0.0
    model_usage: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: int = 0

    def saved(self) -> dict[str, dict[str, Any]]:
        """The counts worth keeping in the transcript (limits and names are known again on resume)."""
        return {model: {k: entry[k] for k in _SUMMED if entry.get(k)} for model, entry in self.model_usage.items()}

    def restore(self, cost_usd: float, saved: dict[str, Any]) -> None:
        """The session's spend before a `--resume`, from `saved()`."""
        self.cost_usd = cost_usd
        for model, counts in saved.items():
            if isinstance(counts, dict):
                entry = model_usage_entry(ModelLimits(str(model)), Usage(), 0.0)
                self.model_usage[str(model)] = {k: (counts.get(k, 0) if k in _SUMMED else v) for k, v in entry.items()}

    def add(self, outcome: RunOutcome, limits: ModelLimits | None) -> dict[str, dict[str, Any]]:
        """Count one turn in; returns that turn's own model usage."""
        self.cost_usd += outcome.total_cost_usd or 0.0
        if limits is None or not (outcome.usage.input_tokens or outcome.usage.output_tokens):
            return {}
        turn = {limits.model: model_usage_entry(limits, outcome.usage, outcome.total_cost_usd)}
        self.model_usage[limits.model] = _add_entries(self.model_usage.get(limits.model, {}), turn[limits.model])
        return turn


def result_message(session_id: str, outcome: RunOutcome, denials: list[dict[str, Any]], *,
                   totals: SessionTotals, turn_model_usage: dict[str, Any], streaming: bool) -> dict[str, Any]:
    """The result object, in Claude Code's field order. `totals` already counts this turn."""
    out: dict[str, Any] = {
        "duration_api_ms": outcome.duration_api_ms, "stop_reason": outcome.stop_reason, "session_id": session_id,
        "total_cost_usd": totals.cost_usd, "usage": full_usage(outcome.usage),
        "modelUsage": totals.model_usage, "permission_denials": denials,
        "terminal_reason": outcome.terminal_reason, **FAST_MODE_OFF, "subagent_stats": _NO_SUBAGENTS,
        "safety_stops": 0, "is_error": outcome.is_error, "num_turns": outcome.num_turns,
        "subtype": outcome.subtype,
    }
    if outcome.errors is not None:
        out["errors"] = outcome.errors
    else:
        out["api_error_status"] = outcome.api_error_status
        if outcome.api_error:
            out["api_error"] = outcome.api_error
        elif outcome.api_error_status is not None:
            out["api_error_type"] = api_error_type(outcome.api_error_status)
        out["result"] = outcome.result
    if outcome.terminal_reason == "completed":
        # Claude Code times the first token; our client does not, so the API time stands in for all four.
        out.update(ttft_ms=outcome.duration_api_ms, ttft_stream_ms=outcome.duration_api_ms,
                   time_to_request_ms=0, first_content_frame_ms=outcome.duration_api_ms)
    out.update(type="result", duration_ms=outcome.duration_ms, uuid=new_uuid(), queued_turn_count=0,
               result_index=totals.results - 1)
    if streaming:
        out["model_usage_since_last_result"] = turn_model_usage
    return out


__all__ = ["DURING_EXECUTION", "MAX_TURNS", "SUCCESS", "ModelLimits", "RunOutcome", "SessionTotals",
           "api_error_type", "error_word", "full_usage", "result_message"]
