"""Claude Code's `-p` output schema: the message stream (`stream-json`) and the `result` object (`json`).

A script written for `claude -p --output-format stream-json --verbose` reads our output unchanged:
first a `system`/`init` message, then one `assistant` message per model message, one `user` message per
round of tool results, optional `stream_event` lines with the raw server-sent events
(`--include-partial-messages`), and last a `result`. `tests/data/claude_code_stream.jsonl` is the
recorded reference the tests compare our field names and types with.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any, TextIO

from agent.engine.events import (
    AssistantMessage,
    Event,
    PermissionDenied,
    StreamEvent,
    ToolCallStarted,
    ToolResultsMessage,
    Usage,
)

SUCCESS, MAX_TURNS, DURING_EXECUTION = "success", "error_max_turns", "error_during_execution"


def _uuid() -> str:
    return str(uuid.uuid4())


def init_message(session_id: str, *, cwd: str, model: str, tools: list[str], permission_mode: str,
                 slash_commands: list[str], api_key_source: str) -> dict[str, Any]:
    return {"type": "system", "subtype": "init", "cwd": cwd, "session_id": session_id, "tools": tools,
            "mcp_servers": [], "model": model, "permissionMode": permission_mode,
            "slash_commands": slash_commands, "apiKeySource": api_key_source, "output_style": "default",
            "uuid": _uuid()}


def assistant_message(session_id: str, message: dict[str, Any]) -> dict[str, Any]:
    return {"type": "assistant", "message": message, "parent_tool_use_id": None, "session_id": session_id,
            "uuid": _uuid()}


def user_message(session_id: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": content}, "parent_tool_use_id": None,
            "session_id": session_id, "uuid": _uuid()}


def stream_event(session_id: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "stream_event", "event": event, "session_id": session_id, "parent_tool_use_id": None,
            "uuid": _uuid()}


@dataclass
class RunOutcome:
    """What one `-p` turn (or a failure before it) ended with, in the result object's terms."""

    is_error: bool
    result: str
    subtype: str = SUCCESS
    num_turns: int = 0
    duration_ms: int = 0
    duration_api_ms: int = 0
    total_cost_usd: float | None = 0.0
    usage: Usage = field(default_factory=Usage)
    stop_reason: str | None = None

    @classmethod
    def from_turn(cls, turn: Any) -> RunOutcome:
        failed = MAX_TURNS if turn.stop_reason == "max_turns" else DURING_EXECUTION
        subtype = failed if turn.is_error else SUCCESS
        return cls(turn.is_error, turn.result_text if not turn.is_error else (turn.error or turn.result_text),
                   subtype, turn.num_requests, turn.duration_ms, getattr(turn, "duration_api_ms", 0),
                   turn.cost_usd, turn.usage, turn.stop_reason)

    @classmethod
    def failure(cls, message: str, duration_ms: int = 0) -> RunOutcome:
        """A run that failed before or outside the turn (no key, unknown command, ...)."""
        return cls(True, message, DURING_EXECUTION, duration_ms=duration_ms)


def result_message(session_id: str, outcome: RunOutcome, denials: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "result", "subtype": outcome.subtype, "is_error": outcome.is_error,
            "duration_ms": outcome.duration_ms, "duration_api_ms": outcome.duration_api_ms,
            "num_turns": outcome.num_turns, "result": outcome.result, "session_id": session_id,
            "total_cost_usd": outcome.total_cost_usd, "usage": outcome.usage.to_dict(),
            "permission_denials": denials, "stop_reason": outcome.stop_reason, "uuid": _uuid()}


class OutputWriter:
    """Turns conversation events into the chosen output format on `out` (stdout)."""

    def __init__(self, output_format: str, session_id: str, *, verbose: bool = False,
                 out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.format, self.session_id, self.verbose = output_format, session_id, verbose
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.denials: list[dict[str, Any]] = []
        self._inputs: dict[str, dict[str, Any]] = {}

    @property
    def streaming(self) -> bool:
        return self.format == "stream-json"

    def write(self, obj: dict[str, Any]) -> None:
        print(json.dumps(obj, ensure_ascii=False), file=self.out, flush=True)

    def init(self, **fields: Any) -> None:
        if self.streaming:
            self.write(init_message(self.session_id, **fields))

    def event(self, event: Event) -> None:
        """The conversation's emit callback."""
        if isinstance(event, ToolCallStarted):
            self._inputs[event.tool_use_id] = event.input
        elif isinstance(event, PermissionDenied):
            self.denials.append({"tool_name": event.name, "tool_use_id": event.tool_use_id,
                                 "tool_input": self._inputs.get(event.tool_use_id, {})})
        if self.streaming:
            self._stream(event)
        elif self.verbose:
            _describe(event, self.err)

    def _stream(self, event: Event) -> None:
        if isinstance(event, AssistantMessage):
            self.write(assistant_message(self.session_id, event.message))
        elif isinstance(event, ToolResultsMessage):
            self.write(user_message(self.session_id, event.content))
        elif isinstance(event, StreamEvent):
            self.write(stream_event(self.session_id, event.event))

    def result(self, outcome: RunOutcome) -> None:
        """The end of one run: the answer (text) or the result object (json, stream-json)."""
        if self.format == "text":
            if outcome.is_error:
                print(f"agent: {outcome.result}", file=self.err, flush=True)
            elif outcome.result:
                print(outcome.result, file=self.out, flush=True)
        else:
            self.write(result_message(self.session_id, outcome, self.denials))
            if outcome.is_error and self.format == "json":
                print(f"agent: {outcome.result}", file=self.err, flush=True)
        self.denials = []


def usage_failure(args: Any, message: str) -> None:
    """The result object of a `-p` run refused before it started (bad flags, a model name that is not
    one): a script reading stdout gets `is_error: true` and the reason, as for any other failure."""
    writer = OutputWriter(args.output_format, getattr(args, "session_id", None) or _uuid())
    writer.write(result_message(writer.session_id, RunOutcome.failure(message.removeprefix("agent: ")), []))


QUIET_EVENTS = ("text_delta", "stream_event", "assistant_message", "tool_results_message", "turn_finished")


def _describe(event: Event, err: TextIO) -> None:
    """--verbose with text or json output: one line per event on stderr."""
    data = event.to_json()
    if data.get("type") not in QUIET_EVENTS:
        print("agent: " + json.dumps(data, ensure_ascii=False)[:300], file=err)


__all__ = ["OutputWriter", "RunOutcome", "assistant_message", "init_message", "result_message",
           "stream_event", "usage_failure", "user_message"]
