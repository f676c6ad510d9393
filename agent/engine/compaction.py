"""Compaction: when the context nears the model's window, older messages become a summary by the model.

Separate from the loop because where to cut and how to summarise is its own policy: the cut comes only
before an assistant message (never between a tool_use and its result), keeps as much recent history
verbatim as fits in a share of the window, and is not worth making for a sliver. The conversation decides
when (before a request, on a prompt-too-long error, on /compact) and puts the summary in place.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agent.engine.history import Message, estimate_tokens
from agent.engine.prompts import SUMMARY_SYSTEM, summary_request

if TYPE_CHECKING:
    from agent.engine.events import Usage
    from agent.engine.llm import LLM

log = logging.getLogger(__name__)

COMPACT_AT = 0.75  # share of the context window that triggers compaction before the next request
KEEP_RECENT = 0.25  # share of the window kept verbatim when compacting
SUMMARY_PREFIX = "Summary of the earlier conversation: "


def split_index(history: list[Message], budget: float, *, worth: float) -> int | None:
    """Where the kept tail starts: an assistant message (never between a tool_use and its result),
    as early as fits in `budget` tokens, leaving at least `worth` tokens behind to summarise."""
    starts = [i for i, m in enumerate(history) if m["role"] == "assistant"]
    if not starts:
        return None
    split = starts[-1]
    for i in reversed(starts):
        if estimate_tokens(history[i:]) > budget:
            break
        split = i
    if estimate_tokens(history[:split]) < worth:
        return None
    return split


def cut_for(history: list[Message], window: int, keep_tokens: float | None) -> int | None:
    """The split for an automatic compaction (`keep_tokens` None) or a /compact keeping `keep_tokens`."""
    if keep_tokens is None:
        return split_index(history, KEEP_RECENT * window, worth=0.05 * window)
    return split_index(history, keep_tokens or 0, worth=0)


async def summarise(llm: LLM, head: list[Message]) -> tuple[Message, Usage | None]:
    """The message that stands for `head`, and the usage of the request that wrote it (None when it failed:
    then the older messages are dropped rather than failing the turn)."""
    from agent.engine.llm import LLMError

    request = summary_request(head, limit_chars=llm.context_window * 2)
    usage: Usage | None = None
    try:
        response = await llm.stream_message(system=SUMMARY_SYSTEM, messages=[{"role": "user", "content": request}],
                                            max_tokens=min(llm.max_tokens, 4096))
        summary = response.text.strip() or "(empty summary)"
        usage = response.usage
    except LLMError as exc:
        log.warning("compaction failed (%s); dropping the older messages instead", exc.message)
        summary = "(the earlier conversation could not be summarised and was dropped)"
    return {"role": "user", "content": [{"type": "text", "text": SUMMARY_PREFIX + summary}]}, usage
