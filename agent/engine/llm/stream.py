"""One streamed attempt: the SDK's events relayed as they arrive, assembled into an `LLMResponse`.

Text deltas go out through `ShownText` (so a retried attempt never shows text twice); with `raw_events`
every SSE event also goes out as a `StreamEvent` (`--include-partial-messages`). The finished message
becomes history-ready request blocks. A stream that fails after it started (an `event: error`, a dropped
or stalled connection, an end without `message_stop`) raises `MidStreamFailure` for the client to retry;
any other failure is translated into an `LLMError`.

Separate from the client because this is the wire format of one attempt, while the client owns the
retries around attempts and the connection they share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2

from agent.engine.events import Event, StreamEvent, Usage
from agent.engine.llm.failures import FailureTranslator, MidStreamFailure, connection_lost, is_mid_stream_error
from agent.engine.shown_text import ShownText
from agent.jsonfile import replace_lone_surrogates

RAW_STREAM_EVENTS = frozenset({"message_start", "message_delta", "message_stop", "content_block_start",
                               "content_block_delta", "content_block_stop"})
SDK_EXTRAS = ("content_block", "message", "snapshot")  # fields the SDK adds to *_stop events, not on the wire

Emit = Callable[[Event], None]


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


async def stream_once(client: anthropic.AsyncAnthropic, params: dict[str, Any], *, emit: Emit | None,
                      shown: ShownText, raw_events: bool, failures: FailureTranslator) -> LLMResponse:
    """Send `params` once with streaming and return the finished message."""
    started = False  # the API answered 200 and the events began: a failure from here on is mid-stream
    try:
        async with client.messages.stream(**params) as stream:
            started = True
            complete = False
            async for event in stream:
                if raw_events and emit and event.type in RAW_STREAM_EVENTS:
                    emit(StreamEvent(raw_event(event)))
                if event.type == "text" and event.text:
                    shown.delta(event.text)
                elif event.type == "content_block_stop" and event.content_block.type == "text":
                    shown.block_done(event.content_block.text)
                elif event.type == "message_stop":
                    complete = True
            if not complete:  # the body ended cleanly but the answer did not: never a final answer
                raise MidStreamFailure("the stream ended before message_stop")
            message = await stream.get_final_message()
    except anthropic.APIStatusError as exc:
        if is_mid_stream_error(exc):
            raise MidStreamFailure(exc.type or "stream error") from exc
        raise failures.status_error(exc) from None
    except (anthropic.APIConnectionError, httpx2.TransportError) as exc:
        if started:  # the SDK retried the connection, not the stream: that is ours
            raise MidStreamFailure(connection_lost(exc)) from exc
        raise failures.unreachable(exc) from None
    content = [p for p in (block_param(b) for b in message.content) if p is not None]
    content = replace_lone_surrogates(content)  # an unpaired surrogate escape from the API fails every write
    return LLMResponse(content, message.stop_reason, Usage.from_api(message.usage), message.model,
                       id=message.id)


def block_param(block: Any) -> dict[str, Any] | None:
    """An SDK content block as a request block for the history; empty text blocks are dropped (the API
    rejects them)."""
    kind = block.type
    if kind == "text":
        if not block.text:
            return None
        citations = getattr(block, "citations", None)  # web search answers cite their sources: keep them
        if citations:
            return {"type": "text", "text": block.text,
                    "citations": [c.model_dump(mode="json", exclude_none=True) for c in citations]}
        return {"type": "text", "text": block.text}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    data = block.model_dump(mode="json", exclude_none=True)
    data.pop("parsed_output", None)
    return data


def raw_event(event: Any) -> dict[str, Any]:
    """An SDK stream event as the API sent it (the SDK adds snapshots to some events)."""
    data = event.model_dump(mode="json", exclude_unset=True)  # the wire's fields, not the SDK's defaults
    if data.get("type") in ("content_block_stop", "message_stop"):
        for extra in SDK_EXTRAS:
            data.pop(extra, None)
    return data


__all__ = ["RAW_STREAM_EVENTS", "SDK_EXTRAS", "Emit", "LLMResponse", "block_param", "raw_event", "stream_once"]
