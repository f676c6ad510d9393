"""agent.engine.llm against the fake API through the real SDK: streaming, retries, errors, caching, usage, cost."""

from __future__ import annotations

import asyncio
import socket

import anthropic
import pytest
from anthropic.resources.messages.messages import DEPRECATED_MODELS
from fake_api import (
    FakeAnthropic,
    dropped_after,
    dropped_reply,
    error_reply,
    overloaded_reply,
    rate_limit_reply,
    stream_error_reply,
    text_reply,
    tool_reply,
)

from agent.engine.events import RetryNotice, TextBlockDone, TextDelta, Usage
from agent.engine.llm import (
    DEFAULT_MODEL,
    LLM,
    ConnectionFailedError,
    InvalidCredentialsError,
    InvalidRequestError,
    MissingCredentialsError,
    ModelNotFoundError,
    OverloadedError,
    PromptTooLongError,
    context_window_for,
    cost_usd,
    resolve_model,
)

HI = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
AUTH_MESSAGE = "Authentication failed (401): set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) to a valid key"


class RecordingSleep:
    """Stands in for asyncio.sleep: records the waits, returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def llm(fake_api: FakeAnthropic, sleep: RecordingSleep):
    client = LLM(api_key="test-key", base_url=fake_api.base_url, sleep=sleep, max_retries=2)
    yield client
    await client.aclose()


async def stream(llm: LLM, **kwargs):
    events: list = []
    response = await llm.stream_message(system=kwargs.pop("system", "You are a test."),
                                        messages=kwargs.pop("messages", HI), emit=events.append, **kwargs)
    return response, events


async def test_text_streams_out_as_deltas_and_the_response_is_history_ready(fake_api, llm):
    fake_api.script(tool_reply(("Read", {"file_path": "a.py"}), text="Reading the file now."))
    response, events = await stream(llm)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == "Reading the file now."
    assert [e.text for e in events if isinstance(e, TextBlockDone)] == ["Reading the file now."]
    assert response.content[0] == {"type": "text", "text": "Reading the file now."}
    assert response.content[1]["type"] == "tool_use" and response.content[1]["input"] == {"file_path": "a.py"}
    assert set(response.content[1]) == {"type", "id", "name", "input"}
    assert response.stop_reason == "tool_use" and response.tool_uses == [response.content[1]]


async def test_529_then_success_is_retried_by_the_sdk_and_the_wait_announced(fake_api, llm, sleep):
    fake_api.script(overloaded_reply(retry_after=0), text_reply("fine now"))
    response, events = await stream(llm)
    assert response.text == "fine now" and len(fake_api.requests) == 2
    [notice] = [e for e in events if isinstance(e, RetryNotice)]
    assert "overloaded (529)" in notice.reason and notice.attempt == 1 and not notice.discarded_output
    assert len(sleep.calls) == 1 and 0 < sleep.calls[0] <= 8


async def test_retry_after_of_one_second_is_honoured(fake_api, llm, sleep):
    fake_api.script(rate_limit_reply(retry_after=1), text_reply("ok"))
    _, events = await stream(llm)
    assert sleep.calls == [1.0]
    assert [(e.reason, e.wait_s) for e in events if isinstance(e, RetryNotice)] == [("rate limited (429)", 1.0)]


async def test_huge_retry_after_is_capped_and_announced_instead_of_freezing(fake_api, llm, sleep):
    fake_api.script(overloaded_reply(retry_after=86400), text_reply("ok"))
    response, events = await asyncio.wait_for(stream(llm), 10)  # fails, not hangs, if the hook is lost
    assert response.text == "ok"
    assert sleep.calls == [60.0]
    [notice] = [e for e in events if isinstance(e, RetryNotice)]
    assert notice.wait_s == 60.0 and "asked to wait 86400 s" in notice.reason


async def test_overloaded_mid_stream_retries_the_whole_request_and_shows_the_text_once(fake_api, llm, sleep):
    fake_api.script(stream_error_reply("the whole answer", after_deltas=2), text_reply("the whole answer"))
    response, events = await stream(llm)
    assert response.text == "the whole answer" and response.attempts == 2
    assert len(fake_api.requests) == 2
    [notice] = [e for e in events if isinstance(e, RetryNotice)]
    assert "overloaded_error" in notice.reason and notice.wait_s == sleep.calls[0] and not notice.discarded_output
    assert shown_text(events) == "the whole answer"
    assert [e.text for e in events if isinstance(e, TextBlockDone)] == ["the whole answer"]


def shown_text(events: list) -> str:
    """The text a face shows: deltas, minus what a discarding notice took back."""
    text = ""
    for event in events:
        if isinstance(event, RetryNotice) and event.discarded_output:
            text = ""
        elif isinstance(event, TextDelta):
            text += event.text
    return text


async def test_dropped_connection_mid_stream_is_retried(fake_api, llm):
    fake_api.script(dropped_reply("cut off here"), text_reply("second try"))
    response, events = await stream(llm)
    assert response.text == "second try"
    assert any(isinstance(e, RetryNotice) and "connection lost" in e.reason for e in events)


async def test_connection_dropped_after_message_start_is_retried_before_any_text(fake_api, llm):
    fake_api.script(dropped_after("message_start", text_reply("the answer")), text_reply("the answer"))
    response, events = await stream(llm)
    assert response.text == "the answer" and response.attempts == 2 and len(fake_api.requests) == 2
    assert fake_api.requests[0].outcome == "dropped"
    assert [type(e) for e in events] == [RetryNotice, *[TextDelta] * (len(events) - 2), TextBlockDone]
    assert "connection lost" in events[0].reason and shown_text(events) == "the answer"


async def test_connection_dropped_after_some_text_does_not_show_that_text_twice(fake_api, llm):
    answer = "The tests pass now: the off-by-one was in the loop bound."
    fake_api.script(dropped_reply(answer, after_deltas=2), text_reply(answer))
    response, events = await stream(llm)
    assert response.text == answer and len(fake_api.requests) == 2
    before_retry = events[:next(i for i, e in enumerate(events) if isinstance(e, RetryNotice))]
    assert "".join(e.text for e in before_retry if isinstance(e, TextDelta))  # some text was shown first
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer
    assert [e.text for e in events if isinstance(e, TextBlockDone)] == [answer]


async def test_connection_dropped_after_a_tool_use_started_returns_the_whole_call_on_retry(fake_api, llm):
    call = ("Edit", {"file_path": "a.py", "old_string": "x = 1", "new_string": "x = 2"})
    fake_api.script(dropped_after("content_block_start:tool_use", tool_reply(call, text="Fixing it.")),
                    tool_reply(call, text="Fixing it."))
    response, events = await stream(llm)
    assert len(fake_api.requests) == 2 and response.stop_reason == "tool_use"
    assert [u["input"] for u in response.tool_uses] == [call[1]]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Fixing it."
    assert [e.text for e in events if isinstance(e, TextBlockDone)] == ["Fixing it."]


@pytest.mark.parametrize("cut", ["message_start", "content_block_start:tool_use", "message_delta"])
async def test_a_stream_that_ends_without_message_stop_is_never_the_answer(fake_api, llm, cut):
    call = ("Read", {"file_path": "a.py"})
    fake_api.script(dropped_after(cut, tool_reply(call), clean_end=True), tool_reply(call))
    response, events = await stream(llm)
    assert fake_api.requests[0].outcome == "ended_early" and len(fake_api.requests) == 2
    assert response.stop_reason == "tool_use" and [u["input"] for u in response.tool_uses] == [call[1]]
    [notice] = [e for e in events if isinstance(e, RetryNotice)]
    assert "ended before message_stop" in notice.reason


async def test_a_retry_that_says_something_else_replaces_the_text_shown(fake_api, llm):
    fake_api.script(dropped_reply("Version one of the answer", after_deltas=2), text_reply("Another answer"))
    response, events = await stream(llm)
    assert response.text == "Another answer"
    discard = [e for e in events if isinstance(e, RetryNotice) and e.discarded_output]
    assert len(discard) == 1 and discard[0].wait_s == 0
    assert shown_text(events) == "Another answer"


async def test_a_transport_error_the_sdk_does_not_wrap_is_retried_too(fake_api, llm, monkeypatch):
    """SDKs that pass the transport's own exception through mid-stream (no APIConnectionError)."""
    import anthropic._streaming as sdk_streaming

    monkeypatch.setattr(sdk_streaming, "async_iter_response_bytes", lambda response, client: response.aiter_bytes())
    fake_api.script(dropped_reply("cut off here"), text_reply("second try"))
    response, events = await stream(llm)
    assert response.text == "second try"
    assert any(isinstance(e, RetryNotice) and "connection lost (RemoteProtocolError)" in e.reason for e in events)


