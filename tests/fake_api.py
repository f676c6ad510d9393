"""A fake Anthropic Messages API: a local HTTP server for tests, benchmarks and manual runs.

Standard library only. It speaks the real wire format closely enough for the official SDK: SSE
streams with `message_start`, `ping`, `content_block_*` (text and `input_json_delta`), `message_delta`
and `message_stop`, each event cut into several HTTP chunks; plain JSON messages; the API's error
shape. It also validates requests the way the API does where our bugs would show (a `tool_use`
without its `tool_result`, roles that do not alternate, empty text blocks, too many cache breakpoints),
so a broken history fails a test instead of passing silently.

    with FakeAnthropic() as api:
        api.script(tool_reply(("Read", {"file_path": "a.py"})), text_reply("done"))
        api.when(lambda r: "deploy" in r.turn_prompt(), text_reply("checked the deploy"))
        ...  # point the client at api.base_url
        assert api.validation_errors == []

Replies are chosen per request: the first matching `when` rule, else the next scripted reply (FIFO),
else the default responder (a function of the request; "OK" unless given). Builders: `text_reply`,
`tool_reply`, `error_reply` (`overloaded_reply`, `rate_limit_reply`, with `retry_after`),
`stream_error_reply` (`event: error` mid-stream), `stalled_reply`, `dropped_reply`, `dropped_after` (the
connection closed right after a given event); all take `usage=`,
`stop_reason=`, `delay_s=` (before the first byte) and `chunk_delay_s=`. `context_window=N` makes larger
requests fail with "prompt is too long". Each `RecordedRequest` has helpers (`turn_prompt()`,
`last_user_text()`, `tool_results()`, ...) and an `outcome` ("client_gone" when the client left early).

CLI: `python tests/fake_api.py [--port N] [--script replies.json] [--delay S] [--chunk-delay S]`
prints the base URL and serves until interrupted (default reply: an echo of the prompt).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import math
import os
import random
import select
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
ERROR_MESSAGES = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}
MODELS = ("claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5")
MAX_CACHE_BREAKPOINTS = 4


def new_tool_use_id() -> str:
    return "toolu_" + uuid.uuid4().hex[:24]


def estimate_tokens(value: Any) -> int:
    """A stand-in for the tokenizer: about four characters of JSON per token."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return max(1, math.ceil(len(text) / 4))


# --------------------------------------------------------------------------------------------------
# Replies


@dataclass
class ToolCall:
    name: str
    input: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_tool_use_id)


@dataclass
class Reply:
    """One scripted answer. Build it with `text_reply`, `tool_reply`, `error_reply` and friends.

    `usage` overrides the reported token counts (input_tokens, output_tokens, cache_read_input_tokens,
    cache_creation_input_tokens); by default input is estimated from the request's size. `interrupt`
    cuts a stream after `after_deltas` content deltas, or right after the event named by `cut_after`
    ("message_start", "content_block_start:tool_use" for the start of a block of that type, ...): "error"
    sends `event: error` (`error_type`), "stall" stops sending until the client disconnects or the server
    closes, "drop" closes the socket, "end" ends the HTTP body cleanly (no `message_stop`).
    """

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None  # default: "tool_use" when there is a tool_use block, else "end_turn"
    usage: dict[str, int] = field(default_factory=dict)
    status: int = 200
    error_type: str | None = None
    error_message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the first byte of the response
    chunk_delay_s: float = 0.0  # between the HTTP chunks of a stream
    interrupt: str | None = None  # "error" | "stall" | "drop" | "end"
    after_deltas: int = 1
    cut_after: str | None = None  # an event name, "name:block type" for content_block_start
    model: str | None = None

    @property
    def final_stop_reason(self) -> str:
        if self.stop_reason:
            return self.stop_reason
        return "tool_use" if any(b.get("type") == "tool_use" for b in self.content) else "end_turn"

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Reply:
        """From the --script JSON form: {"text": ..., "tool_use": [{"name", "input"}], "status": 529,
        "retry_after": 1, "usage": {...}, "delay_s": ..., "stop_reason": ...}."""
        options = {k: spec[k] for k in ("usage", "delay_s", "chunk_delay_s", "stop_reason", "headers")
                   if k in spec}
        if "status" in spec and int(spec["status"]) >= 400:
            return error_reply(int(spec["status"]), spec.get("message"), retry_after=spec.get("retry_after"),
                               **{k: v for k, v in options.items() if k in ("delay_s", "headers")})
        calls = [ToolCall(c["name"], c.get("input", {})) for c in spec.get("tool_use", [])]
        if calls:
            return tool_reply(*calls, text=spec.get("text"), **options)
        return text_reply(spec.get("text", "OK"), **options)


