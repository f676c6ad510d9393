"""`agent -p` output against what Claude Code 2.1.328 printed for the same scenarios (tests/data/claude_code/,
recorded against a scripted fake API; see its README).

For each scenario and format, our output must have the same line types in the same order, the same
field names with the same JSON types, and the same values for what scripts branch on: `type`,
`subtype`, `is_error`, `num_turns`, `errors`, `stop_reason` and `permission_denials`. Ids, times, costs,
token counts and text are compared by type only. The differences we make on purpose are listed in
`DELIBERATE` (and in the README's table): a change that breaks a script written for Claude Code fails here.
"""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_api import FakeAnthropic, ToolCall, child_env, error_reply, text_reply, tool_reply

RECORDED = Path(__file__).parent / "data" / "claude_code"
FORMATS = {"json": ["--output-format", "json"],
           "stream-json": ["--output-format", "stream-json", "--verbose"],
           "stream-json-partial": ["--output-format", "stream-json", "--verbose", "--include-partial-messages"]}
BRANCHED_ON = ("type", "subtype", "is_error", "num_turns", "errors", "stop_reason")

# Fields that differ on purpose, by (line kind, dotted path): "missing" in ours, "extra" in ours.
DELIBERATE = {
    ("system/init", ".claude_code_version"): "missing",  # we are not Claude Code: `agent_version` instead
    ("system/init", ".agent_version"): "extra",
    ("system/init", ".messaging_socket_path"): "missing",  # Claude Code's IDE socket; we have none
    ("user", ".tool_use_result"): "missing",  # Claude Code's per-tool internal structures
    ("user", ".tool_result_meta"): "missing",
}
# Values compared by type only, whatever their inner shape (lists of names, model-chosen tool inputs).
OPAQUE = {".tools", ".slash_commands", ".agents", ".skills", ".plugins", ".capabilities", ".memory_paths",
          ".message.content[].input", ".permission_denials[].tool_input"}
KEYED_BY_MODEL = {".modelUsage", ".model_usage_since_last_result"}


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _kind(line: dict[str, Any]) -> str:
    if line["type"] == "stream_event":
        return f"stream_event/{line['event']['type']}"
    return f"{line['type']}/{line['subtype']}" if line.get("subtype") and line["type"] == "system" else line["type"]


def _shape_differences(rec: Any, ours: Any, kind: str, path: str = "") -> list[str]:
    if kind.startswith("stream_event/") and path == ".event":  # the API's own event: only its type is ours
        return [] if rec.get("type") == ours.get("type") else [f".event.type: {rec['type']} recorded"]
    if path in OPAQUE or rec is None or ours is None:  # null in either: a value that may be absent
        return [] if isinstance(rec, type(ours)) or rec is None or ours is None or path in OPAQUE else \
            [f"{path}: {type(rec).__name__} recorded, {type(ours).__name__} ours"]
    if isinstance(rec, dict) and isinstance(ours, dict):
        if path in KEYED_BY_MODEL:  # {model name: usage}: compare the entries, whatever the model
            values = list(rec.values())[:1], list(ours.values())[:1]
            return [d for a, b in zip(*values, strict=False) for d in _shape_differences(a, b, kind, path + ".*")]
        out = [f"{path}.{k}: missing" for k in rec.keys() - ours.keys()
               if DELIBERATE.get((kind, f"{path}.{k}")) != "missing"]
        out += [f"{path}.{k}: extra" for k in ours.keys() - rec.keys()
                if DELIBERATE.get((kind, f"{path}.{k}")) != "extra"]
        for key in rec.keys() & ours.keys():
            out += _shape_differences(rec[key], ours[key], kind, f"{path}.{key}")
        return out
    if isinstance(rec, list) and isinstance(ours, list):
        return [d for a, b in zip(rec[:1], ours[:1], strict=False) for d in _shape_differences(a, b, kind, path + "[]")]
    same = isinstance(ours, bool) == isinstance(rec, bool) and (
        type(rec) is type(ours) or (isinstance(rec, (int, float)) and isinstance(ours, (int, float))))
    return [] if same else [f"{path}: {type(rec).__name__} recorded, {type(ours).__name__} ours"]