async def test_mid_stream_failures_give_up_after_the_bounded_retries(fake_api, sleep):
    fake_api.script(*(stream_error_reply() for _ in range(3)))
    client = LLM(api_key="k", base_url=fake_api.base_url, sleep=sleep, stream_retries=2)
    with pytest.raises(OverloadedError) as caught:
        await stream(client)
    await client.aclose()
    assert len(fake_api.requests) == 3 and "try again" in caught.value.message
    assert sleep.calls == [1.0, 2.0]


async def test_401_fails_at_once_with_a_hint_and_without_the_key(fake_api, sleep):
    fake_api.script(error_reply(401))
    client = LLM(api_key="sk-secret-123", base_url=fake_api.base_url, sleep=sleep)
    with pytest.raises(InvalidCredentialsError) as caught:
        await stream(client)
    await client.aclose()
    assert caught.value.message == AUTH_MESSAGE and len(fake_api.requests) == 1 and sleep.calls == []
    assert "sk-secret-123" not in str(caught.value)


def test_missing_key_is_reported_before_any_request():
    with pytest.raises(MissingCredentialsError) as caught:
        LLM.from_env({"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"})
    assert "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) to a valid key" in caught.value.message


async def test_auth_token_is_sent_when_there_is_no_api_key(fake_api):
    client = LLM.from_env({"ANTHROPIC_AUTH_TOKEN": "tok-1", "ANTHROPIC_BASE_URL": fake_api.base_url})
    await stream(client)
    await client.aclose()
    assert fake_api.requests[0].headers["authorization"] == "Bearer tok-1"


