"""Where the client connects and with what: the base URL, the credential checked before it is used, and
the HTTP client carrying the TLS context prepared at start-up.

Separate from the client because these are the settings of one connection, decided once when an `LLM`
is made; nothing here sends a request. A credential that cannot be sent fails here, before any request,
with a message that never shows it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anthropic

from agent.engine.credentials import credential_problem
from agent.engine.llm.errors import AUTH_HINT, MalformedCredentialsError, MissingCredentialsError

DEFAULT_BASE_URL = "https://api.anthropic.com"


def display_url(url: str) -> str:
    """The URL without any user:password part, fit for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) or url


def sdk_credentials(api_key: str | None, auth_token: str | None) -> dict[str, str | None]:
    """The SDK client's credential argument: the key, else the token. Raises MissingCredentialsError when
    there is neither, MalformedCredentialsError when one cannot be a credential."""
    if not api_key and not auth_token:
        raise MissingCredentialsError(f"No API key: {AUTH_HINT}")
    for name, secret in (("ANTHROPIC_API_KEY", api_key), ("ANTHROPIC_AUTH_TOKEN", auth_token)):
        if secret and (problem := credential_problem(name, secret)):
            raise MalformedCredentialsError(problem)
    return {"api_key": api_key} if api_key else {"auth_token": auth_token}


def http_client_option(base_url: str, timeout: float) -> dict[str, Any]:
    """`http_client=` for the SDK client when `agent -p` prepared the TLS context; else nothing, and the
    SDK builds its own."""
    from agent.engine.tls import prepared_context

    context = prepared_context()  # certificates loaded while the SDK was imported (`agent -p`)
    return {"http_client": anthropic.DefaultAsyncHttpxClient(base_url=base_url, timeout=timeout,
                                                             verify=context)} if context else {}


__all__ = ["DEFAULT_BASE_URL", "display_url", "http_client_option", "sdk_credentials"]
