"""Claude Code's `-p` output schema: the message stream (`stream-json`) and the result object (`json`).

A script written for `claude -p --output-format stream-json --verbose` reads our output unchanged
(compared line by line with Claude Code 2.1.328's recordings in `tests/data/claude_code/`): a
`system`/`init` line, then one `assistant` line per content block (the message so far, with that one
block), one `user` line per round of tool results, `system`/`permission_denied` when a call is denied,
`system`/`api_retry` while a request is retried, with `--include-partial-messages` a `system`/`status`
line before each request and `stream_event` lines with the raw server-sent events (usage without null
fields), a synthetic `assistant` error line when the API failed, and last the result object
(`result_object`).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any, TextIO

from agent.cli.result_object import (
    DURING_EXECUTION,
    MAX_TURNS,
    SUCCESS,
    ModelLimits,
    RunOutcome,
    SessionTotals,
    api_error_type,
    error_word,
    full_usage,
    new_uuid,
    result_message,
)
from agent.engine.events import (
    AssistantMessage,
    Event,
    PermissionDenied,
    RequestStarted,
    RetryNotice,
    StreamEvent,
    SubagentProgress,
    ToolCallStarted,
    ToolResultsMessage,
    Usage,
)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _timestamp() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def init_message(session_id: str, *, cwd: str, model: str, tools: list[str], permission_mode: str,
                 slash_commands: list[str], api_key_source: str, version: str = "",
                 additional_directories: list[str] | None = None, agents: list[str] | None = None,
                 mcp_servers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Claude Code's init line. Its own features we lack (skills, plugins, fast mode) are empty."""
    return {"type": "system", "subtype": "init", "cwd": cwd, "session_id": session_id, "tools": tools,
            "mcp_servers": mcp_servers or [], "model": model, "permissionMode": permission_mode,
            "slash_commands": slash_commands, "terminal_slash_commands": [], "apiKeySource": api_key_source,
            "agent_version": version, "output_style": "default", "agents": agents or [], "skills": [], "plugins": [],
            "analytics_disabled": True, "product_feedback_disabled": True, "per_turn_effort_active": False,
            "view_mode": "default", "fast_mode_state": "off", "fast_mode_disabled_reason": "unavailable",
            "ultrathink_available": False, "ultrathink_typed_raises": False, "capabilities": [],
            "additional_directories": additional_directories or [], "original_cwd": cwd, "memory_paths": {},
            "uuid": new_uuid()}


def assistant_message(session_id: str, message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "assistant", "message": {**message, "context_management": None}, "parent_tool_use_id": None,
            "session_id": session_id, "uuid": new_uuid(), "timestamp": _timestamp(), **extra}


def block_messages(session_id: str, message: dict[str, Any]) -> list[dict[str, Any]]:
    """One `assistant` line per content block, as Claude Code streams a finished message."""
    usage = {k: v for k, v in (message.get("usage") or {}).items() if v is not None}
    lines = []
    for block in message.get("content") or []:
        snapshot = {**message, "content": [block], "stop_reason": None, "stop_sequence": None, "usage": usage}
        lines.append(assistant_message(session_id, snapshot))
    return lines


def user_message(session_id: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "user", "message": {"role": "user", "content": content}, "parent_tool_use_id": None,
            "session_id": session_id, "uuid": new_uuid(), "timestamp": _timestamp()}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


def stream_event(session_id: str, event: dict[str, Any], message_id: str = "",
                 started_ms: int | None = None) -> dict[str, Any]:
    """A raw server-sent event; its usage objects carry no null fields (Claude Code drops them).
    `message_id` names the message it belongs to; `started_ms` (message_start only) is the time to it."""
    event = copy.deepcopy(event)
    for holder in (event, event.get("message") if isinstance(event.get("message"), dict) else None):
        if holder is not None and isinstance(holder.get("usage"), dict):
            holder["usage"] = _without_nulls(holder["usage"])
    line = {"type": "stream_event", "event": event, "session_id": session_id, "parent_tool_use_id": None,
            "uuid": new_uuid()}
    if started_ms is not None:
        line.update(ttft_ms=started_ms, thinking_display="updates")
    return {**line, "api_message_id": message_id}


def system_line(session_id: str, subtype: str, **fields: Any) -> dict[str, Any]:
    return {"type": "system", "subtype": subtype, **fields, "session_id": session_id, "uuid": new_uuid()}


def api_error_message(session_id: str, outcome: RunOutcome) -> dict[str, Any]:
    """The synthetic `assistant` line Claude Code writes when the model could not be reached or refused."""
    usage = {**full_usage(Usage()), "output_tokens_details": None, "service_tier": None, "inference_geo": None,
             "iterations": None, "speed": None}  # nothing was asked of a model: Claude Code's nulls
    message = {"diagnostics": None, "id": new_uuid(), "container": None, "model": "<synthetic>",
               "role": "assistant", "stop_details": None, "stop_reason": "stop_sequence", "stop_sequence": "",
               "type": "message", "usage": usage, "content": [{"type": "text", "text": outcome.result}]}
    extra: dict[str, Any] = {"error": error_word(outcome.api_error_status) if outcome.api_error_status
                             else "server_error", "is_api_error_message": True}
    if outcome.api_error:
        extra["api_error"] = outcome.api_error
    else:
        extra["api_error_status"] = outcome.api_error_status
        extra["api_error_type"] = api_error_type(outcome.api_error_status)
    return assistant_message(session_id, message, **extra)


