"""What a failed model request raises: the `LLMError` family callers catch, each saying what to do.

Separate from the client because it is the package's vocabulary, not its machinery: the faces, the
runs and the conversation catch these by class (and `agent.cron.policy` names them), while the mapping
from the SDK's exceptions to them is `failures`' job. Pure: no SDK, no I/O.
"""

from __future__ import annotations

AUTH_HINT = "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) to a valid key"


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


__all__ = [
    "AUTH_HINT",
    "ConnectionFailedError",
    "InvalidCredentialsError",
    "InvalidRequestError",
    "LLMError",
    "MalformedCredentialsError",
    "MissingCredentialsError",
    "ModelNotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "PromptTooLongError",
    "RateLimitedError",
    "ServerError",
]
