"""Events the conversation emits for renderers (REPL, `-p` text/json/stream-json), and token `Usage`.

Plain dataclasses with no behaviour beyond `to_json()`, so a renderer can switch on the type and the
stream-json output is one `json.dumps(event.to_json())` per line. `Usage` lives here rather than in
`agent.engine.llm` because renderers need it and must not pay for importing the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from agent.tools.file_change import FileChange


@dataclass
class Usage:
    """Tokens for one request or, added up with `+`, for a turn or a session."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0  # the part of cache_write_tokens written with the 1-hour lifetime (2x, not 1.25x)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
        )

    @property
    def context_tokens(self) -> int:
        """Everything the model read for this request: what counts against the context window."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @classmethod
    def from_api(cls, usage: Any) -> Usage:
        """From the SDK's usage object (or a dict with the API's field names); missing counts are 0."""
        def get(name: str) -> int:
            value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
            return int(value or 0)

        creation = usage.get("cache_creation") if isinstance(usage, dict) else getattr(usage, "cache_creation", None)
        one_hour = creation.get("ephemeral_1h_input_tokens") if isinstance(creation, dict) \
            else getattr(creation, "ephemeral_1h_input_tokens", None)
        return cls(
            get("input_tokens"),
            get("output_tokens"),
            get("cache_read_input_tokens"),
            get("cache_creation_input_tokens"),
            int(one_hour or 0) if isinstance(one_hour, int | float) else 0,
        )

    def to_dict(self) -> dict[str, int]:
        """The API's field names, as Claude Code's json output uses them."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_input_tokens": self.cache_read_tokens,
            "cache_creation_input_tokens": self.cache_write_tokens,
        }


@dataclass
class Event:
    """Base of all events. `type` is the snake_case name used in stream-json."""

    type: ClassVar[str] = "event"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_dict() if hasattr(value, "to_dict") else value  # Usage, FileChange
        return out


@dataclass
class TurnStarted(Event):
    type: ClassVar[str] = "turn_started"
    prompt: str
    source: str = "user"  # "user", "cron", "loop", ...
    task_id: str | None = None


@dataclass
class TextDelta(Event):
    """A piece of assistant text as it streams in."""

    type: ClassVar[str] = "text_delta"
    text: str


@dataclass
class TextBlockDone(Event):
    """A complete assistant text block (after its deltas)."""

    type: ClassVar[str] = "text_block_done"
    text: str


@dataclass
class StreamEvent(Event):
    """One raw server-sent event of the Messages API stream (only when the client is asked for them)."""

    type: ClassVar[str] = "stream_event"
    event: dict[str, Any]


@dataclass
class AssistantMessage(Event):
    """One finished model message in the Messages API's shape (id, role, model, content, usage, ...)."""

    type: ClassVar[str] = "assistant_message"
    message: dict[str, Any]


@dataclass
class ToolResultsMessage(Event):
    """The user message that carries one round of tool results back to the model."""

    type: ClassVar[str] = "tool_results_message"
    content: list[dict[str, Any]]


@dataclass
class ToolCallStarted(Event):
    type: ClassVar[str] = "tool_call_started"
    tool_use_id: str
    name: str
    input: dict[str, Any]
    key_argument: str = ""


@dataclass
class ToolCallFinished(Event):
    type: ClassVar[str] = "tool_call_finished"
    tool_use_id: str
    name: str
    summary: str
    is_error: bool
    content: str
    change: FileChange | None = None  # Edit and Write: the diff, shown compactly in the transcript


@dataclass
class PermissionDenied(Event):
    type: ClassVar[str] = "permission_denied"
    tool_use_id: str
    name: str
    reason: str
    unattended: bool = False  # denied because nobody could be asked (`-p`, daemon)
    rule: str | None = None  # the allow rule that would let this call run
    note: str = ""  # what the user told the model to do instead
    no_answer: bool = False  # a question nobody answered in time (nobody was at the terminal)
    domain: str | None = None  # a sandboxed command's connection refused: the host
    stopped: bool = False  # a plain "no": the turn stops here, the model waits for the user


@dataclass
class RetryNotice(Event):
    """The client waits `wait_s` seconds before attempt `attempt`. A retried stream does not repeat text
    already streamed; when the retry says something else instead, a notice with `discarded_output` (and
    `wait_s` 0) comes first: the text streamed so far belongs to an abandoned response, drop what of it
    can be dropped, the retry's text follows from its start."""

    type: ClassVar[str] = "retry"
    reason: str
    wait_s: float
    attempt: int
    discarded_output: bool = False
    status: int | None = None  # the HTTP status that failed, None for a connection or mid-stream failure
    max_retries: int = 0


@dataclass
class RequestStarted(Event):
    """A model request is about to be sent (Claude Code's stream-json `system`/`status` "requesting")."""

    type: ClassVar[str] = "request_started"


@dataclass
class UsageReport(Event):
    """After each model request: that request's usage, the turn so far, and what the context holds."""

    type: ClassVar[str] = "usage"
    usage: Usage
    turn_usage: Usage
    cost_usd: float | None
    turn_cost_usd: float | None
    context_tokens: int = 0
    context_window: int = 0


@dataclass
class Compacted(Event):
    type: ClassVar[str] = "compacted"
    before_tokens: int
    after_tokens: int
    messages_summarized: int = 0


@dataclass
class TurnFinished(Event):
    type: ClassVar[str] = "turn_finished"
    stop_reason: str | None
    num_requests: int
    usage: Usage
    cost_usd: float | None
    result_text: str
    is_error: bool = False
    error: str | None = None


@dataclass
class SubagentProgress(Event):
    """Something a subagent did (its own ToolCallStarted, ToolCallFinished, UsageReport or TurnFinished),
    passed on by the parent conversation under the Task call that runs it, so the chat can show it.
    Not part of `-p` output (Claude Code's stream-json has no such line)."""

    type: ClassVar[str] = "subagent_progress"
    tool_use_id: str  # the parent's Task call
    agent_type: str
    event: Event

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "tool_use_id": self.tool_use_id, "agent_type": self.agent_type,
                "event": self.event.to_json()}


__all__ = [
    "AssistantMessage",
    "Compacted",
    "Event",
    "PermissionDenied",
    "RetryNotice",
    "StreamEvent",
    "SubagentProgress",
    "TextBlockDone",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolResultsMessage",
    "TurnFinished",
    "TurnStarted",
    "Usage",
    "UsageReport",
]