def text_reply(text: str = "OK", **options: Any) -> Reply:
    return Reply(content=[{"type": "text", "text": text}], **options)


def tool_reply(
    *calls: ToolCall | tuple[str, dict[str, Any]], text: str | None = None, **options: Any
) -> Reply:
    """A tool_use reply: one or several calls, `ToolCall`s or `(name, input)` pairs, optional text first."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for call in calls:
        call = call if isinstance(call, ToolCall) else ToolCall(call[0], dict(call[1]))
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input})
    return Reply(content=content, **options)


def error_reply(
    status: int,
    message: str | None = None,
    *,
    error_type: str | None = None,
    retry_after: float | str | None = None,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> Reply:
    """An HTTP error with the API's body shape; `retry_after` sets the `retry-after` header."""
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["retry-after"] = str(retry_after)
    kind = error_type or ERROR_TYPES.get(status, "api_error")
    return Reply(status=status, error_type=kind, error_message=message or ERROR_MESSAGES.get(kind, kind),
                 headers=all_headers, **options)


def overloaded_reply(retry_after: float | str | None = None, **options: Any) -> Reply:
    return error_reply(529, retry_after=retry_after, **options)


def rate_limit_reply(retry_after: float | str | None = None, **options: Any) -> Reply:
    return error_reply(429, retry_after=retry_after, **options)


def stream_error_reply(text: str = "This answer will be cut", *, error_type: str = "overloaded_error",
                       after_deltas: int = 1, **options: Any) -> Reply:
    """A stream that starts normally, then gets `event: error` after `after_deltas` text deltas."""
    return text_reply(text, interrupt="error", error_type=error_type, after_deltas=after_deltas, **options)


def stalled_reply(text: str = "This answer never ends", *, after_deltas: int = 1, **options: Any) -> Reply:
    """A stream that sends `after_deltas` deltas, then nothing until the client goes away."""
    return text_reply(text, interrupt="stall", after_deltas=after_deltas, **options)


def dropped_reply(text: str = "This answer is cut off", *, after_deltas: int = 1, **options: Any) -> Reply:
    """A stream whose connection is closed without warning after `after_deltas` deltas."""
    return text_reply(text, interrupt="drop", after_deltas=after_deltas, **options)


def dropped_after(event: str, reply: Reply | None = None, *, clean_end: bool = False) -> Reply:
    """`reply` (a text reply by default) with its connection closed without warning right after `event`:
    "message_start", "content_block_start:tool_use" (the start of the first tool_use block), ...
    `clean_end`: the HTTP body ends properly there instead (as a proxy that gives up may end it), so only
    the missing `message_stop` tells that the answer is incomplete."""
    base = reply or text_reply("This answer is cut off")
    return dataclasses.replace(base, interrupt="end" if clean_end else "drop", cut_after=event,
                               after_deltas=1 << 30)


# --------------------------------------------------------------------------------------------------
# Recorded requests


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _text_of(content: Any) -> str:
    return "\n".join(b.get("text", "") for b in _blocks(content) if b.get("type") == "text")


