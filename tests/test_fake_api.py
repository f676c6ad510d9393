"""The fake Messages API: wire format as the real SDK reads it, scripting, errors and validation."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import anthropic
import pytest
from fake_api import (
    FakeAnthropic,
    ToolCall,
    child_env,
    error_reply,
    overloaded_reply,
    stalled_reply,
    stream_error_reply,
    text_reply,
    tool_reply,
    validate_messages_request,
)

MODEL = "claude-sonnet-4-6"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def client(fake_api: FakeAnthropic):
    sdk = anthropic.AsyncAnthropic(api_key="test-key", base_url=fake_api.base_url, max_retries=0)
    yield sdk
    await sdk.close()


def post(api: FakeAnthropic, path: str, body: object, headers: dict[str, str] | None = None):
    """A raw request with urllib; returns (status, headers, parsed body)."""
    request = urllib.request.Request(api.base_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def raw_stream(api: FakeAnthropic, body: dict) -> list[bytes]:
    """POST with stream: true over a bare socket; returns the HTTP chunks of the body as sent."""
    data = json.dumps({**body, "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: k\r\nConnection: close\r\n"
                     b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(data), data))
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body_bytes = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    chunks = []
    while True:
        size_line, _, body_bytes = body_bytes.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return chunks
        chunks.append(body_bytes[:size])
        body_bytes = body_bytes[size + 2:]


async def test_sdk_reassembles_text_and_tool_input_streamed_in_several_deltas(fake_api, client):
    fake_api.script(tool_reply(ToolCall("Read", {"file_path": "src/app.py", "limit": 20}, id="toolu_1"),
                               text="Let me read the file first."))
    kinds: list[str] = []
    async with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as stream:
        async for event in stream:
            kinds.append(event.type)
        message = await stream.get_final_message()
    assert kinds.count("text") > 2 and kinds.count("input_json") > 2
    assert message.content[0].text == "Let me read the file first."
    assert message.content[1].input == {"file_path": "src/app.py", "limit": 20}
    assert message.content[1].id == "toolu_1" and message.stop_reason == "tool_use"


def test_stream_is_sent_as_the_api_event_sequence_cut_across_http_chunks(fake_api):
    fake_api.script(text_reply("Hello from the fake server"))
    chunks = raw_stream(fake_api, {"model": MODEL, "max_tokens": 10, "messages": HI})
    text = b"".join(chunks).decode()
    names = [line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") > 1
    assert len(chunks) > len(names)  # events are split across writes...
    assert any(not c.endswith(b"\n\n") for c in chunks)  # ...at points inside an event


async def test_non_streaming_request_gets_a_json_message_with_the_scripted_usage(fake_api, client):
    usage = {"input_tokens": 1234, "output_tokens": 56, "cache_read_input_tokens": 700,
             "cache_creation_input_tokens": 80}
    fake_api.script(text_reply("plain", usage=usage, stop_reason="max_tokens"))
    message = await client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    assert message.content[0].text == "plain" and message.stop_reason == "max_tokens"
    assert message.usage.input_tokens == 1234 and message.usage.output_tokens == 56
    assert message.usage.cache_read_input_tokens == 700 and message.usage.cache_creation_input_tokens == 80
    assert fake_api.last_request is not None and not fake_api.last_request.streamed


async def test_streamed_usage_reaches_the_sdk_final_message(fake_api, client):
    fake_api.script(text_reply("x", usage={"input_tokens": 900, "output_tokens": 33,
                                           "cache_read_input_tokens": 5}))
    async with client.messages.stream(model=MODEL, max_tokens=10, messages=HI) as stream:
        message = await stream.get_final_message()
    assert (message.usage.input_tokens, message.usage.output_tokens) == (900, 33)
    assert message.usage.cache_read_input_tokens == 5


def test_error_reply_has_the_api_error_shape_and_retry_after(fake_api):
    fake_api.script(overloaded_reply(retry_after=7))
    status, headers, body = post(fake_api, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": HI},
                                 {"x-api-key": "k"})
    assert status == 529 and headers.get("retry-after") == "7"
    assert body["type"] == "error" and body["error"]["type"] == "overloaded_error"
    assert body["error"]["message"]


async def test_error_event_mid_stream_reaches_the_sdk_after_partial_text(fake_api, client):
    fake_api.script(stream_error_reply("partial answer text", after_deltas=2))
    seen = ""
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client.messages.stream(model=MODEL, max_tokens=10, messages=HI) as stream:
            async for event in stream:
                if event.type == "text":
                    seen += event.text
    assert seen and "partial answer text".startswith(seen) and seen != "partial answer text"
    assert caught.value.type == "overloaded_error"


async def test_rules_answer_by_prompt_before_the_fifo_script_and_default(fake_api, client):
    fake_api.when(lambda r: "deploy" in r.turn_prompt(), text_reply("checked the deploy"))
    fake_api.script("first scripted")

    async def ask(text: str) -> str:
        message = await client.messages.create(model=MODEL, max_tokens=10,
                                               messages=[{"role": "user", "content": text}])
        return message.content[0].text

    assert await ask("check the deploy") == "checked the deploy"
    assert await ask("hello") == "first scripted"
    assert await ask("hello again") == "OK"
    assert await ask("deploy again?") == "checked the deploy"  # rules without `times` stay


async def test_rule_with_times_is_used_up(fake_api, client):
    fake_api.when(lambda r: True, "once", times=1)
    first = await client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    second = await client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    assert (first.content[0].text, second.content[0].text) == ("once", "OK")


async def test_history_with_unanswered_tool_use_is_rejected_like_the_api(fake_api, client):
    messages = [
        {"role": "user", "content": "read it"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {}}]},
        {"role": "user", "content": "never mind"},
    ]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=MODEL, max_tokens=10, messages=messages)
    assert "tool_use` ids were found without `tool_result`" in str(caught.value)
    assert "toolu_9" in fake_api.validation_errors[0]
    assert fake_api.pending_replies == 0 and fake_api.last_request.status == 400


@pytest.mark.parametrize(("messages", "expected"), [
    ([{"role": "assistant", "content": "hi"}], 'first message must use the "user" role'),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "roles must alternate"),
    ([{"role": "user", "content": [{"type": "text", "text": ""}]}], "text content blocks must be non-empty"),
    ([{"role": "user", "content": []}], "must have non-empty content"),
    ([{"role": "user", "content": "a"},
      {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "X", "input": {}}]}],
     "`tool_use` ids were found without `tool_result`"),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"}]}],
     "unexpected `tool_use_id`"),
    ([{"role": "user", "content": "a"},
      {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "X", "input": {}}]},
      {"role": "user", "content": [{"type": "text", "text": "note"},
                                   {"type": "tool_result", "tool_use_id": "t1", "content": "x"}]}],
     "tool_result blocks must come before"),
])
def test_validation_catches_broken_histories(messages, expected):
    problem = validate_messages_request({"model": MODEL, "max_tokens": 5, "messages": messages})
    assert problem is not None and expected in problem


def test_validation_accepts_a_complete_tool_round_trip_and_a_final_assistant_prefill():
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "X", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "x"},
                                     {"type": "text", "text": "and then?"}]},
        {"role": "assistant", "content": ""},
    ]
    assert validate_messages_request({"model": MODEL, "max_tokens": 5, "messages": messages}) is None


def test_validation_requires_fields_and_limits_cache_breakpoints():
    assert validate_messages_request({"model": MODEL, "messages": HI}) == "max_tokens: Field required"
    cached = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    body = {"model": MODEL, "max_tokens": 5, "system": [cached, cached, cached],
            "messages": [{"role": "user", "content": [cached, cached]}]}
    assert "maximum of 4 blocks with cache_control" in validate_messages_request(body)


async def test_requests_over_the_configured_context_window_are_too_long(fake_api, client):
    fake_api.context_window = 50
    await client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        await client.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x" * 400}])
    assert fake_api.validation_errors == ["prompt is too long: 120 tokens > 50 maximum"]


def test_request_without_credentials_gets_401(fake_api):
    status, _, body = post(fake_api, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": HI})
    assert status == 401 and body["error"]["type"] == "authentication_error"


def test_wrong_key_gets_401_when_the_server_expects_one():
    with FakeAnthropic(api_key="right") as api:
        status, _, _ = post(api, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": HI},
                            {"x-api-key": "wrong"})
        ok, _, _ = post(api, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": HI},
                        {"authorization": "Bearer right"})
    assert (status, ok) == (401, 200)


def test_error_reply_builder_defaults_match_the_api_types():
    assert error_reply(429).error_type == "rate_limit_error"
    assert error_reply(401).error_type == "authentication_error"
    assert error_reply(500, "boom").error_message == "boom"


async def test_stalled_stream_stops_when_the_client_disconnects(fake_api, client):
    fake_api.script(stalled_reply("one two three four"))
    async with client.messages.stream(model=MODEL, max_tokens=10, messages=HI) as stream:
        async for event in stream:
            if event.type == "text":
                break  # leaving the block closes the connection
    assert fake_api.wait_for(lambda: fake_api.requests[0].outcome == "client_gone", timeout=3)


async def test_delay_holds_back_the_first_byte(fake_api, client):
    fake_api.script(text_reply("slow", delay_s=0.3))
    start = time.monotonic()
    await client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    assert time.monotonic() - start >= 0.3


def test_count_tokens_and_models_answer_plausibly(fake_api):
    status, _, body = post(fake_api, "/v1/messages/count_tokens", {"model": MODEL, "messages": HI},
                           {"x-api-key": "k"})
    assert status == 200 and body["input_tokens"] > 0
    request = urllib.request.Request(fake_api.base_url + "/v1/models", headers={"x-api-key": "k"})
    with urllib.request.urlopen(request, timeout=5) as response:
        models = json.loads(response.read())
    assert MODEL in [m["id"] for m in models["data"]]


def test_recorded_request_helpers_read_the_conversation(fake_api):
    messages = [
        {"role": "user", "content": "please read"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "file text",
                                      "is_error": True}]},
    ]
    post(fake_api, "/v1/messages", {"model": MODEL, "max_tokens": 5, "messages": messages, "system": "SYS",
                                    "tools": [{"name": "Read", "input_schema": {"type": "object"}}]},
         {"x-api-key": "k"})
    [request] = fake_api.wait_for_requests(1)
    assert request.turn_prompt() == "please read" and request.last_user_text() == ""
    assert request.tool_result_texts() == ["file text"] and request.tool_results()[0]["is_error"]
    assert request.system_text == "SYS" and request.tool_names == ["Read"]
    assert "file text" in request.all_text()


def test_child_env_points_at_the_server_without_proxies(fake_api, tmp_path):
    base = {"HTTPS_PROXY": "http://proxy:1", "http_proxy": "http://proxy:1", "ANTHROPIC_MODEL": "x",
            "PATH": "/bin"}
    env = child_env(fake_api, tmp_path / "home", base=base)
    assert env["ANTHROPIC_BASE_URL"] == fake_api.base_url and env["ANTHROPIC_API_KEY"] == "test-key"
    assert "HTTPS_PROXY" not in env and "http_proxy" not in env and "ANTHROPIC_MODEL" not in env
    assert env["HOME"] == str(tmp_path / "home") and env["PATH"] == "/bin"


def test_fake_api_env_fixture_gives_a_usable_child_environment(fake_api_env, fake_api):
    assert fake_api_env["ANTHROPIC_BASE_URL"] == fake_api.base_url
    assert Path(fake_api_env["HOME"]).is_dir()


def test_cli_serves_an_echo_until_stopped(tmp_path):
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([{"text": "scripted first"}]))
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_api.py")), "--script",
                                str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        texts = []
        for prompt in ("one", "two"):
            request = urllib.request.Request(
                base_url + "/v1/messages", method="POST", headers={"x-api-key": "k"},
                data=json.dumps({"model": MODEL, "max_tokens": 5,
                                 "messages": [{"role": "user", "content": prompt}]}).encode())
            with urllib.request.urlopen(request, timeout=5) as response:
                texts.append(json.loads(response.read())["content"][0]["text"])
        assert texts == ["scripted first", "echo: two"]
    finally:
        process.terminate()
        process.wait(timeout=5)


async def test_a_failing_responder_fails_that_request_visibly(fake_api, client):
    fake_api.set_default(lambda request: 1 / 0)
    with pytest.raises(anthropic.BadRequestError, match="ZeroDivisionError"):
        await client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    assert "ZeroDivisionError" in fake_api.validation_errors[0]