class _PartialBlocks:
    """Rebuilds the message being streamed from raw events, so that with `--include-partial-messages`
    each block's `assistant` line comes where Claude Code puts it: just before its content_block_stop."""

    def __init__(self) -> None:
        self.message: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self.json_parts: dict[int, list[str]] = {}

    def finished_block(self, event: dict[str, Any]) -> dict[str, Any] | None:
        kind, index = event.get("type"), event.get("index", 0)
        if kind == "message_start":
            self.message, self.blocks, self.json_parts = dict(event.get("message") or {}), {}, {}
        elif kind == "content_block_start":
            self.blocks[index] = dict(event.get("content_block") or {})
        elif kind == "content_block_delta":
            delta, block = event.get("delta") or {}, self.blocks.get(index)
            if block is not None and delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
            elif block is not None and delta.get("type") == "input_json_delta":
                self.json_parts.setdefault(index, []).append(delta.get("partial_json", ""))
        elif kind == "content_block_stop" and index in self.blocks:
            block = self.blocks.pop(index)
            if block.get("type") == "tool_use":
                try:
                    block["input"] = json.loads("".join(self.json_parts.pop(index, [])) or "{}")
                except ValueError:
                    block["input"] = {}
            return {**self.message, "content": [block]}
        return None


class OutputWriter:
    """Turns conversation events into the chosen output format on `out` (stdout)."""

    def __init__(self, output_format: str, session_id: str, *, verbose: bool = False,
                 out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.format, self.session_id, self.verbose = output_format, session_id, verbose
        self.out, self.err = out or sys.stdout, err or sys.stderr
        self.denials: list[dict[str, Any]] = []
        self.totals = SessionTotals()
        self.limits: ModelLimits | None = None  # the model and its limits, once the client exists
        self.partial = False  # --include-partial-messages: status lines, and blocks placed among the events
        self._inputs: dict[str, dict[str, Any]] = {}
        self._blocks = _PartialBlocks()
        self._requested = time.monotonic()

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
        if isinstance(event, SubagentProgress):
            return  # for the chat only: Claude Code's -p output has no such line
        if isinstance(event, ToolCallStarted):
            self._inputs[event.tool_use_id] = event.input
        elif isinstance(event, PermissionDenied):
            denial = {"tool_name": event.name, "tool_use_id": event.tool_use_id,
                      "tool_input": self._inputs.get(event.tool_use_id, {})}
            self.denials.append({**denial, "domain": event.domain} if event.domain else denial)
        if self.streaming:
            self._stream(event)
        elif self.verbose:
            _describe(event, self.err)

    def _stream(self, event: Event) -> None:
        sid = self.session_id
        if isinstance(event, AssistantMessage):
            if not self.partial:
                for line in block_messages(sid, event.message):
                    self.write(line)
        elif isinstance(event, ToolResultsMessage):
            self.write(user_message(sid, event.content))
        elif isinstance(event, StreamEvent):
            finished = self._blocks.finished_block(event.event)
            if finished is not None:
                for line in block_messages(sid, finished):
                    self.write(line)
            starting = event.event.get("type") == "message_start"
            self.write(stream_event(sid, event.event, str(self._blocks.message.get("id", "")),
                                    _ms_since(self._requested) if starting else None))
        elif isinstance(event, RequestStarted):
            self._requested = time.monotonic()
            if self.partial:
                self.write(system_line(sid, "status", status="requesting"))
        elif isinstance(event, PermissionDenied):
            self.write(system_line(sid, "permission_denied", tool_name=event.name, tool_use_id=event.tool_use_id,
                                   message=event.reason))
        elif isinstance(event, RetryNotice):
            self.write(system_line(sid, "api_retry", attempt=event.attempt, max_retries=event.max_retries,
                                   retry_delay_ms=int(event.wait_s * 1000), error_status=event.status,
                                   error=error_word(event.status)))

    def result(self, outcome: RunOutcome) -> None:
        """The end of one run: the answer (text) or the result object (json, stream-json)."""
        self.totals.results += 1
        turn_usage = self.totals.add(outcome, self.limits)
        if self.format == "text":
            if outcome.is_error:
                print(f"agent: {_failure_line(outcome)}", file=self.err, flush=True)
            elif outcome.result:
                print(outcome.result, file=self.out, flush=True)
        else:
            if outcome.api_failed and self.streaming:
                self.write(api_error_message(self.session_id, outcome))
            self.write(result_message(self.session_id, outcome, self.denials, totals=self.totals,
                                      turn_model_usage=turn_usage, streaming=self.streaming))
            if outcome.is_error and self.format == "json":
                print(f"agent: {_failure_line(outcome)}", file=self.err, flush=True)
        self.denials = []


def _failure_line(outcome: RunOutcome) -> str:
    if outcome.errors:  # max turns
        return f"{outcome.errors[0]}: the task may be unfinished; raise --max-turns to let it go on"
    return outcome.result


def usage_failure(args: Any, message: str) -> None:
    """The result object of a `-p` run refused before it started (bad flags, a model name that is not
    one): a script reading stdout gets `is_error: true` and the reason, as for any other failure."""
    writer = OutputWriter(args.output_format, getattr(args, "session_id", None) or new_uuid())
    writer.totals.results += 1
    writer.write(result_message(writer.session_id, RunOutcome.failure(message.removeprefix("agent: ")), [],
                                totals=writer.totals, turn_model_usage={}, streaming=writer.streaming))


QUIET_EVENTS = ("text_delta", "stream_event", "assistant_message", "tool_results_message", "turn_finished")


def _describe(event: Event, err: TextIO) -> None:
    """--verbose with text or json output: one line per event on stderr."""
    data = event.to_json()
    if data.get("type") not in QUIET_EVENTS:
        print("agent: " + json.dumps(data, ensure_ascii=False)[:300], file=err)


__all__ = ["DURING_EXECUTION", "MAX_TURNS", "SUCCESS", "OutputWriter", "RunOutcome", "assistant_message",
           "block_messages", "init_message", "result_message", "stream_event", "usage_failure", "user_message"]