@dataclass
class RecordedRequest:
    """One request as the server saw it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    time: float
    status: int | None = None  # of the answer sent
    error: str | None = None  # the validation error, when the request was rejected
    outcome: str | None = None  # "complete", "client_gone" (client left or server closed), "dropped", "ended_early"

    @property
    def is_message(self) -> bool:
        return self.method == "POST" and self.path == "/v1/messages"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages", []) if isinstance(self.body, dict) else []

    @property
    def streamed(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def system_text(self) -> str:
        system = self.body.get("system", "") if isinstance(self.body, dict) else ""
        return _text_of(system)

    @property
    def tool_names(self) -> list[str]:
        tools = self.body.get("tools", []) if isinstance(self.body, dict) else []
        return [t.get("name", "") for t in tools if isinstance(t, dict)]

    def last_user_text(self) -> str:
        """Text blocks of the last user message ("" when it holds only tool results)."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return _text_of(users[-1].get("content")) if users else ""

    def turn_prompt(self) -> str:
        """Text of the latest user message that has any text: the prompt of the current turn."""
        for message in reversed(self.messages):
            if message.get("role") == "user" and (text := _text_of(message.get("content"))):
                return text
        return ""

    def tool_results(self) -> list[dict[str, Any]]:
        """tool_result blocks of the last message (empty unless it is a user message answering tools)."""
        if not self.messages or self.messages[-1].get("role") != "user":
            return []
        return [b for b in _blocks(self.messages[-1].get("content")) if b.get("type") == "tool_result"]

    def tool_result_texts(self) -> list[str]:
        return [_text_of(r.get("content")) if not isinstance(r.get("content"), str) else r["content"]
                for r in self.tool_results()]

    def all_text(self) -> str:
        """System prompt and every text and tool result of the conversation, for `in` checks."""
        parts = [self.system_text]
        for message in self.messages:
            for block in _blocks(message.get("content")):
                if block.get("type") == "text":
                    parts.append(block.get("text", ""))
                elif block.get("type") == "tool_result":
                    content = block.get("content")
                    parts.append(content if isinstance(content, str) else _text_of(content))
        return "\n".join(parts)


# --------------------------------------------------------------------------------------------------
# Validation, like the API's (only what would catch our bugs)


