"""`agent -p` speaks Claude Code's output schema, compared with what Claude Code 2.1.328 printed
(`tests/data/claude_code/`, recorded; the comparison is `test_claude_code_parity.compare`): a longer
conversation than any one recording, the raw stream events, and every failure's result object."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from fake_api import error_reply, text_reply, tool_reply
from test_claude_code_parity import compare
from test_headless_e2e import run_agent

RECORDED = Path(__file__).parent / "data" / "claude_code"


def recorded(scenario: str, fmt: str = "stream-json") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (RECORDED / scenario / f"claude.{fmt}.jsonl").read_text().splitlines()]


def script_the_conversation(fake_api, project: Path) -> None:
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


def test_stream_json_of_a_read_a_denial_and_an_answer_reads_like_claude_codes(fake_api, project):
    """Claude Code's recordings of a Read round (02_read) and a denied Bash call (03_denied), joined: our
    lines come in the same order, with the same fields, and the denial is named in the result."""
    script_the_conversation(fake_api, project)
    done = run_agent(fake_api, project, "-p", "what is in a.txt", "--output-format", "stream-json",
                     "--verbose")
    assert done.returncode == 0, done.stderr
    ours = lines(done.stdout)
    kinds = [(m["type"], m.get("subtype")) for m in ours]
    assert kinds == [("system", "init"), ("assistant", None), ("user", None), ("assistant", None),
                     ("system", "permission_denied"), ("user", None), ("assistant", None), ("result", "success")]
    read, denied = recorded("02_read"), recorded("03_denied")
    assert compare([read[0], read[2], read[3]], [ours[0], ours[1], ours[2]]) == []
    assert compare(denied[1:4], ours[3:6]) == []
    assert len({m["session_id"] for m in ours}) == 1
    result = ours[-1]
    assert result["result"] == "alpha it is" and result["num_turns"] == 3
    assert result["permission_denials"] == [{"tool_name": "Bash", "tool_use_id": ours[3]["message"]["content"][0]
                                             ["id"], "tool_input": {"command": "rm -rf build"}}]
    assert ours[2]["message"]["content"][0]["content"].find("alpha") >= 0


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
    reference = [m for m in recorded("01_plain", "stream-json-partial") if m["type"] == "stream_event"]
    assert compare(reference[:1], events[:1]) == []
    assert "content_block" not in next(e["event"] for e in events if e["event"]["type"] == "content_block_stop")


def test_without_partial_messages_there_are_no_stream_events(fake_api, project):
    fake_api.script(text_reply("answer"))
    done = run_agent(fake_api, project, "-p", "hi", "--output-format", "stream-json", "--verbose")
    assert [m["type"] for m in lines(done.stdout)] == ["system", "assistant", "result"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# What Claude Code says (tests/data/claude_code/04_api401, 05_connrefused, 06_maxturns): a failed model
# call is "success" with is_error, the result naming the failure; max turns has `errors` and no result.
FAILURES = {
    "no key": ({"ANTHROPIC_API_KEY": ""}, "ANTHROPIC_API_KEY", "success"),
    "401": ({}, "401", "success"),
    "connection refused": ({"ANTHROPIC_BASE_URL": "http://127.0.0.1:{port}", "AGENT_MAX_RETRIES": "0"},
                           "Cannot connect", "success"),
    "max turns": ({}, "maximum number of turns", "error_max_turns"),
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
    assert words in (result["errors"][0] if case == "max turns" else result["result"])
    reference = recorded("06_maxturns" if case == "max turns" else "04_api401", fmt)[-1]
    assert set(reference) - {"api_error_type", "api_error"} <= set(result)
    if fmt == "stream-json":
        assert out[0]["type"] == "system" and out[0]["subtype"] == "init"
    assert "Traceback" not in done.stderr