async def test_400_shows_the_api_message_and_hides_the_key(fake_api, sleep):
    fake_api.script(error_reply(400, "max_tokens: too large for key sk-secret-123"))
    client = LLM(api_key="sk-secret-123", base_url=fake_api.base_url, sleep=sleep)
    with pytest.raises(InvalidRequestError) as caught:
        await stream(client)
    await client.aclose()
    assert "(400): max_tokens: too large" in caught.value.message and "sk-secret-123" not in caught.value.message


async def test_prompt_too_long_is_its_own_error(fake_api, llm):
    fake_api.script(error_reply(400, "prompt is too long: 210000 tokens > 200000 maximum"))
    with pytest.raises(PromptTooLongError):
        await stream(llm)


async def test_404_suggests_choosing_another_model(fake_api, llm):
    fake_api.script(error_reply(404, "model: claude-nope"))
    with pytest.raises(ModelNotFoundError) as caught:
        await stream(llm)
    assert "--model" in caught.value.message and "ANTHROPIC_MODEL" in caught.value.message


async def test_connection_refused_names_the_base_url(sleep):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = LLM(api_key="k", base_url=f"http://127.0.0.1:{port}", sleep=sleep, max_retries=1)
    events: list = []
    with pytest.raises(ConnectionFailedError) as caught:
        await client.stream_message(system="s", messages=HI, emit=events.append)
    await client.aclose()
    assert f"http://127.0.0.1:{port}" in caught.value.message and "ANTHROPIC_BASE_URL" in caught.value.message
    assert [e.reason for e in events if isinstance(e, RetryNotice)] == ["connection failed"]


async def test_cache_breakpoints_sit_on_system_last_tool_and_last_user_block(fake_api, llm):
    tools = [{"name": n, "description": n, "input_schema": {"type": "object"}} for n in ("A", "B", "C")]
    history = [{"role": "user", "content": [{"type": "text", "text": "first"}]},
               {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},
               {"role": "user", "content": [{"type": "text", "text": "second"}]}]
    await llm.stream_message(system="SYSTEM PROMPT", messages=history, tools=tools)
    body = fake_api.requests[0].body
    ephemeral = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "SYSTEM PROMPT", "cache_control": ephemeral}]
    assert [t.get("cache_control") for t in body["tools"]] == [None, None, ephemeral]
    assert body["messages"][-1]["content"][-1]["cache_control"] == ephemeral
    assert "cache_control" not in body["messages"][0]["content"][0]
    assert "cache_control" not in history[-1]["content"][-1] and "cache_control" not in tools[-1]


async def test_usage_is_reported_per_request(fake_api, llm):
    fake_api.script(text_reply("x", usage={"input_tokens": 10, "output_tokens": 20,
                                           "cache_read_input_tokens": 30, "cache_creation_input_tokens": 40}))
    response, _ = await stream(llm)
    assert response.usage == Usage(10, 20, 30, 40) and response.usage.context_tokens == 80


def test_usage_adds_up_and_costs_follow_the_price_table():
    total = Usage(1_000_000, 0, 0, 0) + Usage(0, 1_000_000, 1_000_000, 1_000_000)
    assert total == Usage(1_000_000, 1_000_000, 1_000_000, 1_000_000)
    assert cost_usd(total, "claude-sonnet-4-6") == pytest.approx(3 + 15 + 0.30 + 3.75)
    assert cost_usd(total, "claude-opus-4-6") == pytest.approx(5 + 25 + 0.50 + 6.25)
    assert cost_usd(total, "claude-haiku-4-5-20251001") == pytest.approx(1 + 5 + 0.10 + 1.25)
    assert cost_usd(Usage(1_000_000), "claude-opus-4-1") == pytest.approx(15)
    assert cost_usd(total, "my-local-model") is None
    assert total.to_dict()["cache_read_input_tokens"] == 1_000_000


def test_model_comes_from_flag_then_env_then_settings_then_default():
    assert resolve_model("claude-opus-4-6", {"ANTHROPIC_MODEL": "b"}, "c") == "claude-opus-4-6"
    assert resolve_model(None, {"ANTHROPIC_MODEL": "b"}, "c") == "b"
    assert resolve_model(None, {}, "c") == "c"
    assert resolve_model(None, {}, None) == DEFAULT_MODEL
    assert resolve_model("haiku", {}, None) == "claude-haiku-4-5"


def test_default_model_is_current_in_the_installed_sdk():
    assert DEFAULT_MODEL not in DEPRECATED_MODELS
    assert DEFAULT_MODEL in str(anthropic.types.Model)


def test_context_window_defaults_to_200k_and_can_be_overridden():
    assert context_window_for("claude-sonnet-4-6") == 200_000
    assert context_window_for("claude-sonnet-4-6", 2_000) == 2_000