def validate_messages_request(body: Any) -> str | None:
    """The API's 400 message for an invalid /v1/messages body, or None when it would be accepted."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return f"{name}: Field required"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: Input should be a valid string"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: Input should be greater than or equal to 1"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    return (_validate_system(body.get("system")) or _validate_tools(body.get("tools"))
            or _validate_cache_breakpoints(body) or _validate_messages(messages))


def _validate_system(system: Any) -> str | None:
    if system is None or isinstance(system, str):
        return None
    if not isinstance(system, list):
        return "system: Input should be a valid string or list of text blocks"
    for i, block in enumerate(system):
        is_text = isinstance(block, dict) and block.get("type") == "text"
        if not is_text or not isinstance(block.get("text"), str):
            return f"system.{i}: Input should be a text block"
        if not block["text"]:
            return f"system.{i}.text: text content blocks must be non-empty"
    return None


def _validate_tools(tools: Any) -> str | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return "tools: Input should be a valid list"
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            return f"tools.{i}.name: Field required"
        if "type" not in tool and not isinstance(tool.get("input_schema"), dict):
            return f"tools.{i}.custom.input_schema: Field required"
        if tool["name"] in seen:
            return f"tools: Tool names must be unique. Duplicate: {tool['name']}"
        seen.add(tool["name"])
    return None


def _validate_cache_breakpoints(body: dict[str, Any]) -> str | None:
    blocks: list[Any] = list(body.get("tools") or [])
    if isinstance(body.get("system"), list):
        blocks += body["system"]
    for message in body["messages"]:
        if isinstance(message, dict):
            blocks += _blocks(message.get("content"))
    controls = [b["cache_control"] for b in blocks if isinstance(b, dict) and b.get("cache_control")]
    count = len(controls)
    if count > MAX_CACHE_BREAKPOINTS:
        limit = MAX_CACHE_BREAKPOINTS
        return f"A maximum of {limit} blocks with cache_control may be provided. Found {count}."
    ttls = [c.get("ttl", "5m") if isinstance(c, dict) else "5m" for c in controls]
    if any(t not in ("5m", "1h") for t in ttls):
        return f"cache_control.ttl: Input should be '5m' or '1h' (got {ttls})"
    if "1h" in ttls and "5m" in ttls[:len(ttls) - ttls[::-1].index("1h")]:  # tools, system, messages order
        return "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block"
    return None


def _validate_messages(messages: list[Any]) -> str | None:
    previous_tool_ids: list[str] = []
    previous_role: str | None = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            return f"messages.{i}: Input should be a valid dictionary"
        role = message.get("role")
        if role not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if i == 0 and role != "user":
            return 'messages: first message must use the "user" role'
        if role == previous_role:
            return (f'messages: roles must alternate between "user" and "assistant", '
                    f'but found multiple "{role}" roles in a row')
        problem = _validate_content(i, message, is_last=i == len(messages) - 1, answered=previous_tool_ids)
        if problem:
            return problem
        previous_tool_ids = [b.get("id", "") for b in _blocks(message.get("content"))
                             if b.get("type") == "tool_use"]
        previous_role = role
    if previous_tool_ids:
        return _missing_results(len(messages) - 1, previous_tool_ids)
    return None


def _missing_results(index: int, ids: list[str]) -> str:
    return (f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: "
            f"{', '.join(ids)}. Each `tool_use` block must have a corresponding `tool_result` block in the "
            "next message.")


def _validate_content(i: int, message: dict[str, Any], *, is_last: bool, answered: list[str]) -> str | None:
    content, role = message.get("content"), message["role"]
    if not isinstance(content, (str, list)):
        return f"messages.{i}.content: Input should be a valid string or list"
    if not content and not (is_last and role == "assistant"):
        return (f"messages.{i}: all messages must have non-empty content except for the optional final "
                "assistant message")
    blocks = _blocks(content)
    result_ids = [b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"]
    if answered and (missing := [t for t in answered if t not in result_ids]):
        return _missing_results(i - 1, missing)
    seen_other = False
    for j, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "text" and not block.get("text"):
            return f"messages.{i}.content.{j}.text: text content blocks must be non-empty"
        if kind == "tool_use" and role != "assistant":
            return f"messages.{i}.content.{j}: tool_use blocks may only appear in assistant messages"
        if kind == "tool_result":
            if role != "user":
                return f"messages.{i}.content.{j}: tool_result blocks may only appear in user messages"
            if block.get("tool_use_id") not in answered:
                return (f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                        f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message.")
            if seen_other:
                return f"messages.{i}.content.{j}: tool_result blocks must come before any other content"
        else:
            seen_other = True
        if kind == "tool_use" and not isinstance(block.get("input"), dict):
            return f"messages.{i}.content.{j}.input: Input should be a valid dictionary"
    return None


# --------------------------------------------------------------------------------------------------
# Wire format


def _split_text(text: str, pieces: int = 6) -> list[str]:
    """Text cut into several deltas (at least two when it has two characters)."""
    size = max(1, math.ceil(len(text) / pieces))
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _usage(reply: Reply, request: Any) -> dict[str, int]:
    output = estimate_tokens([b.get("text") or b.get("input") for b in reply.content]) if reply.content else 1
    usage = {
        "input_tokens": estimate_tokens({k: request.get(k) for k in ("system", "tools", "messages")}),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output,
    }
    usage.update(reply.usage)
    return usage


def message_json(reply: Reply, request: Any, message_id: str) -> dict[str, Any]:
    model = reply.model or (request.get("model") if isinstance(request, dict) else None) or MODELS[0]
    return {
        "id": message_id, "type": "message", "role": "assistant", "model": model,
        "content": reply.content, "stop_reason": reply.final_stop_reason, "stop_sequence": None,
        "usage": _usage(reply, request),
    }


class _Interrupt(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def sse_events(reply: Reply, request: Any, message_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The (event name, data) pairs of a streamed reply; raises _Interrupt where the reply is cut."""
    message = message_json(reply, request, message_id)
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    _cut_here(reply, "message_start")
    yield "ping", {"type": "ping"}
    _cut_here(reply, "ping")
    deltas = 0
    for index, block in enumerate(reply.content):
        if block.get("type") == "tool_use":
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            pieces = ["", *_split_text(json.dumps(block["input"]))]
            parts = [("input_json_delta", "partial_json", p) for p in pieces]
        else:
            head = {"type": "text", "text": ""}
            parts = [("text_delta", "text", p) for p in _split_text(block.get("text", ""))]
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": head}
        _cut_here(reply, "content_block_start", f"content_block_start:{head['type']}")
        for kind, key, piece in parts:
            if reply.interrupt and deltas >= reply.after_deltas:
                raise _Interrupt(reply.interrupt)
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": kind, key: piece}}
            deltas += 1
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        _cut_here(reply, "content_block_stop")
    if reply.interrupt and reply.cut_after != "message_delta":
        raise _Interrupt(reply.interrupt)
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                            "usage": usage}
    _cut_here(reply, "message_delta")
    yield "message_stop", {"type": "message_stop"}


