"""Our tools' input schemas against Claude Code 2.1.328's, field by field, for every tool both have.

Claude Code's schemas are in tests/data/claude_code_tool_schemas.json (taken from the SDK published with
2.1.328; the file says where from). A Claude-trained model fills those fields; a field we name differently,
type differently or require when it does not would make it stumble.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.engine.session import AgentSession, SessionOptions
from agent.tools.base import Tool

CLAUDE_CODE = json.loads((Path(__file__).parent / "data" / "claude_code_tool_schemas.json").read_text())["tools"]

# Fields we add on purpose (Claude Code has no such field); anything else not in Claude Code's schema fails.
OUR_EXTENSIONS = {
    "CronCreate": {"isolation", "after"},
}


def our_tools(tmp_path: Path) -> dict[str, Tool]:
    session = AgentSession(tmp_path, SessionOptions(headless=True))
    return {tool.name: tool for tool in session.tools}


def shared_names(tmp_path: Path) -> list[str]:
    return sorted(set(our_tools(tmp_path)) & set(CLAUDE_CODE))


def _type_of(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "enum:" + ",".join(prop["enum"])
    if "const" in prop:
        return "enum:" + prop["const"]
    kind = prop.get("type")
    return "number" if kind == "integer" else str(kind)


def test_the_tools_claude_code_models_use_most_are_all_compared(tmp_path: Path) -> None:
    names = shared_names(tmp_path)
    for name in ("Bash", "Read", "Edit", "Write", "Glob", "Grep", "TodoWrite", "CronCreate", "CronList", "WebFetch",
                 "WebSearch", "Task"):
        assert name in names


@pytest.mark.parametrize("name", ["Bash", "Read", "Edit", "Write", "Glob", "Grep", "TodoWrite", "CronCreate",
                                  "CronDelete", "CronList", "WebFetch", "WebSearch", "Task"])
def test_schema_matches_claude_code_field_by_field(tmp_path: Path, name: str) -> None:
    ours = our_tools(tmp_path)[name].input_schema()
    theirs = CLAUDE_CODE[name]
    props = ours["properties"]
    for field in theirs["required"]:
        assert field in props, f"{name}: Claude Code's required field {field!r} is missing"
    assert set(ours.get("required", [])) <= set(theirs["required"]), f"{name}: we require more than Claude Code"
    for field, kind in theirs["properties"].items():
        if field in props:
            assert _type_of(props[field]) == kind, f"{name}.{field}: {_type_of(props[field])} != {kind}"
    invented = set(props) - set(theirs["properties"]) - OUR_EXTENSIONS.get(name, set())
    assert not invented, f"{name}: fields Claude Code does not have: {invented}"


@pytest.mark.parametrize("name", ["Bash", "Read", "Edit", "Write", "Glob", "Grep", "TodoWrite", "CronCreate",
                                  "CronDelete", "CronList", "BashOutput", "KillShell", "WebFetch", "WebSearch",
                                  "Task"])
def test_every_schema_is_strict(tmp_path: Path, name: str) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node.get("additionalProperties") is False, f"{name}: an object open to unknown fields"
            assert "$ref" not in node and "anyOf" not in node, f"{name}: {node}"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(our_tools(tmp_path)[name].input_schema())


def test_todo_items_match_claude_code(tmp_path: Path) -> None:
    items = our_tools(tmp_path)["TodoWrite"].input_schema()["properties"]["todos"]["items"]
    theirs = CLAUDE_CODE["TodoWrite"]["items"]
    assert sorted(items["required"]) == sorted(theirs["required"])
    assert {k: _type_of(v) for k, v in items["properties"].items()} == theirs["properties"]


def test_an_unknown_field_is_refused_with_the_fields_named(tmp_path: Path) -> None:
    from agent.tools.base import ToolError

    with pytest.raises(ToolError, match=r"unknown field.*pages.*file_path"):
        our_tools(tmp_path)["Read"].parse_input({"file_path": "a", "pages": "1-2"})


def test_every_tool_is_on_the_init_line(tmp_path: Path) -> None:
    names = [tool.name for tool in AgentSession(tmp_path, SessionOptions(headless=True)).tools]
    for name in ("Task", "TodoWrite", "BashOutput", "KillShell", "WebFetch", "WebSearch"):
        assert name in names


RESULTS = json.loads((Path(__file__).parent / "data" / "claude_code_tool_results.json").read_text())


@pytest.mark.parametrize("call", RESULTS["bash"], ids=lambda call: call["input"]["command"])
async def test_bash_results_read_as_claude_codes_did(tmp_path: Path, call: dict[str, Any]) -> None:
    from agent.tools.base import ToolContext
    from agent.tools.bash import BashTool

    (tmp_path / "notes.txt").write_text(RESULTS["notes_txt"])
    tool = BashTool()
    result = await tool.run(tool.parse_input(call["input"]), ToolContext(project_dir=tmp_path))
    assert (result.content, result.is_error) == (call["content"], call["is_error"])


async def test_read_numbers_lines_as_claude_code_does(tmp_path: Path) -> None:
    from agent.tools.base import ToolContext
    from agent.tools.files import ReadTool

    (tmp_path / "notes.txt").write_text(RESULTS["notes_txt"])
    whole = RESULTS["read"][1]
    tool = ReadTool()
    result = await tool.run(tool.parse_input(whole["input"]), ToolContext(project_dir=tmp_path))
    assert whole["content"].startswith(result.content)  # the same lines and numbers (not its empty 4th line)
    first_two = await tool.run(tool.parse_input(RESULTS["read"][0]["input"]), ToolContext(project_dir=tmp_path))
    assert first_two.content.startswith("1\talpha line\n2\tbeta line")
