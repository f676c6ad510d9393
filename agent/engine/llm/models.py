"""Which model, what it costs, how much it holds: names, aliases, prices and context windows.

Separate from the client because it is a table and its look-ups, not a connection: `resolve_model` and
the prices are used before (or without) any request. Pure: no SDK, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agent.engine.events import Usage

DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_CONTEXT_WINDOW = 200_000
MODEL_ALIASES = {"sonnet": "claude-sonnet-4-6", "opus": "claude-opus-4-6", "haiku": "claude-haiku-4-5"}


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, usage: Usage) -> float:
        """1-hour cache writes cost twice the input price, the others `cache_write` (1.25x)."""
        one_hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
        total = (usage.input_tokens * self.input + usage.output_tokens * self.output
                 + (usage.cache_write_tokens - one_hour) * self.cache_write + one_hour * self.input * 2
                 + usage.cache_read_tokens * self.cache_read)
        return total / 1e6


_OPUS_4 = Price(15.0, 75.0, 18.75, 1.50)
_OPUS_45 = Price(5.0, 25.0, 6.25, 0.50)
_SONNET_4 = Price(3.0, 15.0, 3.75, 0.30)
_HAIKU_45 = Price(1.0, 5.0, 1.25, 0.10)
# First match wins; matched anywhere in the id so provider prefixes ("us.anthropic.") still price.
PRICES: tuple[tuple[str, Price], ...] = (
    ("claude-opus-4-0", _OPUS_4),
    ("claude-opus-4-1", _OPUS_4),
    ("claude-opus-4-2025", _OPUS_4),
    ("claude-opus-4", _OPUS_45),
    ("claude-sonnet-4", _SONNET_4),
    ("claude-haiku-4-5", _HAIKU_45),
)
CONTEXT_WINDOWS: dict[str, int] = {}  # model prefix -> tokens, where it differs from the default


def price_for(model: str) -> Price | None:
    name = model.lower()
    return next((price for prefix, price in PRICES if prefix in name), None)


def cost_usd(usage: Usage, model: str) -> float | None:
    """What `usage` cost on `model`, or None when the model's price is unknown."""
    price = price_for(model)
    return None if price is None else price.cost(usage)


def context_window_for(model: str, override: int | None = None) -> int:
    if override:
        return override
    return next((size for prefix, size in CONTEXT_WINDOWS.items() if prefix in model), DEFAULT_CONTEXT_WINDOW)


def resolve_model(cli_value: str | None, env: Mapping[str, str], settings_model: str | None) -> str:
    """--model, then ANTHROPIC_MODEL, then settings' "model", then DEFAULT_MODEL; short aliases expand."""
    for candidate in (cli_value, env.get("ANTHROPIC_MODEL"), settings_model):
        if candidate and candidate.strip():
            name = candidate.strip()
            return MODEL_ALIASES.get(name.lower(), name)
    return DEFAULT_MODEL


__all__ = [
    "CONTEXT_WINDOWS",
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MODEL",
    "MODEL_ALIASES",
    "PRICES",
    "Price",
    "context_window_for",
    "cost_usd",
    "price_for",
    "resolve_model",
]