def _outline(lines: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The message lines' kinds and the stream events' types (a run of deltas counts once: the fake cuts
    text differently). api_retry lines are left out: Claude Code retries a 401 ten times over three
    minutes, we do not retry it at all (a bad key does not heal); the tests of retries count them."""
    kept = [line for line in lines if line["type"] != "stream_event" and line.get("subtype") != "api_retry"]
    messages = [k for k, _ in itertools.groupby(_kind(line) for line in kept)]
    events = [k for k, _ in itertools.groupby(line["event"]["type"] for line in lines
                                              if line["type"] == "stream_event")]
    return messages, events


def compare(recorded: list[dict[str, Any]], ours: list[dict[str, Any]]) -> list[str]:
    problems = []
    rec_outline, our_outline = _outline(recorded), _outline(ours)
    if rec_outline != our_outline:
        return [f"line order differs:\n  recorded {rec_outline}\n  ours     {our_outline}"]
    for kind in dict.fromkeys(_kind(line) for line in recorded):
        rec_of_kind = [line for line in recorded if _kind(line) == kind]
        ours_of_kind = [line for line in ours if _kind(line) == kind]
        for index, (rec, mine) in enumerate(zip(rec_of_kind, ours_of_kind, strict=False)):
            problems += [f"{kind}#{index} {d}" for d in _shape_differences(rec, mine, kind)]
            for key in BRANCHED_ON:
                if key in rec and rec[key] != mine.get(key):
                    problems.append(f"{kind}#{index} {key}: recorded {rec[key]!r}, ours {mine.get(key)!r}")
            if "permission_denials" in rec:
                names = [(d["tool_name"], sorted(d["tool_input"])) for d in rec["permission_denials"]]
                assert [(d["tool_name"], sorted(d["tool_input"])) for d in mine["permission_denials"]] == names
    return problems


def _recording(scenario: str, fmt: str) -> list[dict[str, Any]]:
    return _lines((RECORDED / scenario / f"claude.{fmt}.jsonl").read_text())


def _run_agent(env: dict[str, str], project: Path, args: list[str],
               stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.txt").write_text("alpha line\nbeta line\ngamma line\n")
    return folder


READ_ROUND = (tool_reply(ToolCall("Read", {"file_path": "notes.txt"}), text="I'll read the file."),
              text_reply("The file has three lines."))
SCENARIOS = {
    "01_plain": (["-p", "say hi"], [text_reply("Hello from the fake model.")]),
    "02_read": (["-p", "what is in notes.txt?"], list(READ_ROUND)),
    "03_denied": (["-p", "create created.txt"],
                  [tool_reply(ToolCall("Bash", {"command": "touch created.txt", "description": "Create a file"})),
                   text_reply("I could not create it: the command needs approval.")]),
    "04_api401": (["-p", "say hi"], [error_reply(401, "scripted")] * 12),
    "06_maxturns": (["-p", "what is in notes.txt?", "--max-turns", "1"], list(READ_ROUND)),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_our_output_reads_like_claude_codes_recording(scenario: str, fmt: str, project: Path, tmp_path: Path) -> None:
    args, replies = SCENARIOS[scenario]
    with FakeAnthropic() as api:
        for reply in replies:
            api.script(reply)
        done = _run_agent(child_env(api, home=tmp_path / "home"), project, [*args, *FORMATS[fmt]])
    recorded = _recording(scenario, fmt)
    rec_status = json.loads((RECORDED / scenario / f"claude.{fmt}.meta.json").read_text())["rc"]
    assert done.returncode == rec_status, done.stderr
    assert compare(recorded, _lines(done.stdout)) == []
    if scenario == "03_denied":
        assert not (project / "created.txt").exists()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_unreachable_api_reads_like_claude_codes_recording(fmt: str, project: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeAnthropic() as api:
        env = child_env(api, home=tmp_path / "home", ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}")
    done = _run_agent(env, project, ["-p", "say hi", *FORMATS[fmt]])
    assert done.returncode == 1
    ours = _lines(done.stdout)
    assert compare(_recording("05_connrefused", fmt), ours) == []
    result = ours[-1]
    assert (result["subtype"], result["is_error"], result["api_error"]) == ("success", True, "connection_failed")
    if fmt != "json":
        retries = [line for line in ours if line.get("subtype") == "api_retry"]
        assert retries and [r["attempt"] for r in retries] == list(range(1, len(retries) + 1))


@pytest.mark.parametrize("fmt", ["stream-json", "stream-json-partial"])
def test_stream_json_input_reads_like_claude_codes_recording(fmt: str, project: Path, tmp_path: Path) -> None:
    messages = "".join(json.dumps({"type": "user", "message": {"role": "user", "content": text}}) + "\n"
                       for text in ("say hi", "say it again"))
    with FakeAnthropic() as api:
        fixed = {"input_tokens": 1234, "output_tokens": 56}  # as the recording's fake reported
        api.script(text_reply("Hi.", usage=fixed), text_reply("Hi again.", usage=fixed))
        done = _run_agent(child_env(api, home=tmp_path / "home"), project,
                          ["-p", "--input-format", "stream-json", *FORMATS[fmt]], stdin=messages)
    assert done.returncode == 0, done.stderr
    ours = _lines(done.stdout)
    assert compare(_recording("07_streamin", fmt), ours) == []
    results = [line for line in ours if line["type"] == "result"]
    assert [r["result_index"] for r in results] == [0, 1]
    assert results[1]["total_cost_usd"] == pytest.approx(2 * results[0]["total_cost_usd"])
    model_usage = [next(iter(r["modelUsage"].values())) for r in results]
    assert [u["inputTokens"] for u in model_usage] == [1234, 2468]  # the session's, like the cost
    assert model_usage[1]["contextWindow"] == model_usage[0]["contextWindow"]  # limits are not added up


def test_resume_and_continue_keep_the_session_and_add_up_its_cost(project: Path, tmp_path: Path) -> None:
    """Claude Code's 08_resume: the first run, `--resume ID`, then `--continue`: one session id, and
    total_cost_usd is the session's running total (one turn's cost, then two, then three)."""
    recorded = [_lines((RECORDED / "08_resume" / f"claude.{name}.jsonl").read_text())[0]
                for name in ("first.json", "json", "continue.json")]
    with FakeAnthropic() as api:
        for _ in range(3):  # the recording's fake reported the same usage for every request
            api.script(text_reply("Hello from the fake model.", usage={"input_tokens": 1234, "output_tokens": 56}))
        env = child_env(api, home=tmp_path / "home")
        first = _lines(_run_agent(env, project, ["-p", "say hi", "--output-format", "json"]).stdout)[0]
        resumed = _lines(_run_agent(env, project, ["-p", "again", "--resume", first["session_id"],
                                                   "--output-format", "json"]).stdout)[0]
        continued = _lines(_run_agent(env, project, ["-p", "once more", "--continue",
                                                     "--output-format", "json"]).stdout)[0]
    ours = [first, resumed, continued]
    for rec, mine in zip(recorded, ours, strict=True):
        assert compare([rec], [mine]) == []
    assert len({r["session_id"] for r in recorded}) == 1 and len({r["session_id"] for r in ours}) == 1
    one = first["total_cost_usd"]
    assert one > 0
    assert [r["total_cost_usd"] for r in ours] == pytest.approx([one, 2 * one, 3 * one])
    rec_one = recorded[0]["total_cost_usd"]
    assert [r["total_cost_usd"] for r in recorded] == pytest.approx([rec_one, 2 * rec_one, 3 * rec_one])


def test_the_comparison_catches_a_renamed_field_and_a_changed_subtype() -> None:
    """The comparator itself bites: a script-visible change in our output is reported."""
    recorded = _recording("01_plain", "json")
    renamed = [dict(recorded[0])]
    renamed[0]["totalCost"] = renamed[0].pop("total_cost_usd")
    assert any("total_cost_usd: missing" in p for p in compare(recorded, renamed))
    changed = [{**recorded[0], "subtype": "error_during_execution"}]
    assert any("subtype" in p for p in compare(recorded, changed))
    retyped = [{**recorded[0], "num_turns": "1"}]
    assert any(".num_turns" in p for p in compare(recorded, retyped))


def test_stream_events_carry_no_null_usage_fields(project: Path, tmp_path: Path) -> None:
    with FakeAnthropic() as api:
        api.script(*READ_ROUND)
        done = _run_agent(child_env(api, home=tmp_path / "home"), project,
                          ["-p", "what is in notes.txt?", *FORMATS["stream-json-partial"]])
    usages = [line["event"].get("usage") or line["event"].get("message", {}).get("usage")
              for line in _lines(done.stdout) if line["type"] == "stream_event"]
    usages = [u for u in usages if u is not None]
    assert usages and all(None not in u.values() for u in usages)
