"""What one turn did and spent: `TurnResult`, and the adding-up of its tokens and cost.

Separate from the loop because every face and run record reads it (the chat's footer, `agent -p`'s result
object, a scheduled run's record) without needing the loop, and because a subagent's spending is added
to its parent's turn through the same sum. A cost is None once any part of it is unknown (a model
without a price): an unknown part must not be shown as free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.engine.events import Usage


def add_costs(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


@dataclass
class TurnResult:
    result_text: str = ""
    stop_reason: str | None = None
    num_requests: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    is_error: bool = False
    error: str | None = None
    duration_ms: int = 0
    run_id: str = ""  # the id tools saw for this run (CronCreate records it as createdByRun)
    error_kind: str | None = None  # the LLMError class name, so a scheduler can tell transient failures
    duration_api_ms: int = 0  # time spent waiting for the model
    error_status: int | None = None  # the HTTP status of the model call that failed, if one did
    model_stop_reason: str | None = None  # the model's last stop_reason ("max_turns" is ours, not the model's)

    def add_spending(self, usage: Usage, cost_usd: float | None) -> None:
        """Count a model request of this turn (or a subagent's): its tokens and its cost."""
        self.usage = self.usage + usage
        self.cost_usd = add_costs(self.cost_usd, cost_usd)
