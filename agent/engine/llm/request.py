"""The Messages request body, with its prompt-caching breakpoints placed.

`cache_control` breakpoints go on the last system block, the last tool and the last block of the last
user message (3 of the API's 4), so the stable prefix and the conversation so far are cached.

Separate from the client because it is a pure function of the conversation (the cache bench builds the
same requests without a connection); the history passed in is never modified. Pure: no SDK, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.jsonfile import replace_lone_surrogates

EPHEMERAL = {"type": "ephemeral"}
CACHE_TTLS = ("5m", "1h")  # the API's breakpoint lifetimes; 1h needs no beta header with this SDK (GA `ttl`)


def cache_control(ttl: str | None) -> dict[str, str]:
    """A breakpoint: the default 5 minutes, or `{"type": "ephemeral", "ttl": "1h"}`."""
    return {**EPHEMERAL, "ttl": ttl} if ttl == "1h" else EPHEMERAL


def build_request(
    *,
    model: str,
    max_tokens: int,
    system: str | Sequence[dict[str, Any]] | None,
    messages: Sequence[dict[str, Any]],
    tools: Sequence[dict[str, Any]],
    cache_ttl: str | None,
    cache_messages: bool,
) -> dict[str, Any]:
    """The request body (without `stream`); the breakpoint on the messages only with `cache_messages`.
    All breakpoints share `cache_ttl`: the API wants no 1h breakpoint after a 5m one."""
    control = cache_control(cache_ttl)
    params: dict[str, Any] = {"model": model, "max_tokens": max_tokens,
                              "messages": with_message_breakpoint(messages, control) if cache_messages
                              else list(messages)}
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system or [])
    blocks = [dict(b) for b in blocks if b.get("text")]
    if blocks:
        blocks[-1]["cache_control"] = control
        params["system"] = blocks
    if tools:
        params["tools"] = [*tools[:-1], {**tools[-1], "cache_control": control}]
    return replace_lone_surrogates(params)  # a non-UTF-8 file name or folder: U+FFFD, not a crash


def with_message_breakpoint(messages: Sequence[dict[str, Any]],
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


__all__ = ["CACHE_TTLS", "EPHEMERAL", "build_request", "cache_control", "with_message_breakpoint"]