def _cut_here(reply: Reply, *names: str) -> None:
    if reply.interrupt and reply.cut_after in names:
        raise _Interrupt(reply.interrupt)


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message},
            "request_id": "req_" + uuid.uuid4().hex[:24]}


# --------------------------------------------------------------------------------------------------
# The server


Responder = Callable[[RecordedRequest], "Reply | str"]


class _ClientGone(Exception):
    pass


@dataclass
class _Rule:
    predicate: Callable[[RecordedRequest], bool]
    reply: Reply | Responder
    times: int | None


def _ok_responder(request: RecordedRequest) -> Reply:
    return text_reply("OK")


def echo_responder(request: RecordedRequest) -> Reply:
    return text_reply(f"echo: {request.turn_prompt()[:500]}" if request.turn_prompt() else "OK")


class FakeAnthropic:
    """The fake API server, on 127.0.0.1 and a free port, served from a background thread."""

    def __init__(
        self,
        *,
        default: Responder | Reply | str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        validate: bool = True,
        api_key: str | None = None,
        context_window: int | None = None,
        seed: int = 0,
    ) -> None:
        self._lock = threading.Condition()
        self._scripted: deque[Reply | Responder] = deque()
        self._rules: list[_Rule] = []
        self._default: Responder = _ok_responder
        self._requests: list[RecordedRequest] = []
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.validate = validate
        self.api_key = api_key  # when set, other keys get 401
        self.context_window = context_window  # when set, bigger requests get 400 "prompt is too long"
        self.set_default(default)
        self._server = _Server((host, port), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]

    # lifecycle
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> FakeAnthropic:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fake-anthropic", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # scripting
    def script(self, *replies: Reply | Responder | str) -> FakeAnthropic:
        """Queue replies for the next requests, in order (strings are text replies)."""
        with self._lock:
            self._scripted.extend(text_reply(r) if isinstance(r, str) else r for r in replies)
        return self

    def when(self, predicate: Callable[[RecordedRequest], bool], reply: Reply | Responder | str, *,
             times: int | None = None) -> FakeAnthropic:
        """Answer requests matching `predicate` with `reply` (`times` uses, or forever); rules win over the
        script, earlier rules over later ones."""
        with self._lock:
            answer = text_reply(reply) if isinstance(reply, str) else reply
            self._rules.append(_Rule(predicate, answer, times))
        return self

    def set_default(self, default: Responder | Reply | str | None) -> None:
        if default is None:
            self._default = _ok_responder
        elif isinstance(default, (Reply, str)):
            fixed = text_reply(default) if isinstance(default, str) else default
            self._default = lambda request: fixed
        else:
            self._default = default

    @property
    def pending_replies(self) -> int:
        with self._lock:
            return len(self._scripted)

    # recorded traffic
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every /v1/messages request so far (accepted or not), oldest first."""
        with self._lock:
            return [r for r in self._requests if r.is_message]

    @property
    def all_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest | None:
        requests = self.requests
        return requests[-1] if requests else None

    @property
    def validation_errors(self) -> list[str]:
        return [r.error for r in self.requests if r.error]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until `count` message requests arrived; raises TimeoutError otherwise."""
        with self._lock:
            def arrived() -> int:
                return sum(r.is_message for r in self._requests)

            if not self._lock.wait_for(lambda: arrived() >= count, timeout):
                raise TimeoutError(f"expected {count} requests, got {arrived()}")
            return [r for r in self._requests if r.is_message]

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._scripted.clear()
            self._rules.clear()

    # used by the handler
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    def _notify(self) -> None:
        with self._lock:
            self._lock.notify_all()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until `condition()` (checked whenever a request arrives or ends) is true, or time out."""
        with self._lock:
            return self._lock.wait_for(condition, timeout)

    def _choose(self, request: RecordedRequest) -> Reply:
        with self._lock:
            chosen: Reply | Responder | None = None
            for rule in self._rules:
                if rule.predicate(request):
                    chosen = rule.reply
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    break
            if chosen is None and self._scripted:
                chosen = self._scripted.popleft()
            responder = chosen if chosen is not None else self._default
        reply = responder if isinstance(responder, Reply) else responder(request)
        return text_reply(reply) if isinstance(reply, str) else reply

    def _cut_points(self, size: int) -> list[int]:
        """Where to split an SSE event into HTTP chunks: one or two random places inside it."""
        with self._lock:
            if size < 4:
                return []
            return sorted(self._rng.sample(range(1, size), k=min(2, size - 1)))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients closing idle keep-alive connections is normal; anything else is printed as usual."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %r", client_address, sys.exc_info()[1])
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-anthropic/1.0"
    timeout = 30  # idle keep-alive connections end on their own

    @property
    def fake(self) -> FakeAnthropic:
        return self.server.fake  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        request = self._read_request(method)
        self.fake._record(request)
        try:
            self._route(request)
            request.outcome = request.outcome or "complete"
        except (_ClientGone, OSError) as exc:
            log.debug("response ended early: %r", exc)
            request.outcome = "client_gone"
            self.close_connection = True
        self.fake._notify()

    def _read_request(self, method: str) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        return RecordedRequest(method, self.path.split("?", 1)[0], headers, body, time.time())

    def _route(self, request: RecordedRequest) -> None:
        if not (request.headers.get("x-api-key") or request.headers.get("authorization")):
            return self._error(request, 401, "authentication_error", "x-api-key header is required")
        if self.fake.api_key and self.fake.api_key not in (
            request.headers.get("x-api-key"), request.headers.get("authorization", "").removeprefix("Bearer ")
        ):
            return self._error(request, 401, "authentication_error", "invalid x-api-key")
        if request.method == "POST" and request.path == "/v1/messages":
            return self._messages(request)
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            body = request.body if isinstance(request.body, dict) else {}
            tokens = estimate_tokens({k: body.get(k) for k in ("system", "tools", "messages")})
            return self._json(request, 200, {"input_tokens": tokens})
        if request.method == "GET" and request.path == "/v1/models":
            data = [_model_json(m) for m in MODELS]
            return self._json(request, 200, {"data": data, "has_more": False,
                                             "first_id": MODELS[0], "last_id": MODELS[-1]})
        if request.method == "GET" and request.path.startswith("/v1/models/"):
            return self._json(request, 200, _model_json(request.path.rsplit("/", 1)[1]))
        return self._error(request, 404, "not_found_error", f"Not found: {request.method} {request.path}")

    def _messages(self, request: RecordedRequest) -> None:
        problem = validate_messages_request(request.body) if self.fake.validate else None
        if problem:
            request.error = problem
            log.warning("fake API rejected a request: %s", problem)
            return self._error(request, 400, "invalid_request_error", problem)
        window = self.fake.context_window
        if window and (size := estimate_tokens({k: request.body.get(k) for k in ("system", "tools", "messages")})) \
                > window:
            request.error = f"prompt is too long: {size} tokens > {window} maximum"
            return self._error(request, 400, "invalid_request_error", request.error)
        try:
            reply = self.fake._choose(request)
        except Exception as exc:  # a broken test responder: fail that request visibly, not by a reset
            request.error = f"fake API responder failed: {exc!r}"
            log.exception("fake API responder failed")
            return self._error(request, 400, "invalid_request_error", request.error)
        self._pause(reply.delay_s)
        if reply.status >= 400:
            kind = reply.error_type or ERROR_TYPES.get(reply.status, "api_error")
            return self._error(request, reply.status, kind, reply.error_message or kind, reply.headers)
        message_id = "msg_" + uuid.uuid4().hex[:24]
        if not request.streamed:
            return self._json(request, 200, message_json(reply, request.body, message_id), reply.headers)
        self._stream(request, reply, message_id)

    def _stream(self, request: RecordedRequest, reply: Reply, message_id: str) -> None:
        request.status = 200
        self.send_response(200)
        for name, value in {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                            "transfer-encoding": "chunked", "request-id": "req_" + message_id[4:],
                            **reply.headers}.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for name, data in sse_events(reply, request.body, message_id):
                self._send_event(name, data, reply.chunk_delay_s)
        except _Interrupt as cut:
            if cut.kind == "drop":
                request.outcome = "dropped"
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if cut.kind == "stall":
                self._pause(math.inf)  # ends only by raising _ClientGone
            if cut.kind == "end":
                request.outcome = "ended_early"
                self.wfile.write(b"0\r\n\r\n")
                return
            body = error_body(reply.error_type or "overloaded_error",
                              reply.error_message or ERROR_MESSAGES.get(reply.error_type or "", "Overloaded"))
            self._send_event("error", body, reply.chunk_delay_s)
        self.wfile.write(b"0\r\n\r\n")

    def _send_event(self, name: str, data: dict[str, Any], chunk_delay_s: float) -> None:
        payload = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        edges = [0, *self.fake._cut_points(len(payload)), len(payload)]
        for start, end in itertools.pairwise(edges):
            self.wfile.write(b"%x\r\n%s\r\n" % (end - start, payload[start:end]))
            self.wfile.flush()
            self._pause(chunk_delay_s)

    def _json(self, request: RecordedRequest, status: int, body: Any,
              headers: Mapping[str, str] | None = None) -> None:
        request.status = status
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, request: RecordedRequest, status: int, kind: str, message: str,
               headers: Mapping[str, str] | None = None) -> None:
        self._json(request, status, error_body(kind, message), headers)

    def _pause(self, seconds: float) -> None:
        """Sleep, but give up at once when the client disconnects or the server closes."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.fake._stopping.is_set():
                raise _ClientGone
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if readable:
                try:
                    peeked = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    raise _ClientGone from None
                if not peeked:
                    raise _ClientGone
                time.sleep(min(left, 0.05))  # the client sent more (a pipelined request): just wait


