"""The model client: the only module that imports the Anthropic SDK.

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

Prompt caching: `cache_control` breakpoints on the last system block, the last tool and the last block
of the last user message (3 of the API's 4), so the stable prefix and the conversation so far are cached.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anthropic
import httpx2

from agent.engine.credentials import credential_problem
from agent.engine.events import Event, RetryNotice, StreamEvent, Usage
from agent.engine.shown_text import ShownText
from agent.jsonfile import replace_lone_surrogates

log = logging.getLogger(__name__)

DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_TOKENS = 8192
DEFAULT_CONTEXT_WINDOW = 200_000
DEFAULT_MAX_RETRIES = 4  # the SDK's own retries (429, 5xx, 529, connection errors)
DEFAULT_STREAM_RETRIES = 3  # ours, for failures inside a stream that already started
MAX_RETRY_WAIT_S = 60.0
DEFAULT_BASE_URL = "https://api.anthropic.com"
EPHEMERAL = {"type": "ephemeral"}
CACHE_TTLS = ("5m", "1h")  # the API's breakpoint lifetimes; 1h needs no beta header with this SDK (GA `ttl`)


def cache_control(ttl: str | None) -> dict[str, str]:
    """A breakpoint: the default 5 minutes, or `{"type": "ephemeral", "ttl": "1h"}`."""
    return {**EPHEMERAL, "ttl": ttl} if ttl == "1h" else EPHEMERAL
AUTH_HINT = "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) to a valid key"
MODEL_ALIASES = {"sonnet": "claude-sonnet-4-6", "opus": "claude-opus-4-6", "haiku": "claude-haiku-4-5"}
RETRYABLE_STREAM_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
RAW_STREAM_EVENTS = frozenset({"message_start", "message_delta", "message_stop", "content_block_start",
                               "content_block_delta", "content_block_stop"})
SDK_EXTRAS = ("content_block", "message", "snapshot")  # fields the SDK adds to *_stop events, not on the wire

Emit = Callable[[Event], None]
Sleep = Callable[[float], Awaitable[Any]]


# ---------------------------------------------------------------------------------------- errors


class LLMError(Exception):
    """A model request failed; `message` is for the user and says what to do. Never holds the key."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class MissingCredentialsError(LLMError):
    """No API key or auth token: found before any request is made."""


class MalformedCredentialsError(MissingCredentialsError):
    """The key or token cannot be a credential (a trailing `\\r` or space, a control character)."""


class InvalidCredentialsError(LLMError):
    """401."""


class PermissionDeniedError(LLMError):
    """403."""


class InvalidRequestError(LLMError):
    """400 (or 413/422): the API's own message is shown."""


class PromptTooLongError(InvalidRequestError):
    """The conversation no longer fits the model's context window."""


class ModelNotFoundError(LLMError):
    """404: usually a model name the endpoint does not know."""


class RateLimitedError(LLMError):
    """429, and 529 or other 5xx (`OverloadedError`, `ServerError`), after the retries ran out."""


class OverloadedError(LLMError):
    pass


class ServerError(LLMError):
    pass


class ConnectionFailedError(LLMError):
    """The endpoint could not be reached, or did not answer in time."""


# ---------------------------------------------------------------------------------- models, prices


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


