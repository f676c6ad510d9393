"""`LLM`: a configured connection to one model, and the retries around its requests.

`LLM.stream_message()` sends one Messages request with streaming, reports text deltas as events while
they arrive, and returns the finished message as history-ready content blocks with its `Usage`.

Retries. The SDK retries 408/409/429/5xx/529 and connection errors itself (`max_retries`), honouring
`retry-after`. Two cases it leaves to us:
  1. a failure inside a stream that already started: an `event: error` (e.g. overloaded_error), a
     dropped or stalled connection (whichever exception the SDK version raises for it: `APIConnectionError`,
     `APITimeoutError` or a bare transport error), or a stream that ends without `message_stop` (never taken
     as a complete answer). We retry the whole request a bounded number of times; text the failed attempt
     already showed is not shown again (`ShownText`);
  2. a huge `retry-after`: SDK 2.x sleeps for whatever the server asks (`_calculate_retry_timeout` caps
     it only at ~50 days), silently. We route the SDK's retry sleep through `_sdk_retry_wait`, which caps
     the wait at `max_retry_wait_s` and announces it with a `RetryNotice`.
The sleep function is injectable so tests never wait.

What one attempt does is `stream`'s; the request body `request`'s; what a failure means `failures`'.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anthropic

from agent.engine.events import Event, RetryNotice, Usage
from agent.engine.llm.endpoint import DEFAULT_BASE_URL, http_client_option, sdk_credentials
from agent.engine.llm.errors import OverloadedError
from agent.engine.llm.failures import FailureTranslator, MidStreamFailure, retry_reason
from agent.engine.llm.models import DEFAULT_MODEL, context_window_for, cost_usd
from agent.engine.llm.request import build_request
from agent.engine.llm.stream import Emit, LLMResponse, stream_once
from agent.engine.shown_text import ShownText

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 8192
DEFAULT_MAX_RETRIES = 4  # the SDK's own retries (429, 5xx, 529, connection errors)
DEFAULT_STREAM_RETRIES = 3  # ours, for failures inside a stream that already started
MAX_RETRY_WAIT_S = 60.0

Sleep = Callable[[float], Awaitable[Any]]

# Where the SDK's retry hook finds the current request's emit callback (per asyncio task).
_current_emit: contextvars.ContextVar[Emit | None] = contextvars.ContextVar("agent_llm_emit", default=None)


class _SDKClient(anthropic.AsyncAnthropic):
    """The SDK client with its retry sleep routed through `retry_wait` (capped and announced)."""

    def __init__(self, *, retry_wait: Callable[[float, int, Any], Awaitable[None]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._agent_retry_wait = retry_wait

    async def _sleep_for_retry(self, *, retries_taken: int, max_retries: int, options: Any,
                               response: Any) -> None:
        if self._agent_retry_wait is None:
            return await super()._sleep_for_retry(retries_taken=retries_taken, max_retries=max_retries,
                                                  options=options, response=response)
        headers = response.headers if response is not None else None
        wait = self._calculate_retry_timeout(max_retries - retries_taken, options, headers)
        await self._agent_retry_wait(wait, retries_taken + 1, response)


class LLM:
    """A configured connection to one model. Build it with `LLM.from_env()` or explicit credentials."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        auth_token: str | None = None,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        context_window: int | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        stream_retries: int = DEFAULT_STREAM_RETRIES,
        max_retry_wait_s: float = MAX_RETRY_WAIT_S,
        timeout: float = 600.0,
        sleep: Sleep = asyncio.sleep,
        cache_messages: bool = True,
    ) -> None:
        credentials = sdk_credentials(api_key, auth_token)
        self.model = model
        self.max_tokens = max_tokens
        self.context_window = context_window_for(model, context_window)
        self.base_url = base_url or DEFAULT_BASE_URL
        self.stream_retries = stream_retries
        self.max_retry_wait_s = max_retry_wait_s
        self.cache_messages = cache_messages
        self.raw_events = False  # emit every SSE event as a StreamEvent (`--include-partial-messages`)
        self._max_retries = max_retries
        self._sleep = sleep
        self._secrets = tuple(s for s in (api_key, auth_token) if s)
        http = http_client_option(self.base_url, timeout)
        self._client = _SDKClient(retry_wait=self._sdk_retry_wait, base_url=self.base_url,
                                  max_retries=max_retries, timeout=timeout, **credentials, **http)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> LLM:
        """Credentials and endpoint from ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN / ANTHROPIC_BASE_URL."""
        env = os.environ if env is None else env
        return cls(api_key=env.get("ANTHROPIC_API_KEY") or None,
                   auth_token=env.get("ANTHROPIC_AUTH_TOKEN") or None,
                   base_url=env.get("ANTHROPIC_BASE_URL") or None, **options)

    def cost_usd(self, usage: Usage) -> float | None:
        return cost_usd(usage, self.model)

    async def aclose(self) -> None:
        await self._client.close()

    async def stream_message(
        self,
        *,
        system: str | Sequence[dict[str, Any]] | None,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] = (),
        emit: Emit | None = None,
        max_tokens: int | None = None,
        cache_ttl: str | None = None,
    ) -> LLMResponse:
        """Send one request, stream its text out through `emit`, return the finished message.
        `cache_ttl="1h"` gives every breakpoint the one-hour lifetime (see `request_params`).

        Raises an LLMError subclass when the request cannot succeed (after the retries)."""
        params = self.request_params(system, messages, tools, max_tokens, cache_ttl)
        token = _current_emit.set(emit)
        shown = ShownText(emit)
        try:
            attempt = 1
            while True:
                shown.new_attempt(attempt)
                try:
                    response = await stream_once(self._client, params, emit=emit, shown=shown,
                                                 raw_events=self.raw_events, failures=self._failures())
                    response.attempts = attempt
                    return response
                except MidStreamFailure as failure:
                    if attempt > self.stream_retries:
                        raise OverloadedError(
                            f"The response failed mid-stream ({failure.reason}) {attempt} times; "
                            "try again in a few minutes") from None
                    wait = min(2.0 ** (attempt - 1), self.max_retry_wait_s)
                    log.info("response failed mid-stream (%s); retrying in %.1f s", failure.reason, wait)
                    self._announce(RetryNotice(f"{failure.reason} mid-response", wait, attempt,
                                               max_retries=self._max_retries))
                    await self._sleep(wait)
                    attempt += 1
        finally:
            _current_emit.reset(token)

    def request_params(
        self,
        system: str | Sequence[dict[str, Any]] | None,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] = (),
        max_tokens: int | None = None,
        cache_ttl: str | None = None,
    ) -> dict[str, Any]:
        """The request body (without `stream`), with the cache breakpoints placed. With `cache_ttl="1h"`
        (a conversation with a recurring task every 5 to 60 minutes) all of them, the stable prefix and
        the conversation alike, live an hour; the API wants no 1h breakpoint after a 5m one, so they
        never mix in one request."""
        return build_request(model=self.model, max_tokens=max_tokens or self.max_tokens, system=system,
                             messages=messages, tools=tools, cache_ttl=cache_ttl,
                             cache_messages=self.cache_messages)

    def _failures(self) -> FailureTranslator:
        """The messages for this client's failures, naming its current model and endpoint."""
        return FailureTranslator(self.model, self.base_url, self._max_retries, self._secrets)

    async def _sdk_retry_wait(self, wait_s: float, attempt: int, response: Any) -> None:
        """Called by the SDK before each of its retries: cap the wait, announce it, sleep."""
        reason = retry_reason(response)
        capped = min(max(wait_s, 0.0), self.max_retry_wait_s)
        if wait_s > capped:
            reason += f"; the server asked to wait {wait_s:.0f} s, waiting {capped:.0f} s instead"
        log.info("%s; retry %d of %d in %.1f s", reason, attempt, self._max_retries, capped)
        status = getattr(response, "status_code", None)
        self._announce(RetryNotice(reason, round(capped, 3), attempt, status=status,
                                   max_retries=self._max_retries))
        await self._sleep(capped)

    def _announce(self, event: Event) -> None:
        emit = _current_emit.get()
        if emit is not None:
            emit(event)


__all__ = ["DEFAULT_MAX_RETRIES", "DEFAULT_MAX_TOKENS", "DEFAULT_STREAM_RETRIES", "LLM", "MAX_RETRY_WAIT_S", "Sleep"]