def _model_json(model_id: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": model_id, "created_at": "2025-01-01T00:00:00Z"}


def child_env(api: FakeAnthropic, home: Path | str, base: Mapping[str, str] | None = None,
              **overrides: str) -> dict[str, str]:
    """The environment for a child process (`agent -p`, the REPL under pexpect) that talks to `api`:
    no proxies, no stray Anthropic or Claude settings from the outer shell, HOME in a temp folder."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.lower().endswith("_proxy") and not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    Path(home).mkdir(parents=True, exist_ok=True)
    env.update(ANTHROPIC_BASE_URL=api.base_url, ANTHROPIC_API_KEY="test-key", HOME=str(home),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    env.update(overrides)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a fake Anthropic Messages API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--script", type=Path, help="JSON list of replies served in order before the default")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each default reply")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between stream chunks")
    parser.add_argument("--text", help="fixed default reply text (default: echo the prompt)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def responder(request: RecordedRequest) -> Reply:
        reply = text_reply(args.text) if args.text else echo_responder(request)
        reply.delay_s, reply.chunk_delay_s = args.delay, args.chunk_delay
        return reply

    api = FakeAnthropic(default=responder, port=args.port)
    if args.script:
        api.script(*(Reply.from_dict(spec) for spec in json.loads(args.script.read_text())))
    with api:
        print(api.base_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
