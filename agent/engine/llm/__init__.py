"""The model client: the only package that imports the Anthropic SDK.

`client`    LLM: the connection to one model, `stream_message()` and the retries around it
`stream`    one streamed attempt: events relayed as they arrive, the finished message as `LLMResponse`
`request`   the request body with its prompt-caching breakpoints (pure)
`failures`  what an SDK failure means: a mid-stream retry, or which `LLMError`, with a message to act on
`errors`    the `LLMError` family callers catch (pure)
`endpoint`  the base URL, the credential checked before use, the HTTP client with the prepared TLS context
`models`    model names and aliases, prices, context windows (pure)

The re-exports below are eager on purpose: importing this package (or any module of it) loads the SDK,
so the chat's worker thread that imports `LLMError` to make the model client pays for it before the
first prompt, not the first request.
"""

from __future__ import annotations

from agent.engine.events import Usage
from agent.engine.llm.client import DEFAULT_MAX_TOKENS, LLM
from agent.engine.llm.errors import (
    ConnectionFailedError,
    InvalidCredentialsError,
    InvalidRequestError,
    LLMError,
    MissingCredentialsError,
    ModelNotFoundError,
    OverloadedError,
    PermissionDeniedError,
    PromptTooLongError,
    RateLimitedError,
    ServerError,
)
from agent.engine.llm.models import (
    DEFAULT_CONTEXT_WINDOW,
    DEFAULT_MODEL,
    PRICES,
    Price,
    context_window_for,
    cost_usd,
    price_for,
    resolve_model,
)
from agent.engine.llm.stream import LLMResponse

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "LLM",
    "PRICES",
    "ConnectionFailedError",
    "InvalidCredentialsError",
    "InvalidRequestError",
    "LLMError",
    "LLMResponse",
    "MissingCredentialsError",
    "ModelNotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "Price",
    "PromptTooLongError",
    "RateLimitedError",
    "ServerError",
    "Usage",
    "context_window_for",
    "cost_usd",
    "price_for",
    "resolve_model",
]
