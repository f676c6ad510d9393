"""The conversation's history as the Messages API accepts it, kept valid after every change.

The API rejects a history where roles do not alternate or a `tool_use` lacks its `tool_result`, so the
loop only changes the history through these functions: user content joins a trailing user message,
a continuation after `pause_turn` joins the paused assistant message, and the open calls of a
cancelled or cut response get results. Also here: the size guess for content the API has not measured
yet. Pure functions on the list (the conversation saves it after each change).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.engine.llm import LLMResponse

Message = dict[str, Any]


def estimate_tokens(value: Any) -> int:
    """A deliberately generous guess (3.5 characters per token) for content not yet measured by the API."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return math.ceil(len(text) / 3.5)


def append_user(history: list[Message], blocks: list[dict[str, Any]]) -> None:
    """Add user content, merging into a trailing user message so that roles keep alternating."""
    if history and history[-1]["role"] == "user":
        last = history[-1]
        history[-1] = {**last, "content": [*as_blocks(last["content"]), *blocks]}
    else:
        history.append({"role": "user", "content": blocks})


def append_assistant(history: list[Message], blocks: list[dict[str, Any]]) -> None:
    """Add the model's content; after a `pause_turn` the continuation joins the paused message."""
    if history and history[-1]["role"] == "assistant":
        history[-1] = {**history[-1], "content": [*history[-1]["content"], *blocks]}
    else:
        history.append({"role": "assistant", "content": blocks})


def close_open_tool_uses(history: list[Message], text: str, finished: dict[str, dict[str, Any]]) -> bool:
    """Answer every tool_use of a trailing assistant message: the `finished` result where a call finished,
    else an error saying `text`. True when a message was added."""
    if not history or history[-1]["role"] != "assistant":
        return False
    uses = [b for b in history[-1]["content"] if b.get("type") == "tool_use"]
    if not uses:
        return False
    history.append({"role": "user", "content": [finished.get(u["id"]) or result_block(u["id"], text, True)
                                                 for u in uses]})
    return True


def result_block(tool_use_id: str, content: str, is_error: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if is_error:
        block["is_error"] = True
    return block


def as_blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def api_message(response: LLMResponse) -> dict[str, Any]:
    """A finished response in the Messages API's message shape."""
    return {"id": response.id, "type": "message", "role": "assistant", "model": response.model,
            "content": response.content, "stop_reason": response.stop_reason, "stop_sequence": None,
            "usage": response.usage.to_dict()}