def display_url(url: str) -> str:
    """The URL without any user:password part, fit for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) or url


# ----------------------------------------------------------------------------------------- client


@dataclass
class LLMResponse:
    """One finished assistant message: `content` is ready to append to the history as is."""

    content: list[dict[str, Any]]
    stop_reason: str | None
    usage: Usage
    model: str
    attempts: int = 1
    id: str = ""

    @property
    def text(self) -> str:
        return "".join(b["text"] for b in self.content if b.get("type") == "text")

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]


class _MidStreamFailure(Exception):
    """A stream that started failed before its end: worth sending the request again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def _retry_reason(response: Any) -> str:
    status = getattr(response, "status_code", None)
    if status is None:
        return "connection failed"
    if status == 429:
        return "rate limited (429)"
    if status == 529:
        return "API overloaded (529)"
    if status == 408:
        return "request timed out (408)"
    return f"server error ({status})"


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
        if not api_key and not auth_token:
            raise MissingCredentialsError(f"No API key: {AUTH_HINT}")
        for name, secret in (("ANTHROPIC_API_KEY", api_key), ("ANTHROPIC_AUTH_TOKEN", auth_token)):
            if secret and (problem := credential_problem(name, secret)):
                raise MalformedCredentialsError(problem)
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
        self._secrets = [s for s in (api_key, auth_token) if s]
        credentials = {"api_key": api_key} if api_key else {"auth_token": auth_token}
        from agent.engine.tls import prepared_context

        context = prepared_context()  # certificates loaded while the SDK was imported (`agent -p`)
        http = {"http_client": anthropic.DefaultAsyncHttpxClient(base_url=self.base_url, timeout=timeout,
                                                                 verify=context)} if context else {}
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
                    response = await self._stream_once(params, emit, shown)
                    response.attempts = attempt
                    return response
                except _MidStreamFailure as failure:
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
        control = cache_control(cache_ttl)
        params: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens or self.max_tokens,
                                  "messages": _with_message_breakpoint(messages, control) if self.cache_messages
                                  else list(messages)}
        blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system or [])
        blocks = [dict(b) for b in blocks if b.get("text")]
        if blocks:
            blocks[-1]["cache_control"] = control
            params["system"] = blocks
        if tools:
            params["tools"] = [*tools[:-1], {**tools[-1], "cache_control": control}]
        return replace_lone_surrogates(params)  # a non-UTF-8 file name or folder: U+FFFD, not a crash

    async def _stream_once(self, params: dict[str, Any], emit: Emit | None, shown: ShownText) -> LLMResponse:
        started = False  # the API answered 200 and the events began: a failure from here on is mid-stream
        try:
            async with self._client.messages.stream(**params) as stream:
                started = True
                complete = False
                async for event in stream:
                    if self.raw_events and emit and event.type in RAW_STREAM_EVENTS:
                        emit(StreamEvent(_raw_event(event)))
                    if event.type == "text" and event.text:
                        shown.delta(event.text)
                    elif event.type == "content_block_stop" and event.content_block.type == "text":
                        shown.block_done(event.content_block.text)
                    elif event.type == "message_stop":
                        complete = True
                if not complete:  # the body ended cleanly but the answer did not: never a final answer
                    raise _MidStreamFailure("the stream ended before message_stop")
                message = await stream.get_final_message()
        except anthropic.APIStatusError as exc:
            if exc.status_code < 300 and (exc.type or "overloaded_error") in RETRYABLE_STREAM_ERRORS:
                raise _MidStreamFailure(exc.type or "stream error") from exc
            raise self._translate(exc) from None
        except (anthropic.APIConnectionError, httpx2.TransportError) as exc:
            if started:  # the SDK retried the connection, not the stream: that is ours
                raise _MidStreamFailure(_connection_lost(exc)) from exc
            raise self._unreachable(exc) from None
        content = [p for p in (_block_param(b) for b in message.content) if p is not None]
        content = replace_lone_surrogates(content)  # an unpaired surrogate escape from the API fails every write
        return LLMResponse(content, message.stop_reason, Usage.from_api(message.usage), message.model,
                           id=message.id)

    def _unreachable(self, exc: Exception) -> ConnectionFailedError:
        """The request never got a stream, after the SDK's own retries."""
        if isinstance(exc, (anthropic.APITimeoutError, httpx2.TimeoutException)):
            return ConnectionFailedError(
                f"The API at {display_url(self.base_url)} did not answer in time; check your network "
                "and ANTHROPIC_BASE_URL, or try again")
        return ConnectionFailedError(
            f"Cannot connect to the API at {display_url(self.base_url)}: check ANTHROPIC_BASE_URL "
            "and your network")

    async def _sdk_retry_wait(self, wait_s: float, attempt: int, response: Any) -> None:
        """Called by the SDK before each of its retries: cap the wait, announce it, sleep."""
        reason = _retry_reason(response)
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

    def _translate(self, exc: anthropic.APIStatusError) -> LLMError:
        status = exc.status_code
        detail = self._scrub(exc.api_message or f"HTTP {status}")
        retries = f"after {self._max_retries} retries" if self._max_retries else "(retries are off)"
        if status == 401:
            return InvalidCredentialsError(f"Authentication failed (401): {AUTH_HINT}", status=status)
        if status == 403:
            return PermissionDeniedError(
                f"Permission denied (403): {detail}. Check that your key may use {self.model}", status=status)
        if status == 404:
            return ModelNotFoundError(
                f"Not found (404): {detail}. Check the model name ({self.model}): choose another with "
                f"--model or ANTHROPIC_MODEL; and check ANTHROPIC_BASE_URL ({display_url(self.base_url)})",
                status=status)
        if status in (400, 413, 422):
            kind = PromptTooLongError if re.search(r"prompt is too long|too many tokens", detail, re.I) \
                else InvalidRequestError
            return kind(f"The API rejected the request ({status}): {detail}", status=status)
        if status == 429:
            return RateLimitedError(f"Rate limited (429) {retries}: {detail}. Wait a minute and try again",
                                    status=status)
        if status == 529 or exc.type == "overloaded_error":
            return OverloadedError(f"The API is overloaded (529) {retries}; try again in a few minutes",
                                   status=status)
        if status >= 500:
            return ServerError(f"API server error ({status}) {retries}: {detail}", status=status)
        return LLMError(f"API error ({status}): {detail}", status=status)

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _connection_lost(exc: Exception) -> str:
    """"connection lost (ReadError)": named after the transport's error, which the SDK may have wrapped."""
    cause = exc.__cause__ if isinstance(exc, anthropic.APIConnectionError) and exc.__cause__ else exc
    if isinstance(exc, anthropic.APITimeoutError) or isinstance(cause, httpx2.TimeoutException):
        return f"connection stalled ({type(cause).__name__})"
    return f"connection lost ({type(cause).__name__})"


def _block_param(block: Any) -> dict[str, Any] | None:
    """An SDK content block as a request block for the history; empty text blocks are dropped (the API
    rejects them)."""
    kind = block.type
    if kind == "text":
        return {"type": "text", "text": block.text} if block.text else None
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    data = block.model_dump(mode="json", exclude_none=True)
    data.pop("parsed_output", None)
    return data


def _raw_event(event: Any) -> dict[str, Any]:
    """An SDK stream event as the API sent it (the SDK adds snapshots to some events)."""
    data = event.model_dump(mode="json", exclude_unset=True)  # the wire's fields, not the SDK's defaults
    if data.get("type") in ("content_block_stop", "message_stop"):
        for extra in SDK_EXTRAS:
            data.pop(extra, None)
    return data


def _with_message_breakpoint(messages: Sequence[dict[str, Any]],
                             control: dict[str, str] = EPHEMERAL) -> list[dict[str, Any]]:
    """A copy of `messages` whose last user block carries a cache breakpoint (the history is untouched)."""
    out = list(messages)
    if not out or out[-1].get("role") != "user":
        return out
    content = out[-1]["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else [dict(b) for b in content]
    if blocks and blocks[-1].get("type") in ("text", "tool_result", "image", "document") \
            and (blocks[-1].get("type") != "text" or blocks[-1].get("text")):
        blocks[-1]["cache_control"] = control
    out[-1] = {**out[-1], "content": blocks}
    return out


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
