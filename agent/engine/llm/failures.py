"""What an SDK failure means: retry the stream, or which `LLMError` to raise and with what message.

Separate from the streaming and the client because it is one decision table over the SDK's exceptions
(status codes, error types, transport errors), kept in one place so every message says what to do and
none can carry the key (`FailureTranslator` scrubs the API's own text of the credentials).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2

from agent.engine.llm.endpoint import display_url
from agent.engine.llm.errors import (
    AUTH_HINT,
    ConnectionFailedError,
    InvalidCredentialsError,
    InvalidRequestError,
    LLMError,
    ModelNotFoundError,
    OverloadedError,
    PermissionDeniedError,
    PromptTooLongError,
    RateLimitedError,
    ServerError,
)

RETRYABLE_STREAM_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


class MidStreamFailure(Exception):
    """A stream that started failed before its end: worth sending the request again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_mid_stream_error(exc: anthropic.APIStatusError) -> bool:
    """An `event: error` inside a stream that answered 200 (e.g. overloaded_error): worth a retry."""
    return exc.status_code < 300 and (exc.type or "overloaded_error") in RETRYABLE_STREAM_ERRORS


def connection_lost(exc: Exception) -> str:
    """"connection lost (ReadError)": named after the transport's error, which the SDK may have wrapped."""
    cause = exc.__cause__ if isinstance(exc, anthropic.APIConnectionError) and exc.__cause__ else exc
    if isinstance(exc, anthropic.APITimeoutError) or isinstance(cause, httpx2.TimeoutException):
        return f"connection stalled ({type(cause).__name__})"
    return f"connection lost ({type(cause).__name__})"


def retry_reason(response: Any) -> str:
    """Why the SDK is about to retry, from the response it got (None: no response at all)."""
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


@dataclass(frozen=True)
class FailureTranslator:
    """Turns a request's final failure into the `LLMError` the user sees, naming this client's settings."""

    model: str
    base_url: str
    max_retries: int
    secrets: tuple[str, ...] = field(default=(), repr=False)  # never in a repr, a log or a message

    def unreachable(self, exc: Exception) -> ConnectionFailedError:
        """The request never got a stream, after the SDK's own retries."""
        if isinstance(exc, (anthropic.APITimeoutError, httpx2.TimeoutException)):
            return ConnectionFailedError(
                f"The API at {display_url(self.base_url)} did not answer in time; check your network "
                "and ANTHROPIC_BASE_URL, or try again")
        return ConnectionFailedError(
            f"Cannot connect to the API at {display_url(self.base_url)}: check ANTHROPIC_BASE_URL "
            "and your network")

    def status_error(self, exc: anthropic.APIStatusError) -> LLMError:
        status = exc.status_code
        detail = self.scrub(exc.api_message or f"HTTP {status}")
        retries = f"after {self.max_retries} retries" if self.max_retries else "(retries are off)"
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

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


__all__ = [
    "RETRYABLE_STREAM_ERRORS",
    "FailureTranslator",
    "MidStreamFailure",
    "connection_lost",
    "is_mid_stream_error",
    "retry_reason",
]
