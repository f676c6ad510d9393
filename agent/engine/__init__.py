"""The engine: one conversation with the model and its tools, whatever face drives it.

`session` builds everything a face needs (settings, permissions, tools, stores, the model client);
`conversation` is the tool-use loop; `llm` is the only package that imports the Anthropic SDK; `queue`
orders what runs next; `prompts` builds the system prompt and the texts shown to the model; `events`
are what the loop reports to the face that renders it; `transcript` saves sessions; `custom_commands`
expands `.claude/commands/*.md`. Whether a tool call may run is `agent.permissions`' to say; unattended
runs are `agent.runs`.

The re-exports below are lazy (PEP 562): importing `agent.engine.queue` must not load the SDK, which the
chat loads in the background while the prompt is already on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import lazy_exports

_EXPORTS = {
    "AgentSession": "session",
    "SessionOptions": "session",
    "Conversation": "conversation",
    "TurnResult": "turn_result",
    "LLM": "llm",
    "LLMError": "llm",
    "CommandQueue": "queue",
    "Priority": "queue",
    "QueuedPrompt": "queue",
    "build_system_prompt": "prompts",
    "Event": "events",
}

__all__ = [
    "LLM",
    "AgentSession",
    "CommandQueue",
    "Conversation",
    "Event",
    "LLMError",
    "Priority",
    "QueuedPrompt",
    "SessionOptions",
    "TurnResult",
    "build_system_prompt",
]

if TYPE_CHECKING:
    from agent.engine.conversation import Conversation
    from agent.engine.events import Event
    from agent.engine.llm import LLM, LLMError
    from agent.engine.prompts import build_system_prompt
    from agent.engine.queue import CommandQueue, Priority, QueuedPrompt
    from agent.engine.session import AgentSession, SessionOptions
    from agent.engine.turn_result import TurnResult

__getattr__ = lazy_exports(__name__, _EXPORTS)
