"""`agent -p` speaks Claude Code's output schema: field names and types compared with a recorded stream.

`tests/data/claude_code_stream.jsonl` is a small Claude Code `-p --output-format stream-json --verbose
--include-partial-messages` stream for a conversation that reads a file, is denied a Bash call, and
answers. The same conversation is scripted into the fake API and run through `agent -p`.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from fake_api import error_reply, text_reply, tool_reply
from test_headless_e2e import run_agent

RECORDED = Path(__file__).parent / "data" / "claude_code_stream.jsonl"


def shape(value: Any, like: Any) -> Any:
    """The part of `value`'s structure that `like` (the recorded value) has: keys and JSON types."""
    if isinstance(like, dict):
        if not isinstance(value, dict):
            return type(value).__name__
        return {k: shape(value[k], like[k]) if k in value else "MISSING" for k in like}
    if isinstance(like, list):
        if not isinstance(value, list):
            return type(value).__name__
        return [shape(value[0], like[0])] if like and value else []
    if isinstance(like, bool) or isinstance(value, bool):
        return type(value).__name__
    if isinstance(like, (int, float)) and isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def recorded() -> list[dict[str, Any]]:
    return [json.loads(line) for line in RECORDED.read_text().splitlines()]


def script_the_recorded_conversation(fake_api, project: Path) -> None:
    (project / "a.txt").write_text("alpha\n")
    usage = {"input_tokens": 1200, "output_tokens": 40, "cache_read_input_tokens": 300,
             "cache_creation_input_tokens": 50}
    fake_api.script(tool_reply(("Read", {"file_path": "a.txt"}), usage=usage),
                    tool_reply(("Bash", {"command": "rm -rf build"}), usage=usage),
                    text_reply("alpha it is", usage=usage))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_stream_json_has_claude_codes_messages_with_the_same_field_names_and_types(fake_api, project):
    script_the_recorded_conversation(fake_api, project)
    done = run_agent(fake_api, project, "-p", "what is in a.txt", "--output-format", "stream-json",
                     "--verbose")
    assert done.returncode == 0, done.stderr
    ours = lines(done.stdout)
    theirs = [m for m in recorded() if m["type"] != "stream_event"]
    assert [(m["type"], m.get("subtype")) for m in ours] == [(m["type"], m.get("subtype")) for m in theirs]
    for mine, reference in zip(ours, theirs, strict=True):
        assert shape(mine, reference) == shape(reference, reference), mine["type"]
    assert len({m["session_id"] for m in ours}) == 1
    result = ours[-1]
    assert result["result"] == "alpha it is" and result["num_turns"] == 3
    assert result["permission_denials"] == [{"tool_name": "Bash", "tool_use_id": ours[3]["message"]["content"][0]
                                             ["id"], "tool_input": {"command": "rm -rf build"}}]
    assert ours[2]["message"]["content"][0]["content"].find("alpha") >= 0


def test_json_output_is_claude_codes_result_object(fake_api, project):
    script_the_recorded_conversation(fake_api, project)
    done = run_agent(fake_api, project, "-p", "what is in a.txt", "--output-format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    reference = recorded()[-1]
    assert shape(result, reference) == shape(reference, reference)


def test_include_partial_messages_adds_the_raw_stream_events(fake_api, project):
    fake_api.script(text_reply("streamed answer"))
    done = run_agent(fake_api, project, "-p", "hi", "--output-format", "stream-json", "--verbose",
                     "--include-partial-messages")
    assert done.returncode == 0, done.stderr
    ours = lines(done.stdout)
    events = [m for m in ours if m["type"] == "stream_event"]
    kinds = [e["event"]["type"] for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_delta" in kinds
    text = "".join(e["event"]["delta"].get("text", "") for e in events if e["event"]["type"] == "content_block_delta")
    assert text == "streamed answer"
    reference = next(m for m in recorded() if m["type"] == "stream_event")
    assert shape(events[0], reference) == shape(reference, reference)
    assert "content_block" not in next(e["event"] for e in events if e["event"]["type"] == "content_block_stop")


def test_without_partial_messages_there_are_no_stream_events(fake_api, project):
    fake_api.script(text_reply("answer"))
    done = run_agent(fake_api, project, "-p", "hi", "--output-format", "stream-json", "--verbose")
    assert [m["type"] for m in lines(done.stdout)] == ["system", "assistant", "result"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


FAILURES = {
    "no key": ({"ANTHROPIC_API_KEY": ""}, "ANTHROPIC_API_KEY", "error_during_execution"),
    "401": ({}, "401", "error_during_execution"),
    "connection refused": ({"ANTHROPIC_BASE_URL": "http://127.0.0.1:{port}", "AGENT_MAX_RETRIES": "0"},
                           "Cannot connect", "error_during_execution"),
    "max turns": ({}, "max-turns", "error_max_turns"),
}


@pytest.mark.parametrize("fmt", ["json", "stream-json"])
@pytest.mark.parametrize("case", list(FAILURES))
def test_every_failure_still_prints_the_result_object_with_is_error_and_exit_1(fake_api, project, case, fmt):
    env, words, subtype = FAILURES[case]
    env = {k: v.format(port=_closed_port()) for k, v in env.items()}
    if case == "401":
        fake_api.set_default(error_reply(401))
    else:
        fake_api.set_default(tool_reply(("Glob", {"pattern": "*"})))
    args = ["-p", "hi", "--output-format", fmt, *(["--verbose"] if fmt == "stream-json" else []),
            *(["--max-turns", "1"] if case == "max turns" else [])]
    done = run_agent(fake_api, project, *args, **env)
    assert done.returncode == 1
    out = lines(done.stdout)
    result = out[-1]
    assert result["type"] == "result" and result["is_error"] is True and result["subtype"] == subtype
    assert words in result["result"]
    reference = recorded()[-1]
    assert set(reference) <= set(result)
    if fmt == "stream-json":
        assert out[0]["type"] == "system" and out[0]["subtype"] == "init"
    assert "Traceback" not in done.stderr
