"""Task and subagents against the fake Messages API: agent types from .claude/agents, a separate
conversation with its own tools, the answer returned to the parent, calls in one message run at once,
the session's permission rules inside, and the subagent's tokens added to the parent's turn."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fake_api import FakeAnthropic, RecordedRequest, child_env, text_reply, tool_reply

from agent.engine.session import AgentSession, SessionOptions
from agent.engine.subagents import SUBAGENT_NOTE
from agent.tools.subagents import GENERAL_PURPOSE, load_agent_types

REVIEWER = """---
name: reviewer
description: Reviews code for bugs
tools: Read, Grep
model: claude-haiku-4-5
---
You review code. Report bugs only.
"""


def is_subagent(request: RecordedRequest) -> bool:
    return SUBAGENT_NOTE in request.system_text


@pytest.fixture
def env(fake_api: FakeAnthropic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    for key, value in child_env(fake_api, home=home).items():
        monkeypatch.setenv(key, value)
    project = tmp_path / "project"
    (project / ".claude" / "agents").mkdir(parents=True)
    return project


def test_agent_types_come_from_project_and_user_folders(tmp_path: Path) -> None:
    project, home = tmp_path / "p", tmp_path / "h"
    (project / ".claude" / "agents").mkdir(parents=True)
    (home / ".claude" / "agents").mkdir(parents=True)
    (project / ".claude" / "agents" / "reviewer.md").write_text(REVIEWER)
    (home / ".claude" / "agents" / "reviewer.md").write_text(REVIEWER.replace("Reviews code", "User copy"))
    (home / ".claude" / "agents" / "writer.md").write_text("---\nname: writer\ndescription: Writes\n---\nWrite.")
    (project / ".claude" / "agents" / "broken.md").write_text("---\nname: [unclosed\n---\n")
    (project / ".claude" / "agents" / "nameless.md").write_text("---\ndescription: x\n---\n")
    types = load_agent_types(project, home)
    assert sorted(types) == [GENERAL_PURPOSE, "reviewer", "writer"]
    reviewer = types["reviewer"]
    assert reviewer.description == "Reviews code for bugs" and reviewer.source == "project"  # project wins
    assert reviewer.tools == ("Read", "Grep") and reviewer.model == "claude-haiku-4-5"
    assert reviewer.prompt == "You review code. Report bugs only."
    assert types["writer"].tools is None and types["writer"].source == "user"


async def test_a_task_runs_a_separate_conversation_and_returns_its_answer(fake_api: FakeAnthropic,
                                                                          env: Path) -> None:
    (env / ".claude" / "agents" / "reviewer.md").write_text(REVIEWER)
    fake_api.when(is_subagent, text_reply("No bugs in app.py.", usage={"input_tokens": 70000, "output_tokens": 3000}))
    fake_api.script(
        tool_reply(("Task", {"description": "Review app", "prompt": "Review app.py", "subagent_type": "reviewer"})),
        text_reply("The reviewer found no bugs."),
    )
    session = AgentSession(env, SessionOptions(headless=True))
    try:
        turn = await session.new_conversation(record=False).run_turn("review the app")
    finally:
        await session.aclose()
    assert turn.result_text == "The reviewer found no bugs."
    sub = [r for r in fake_api.requests if is_subagent(r)]
    assert len(sub) == 1
    assert sub[0].body["model"] == "claude-haiku-4-5" and sorted(sub[0].tool_names) == ["Grep", "Read"]
    assert "You review code" in sub[0].system_text and sub[0].last_user_text() == "Review app.py"
    assert "review the app" not in sub[0].all_text()  # its own context: nothing of the parent's
    last = fake_api.requests[-1]
    assert "No bugs in app.py." in last.tool_result_texts()
    assert turn.usage.input_tokens >= 70000 and turn.usage.output_tokens >= 3000  # the subagent's tokens count
    assert turn.num_requests == 2


async def test_several_task_calls_in_one_message_run_at_once(fake_api: FakeAnthropic, env: Path) -> None:
    both_waiting = threading.Barrier(2, timeout=20)

    def subagent_answer(request: RecordedRequest) -> str:
        both_waiting.wait()  # only returns when the other subagent's request is in flight too
        return f"answer to {request.last_user_text()}"

    fake_api.when(is_subagent, subagent_answer)
    fake_api.script(
        tool_reply(("Task", {"description": "one", "prompt": "question one"}),
                   ("Task", {"description": "two", "prompt": "question two"})),
        text_reply("both done"),
    )
    session = AgentSession(env, SessionOptions(headless=True))
    try:
        turn = await session.new_conversation(record=False).run_turn("split it")
    finally:
        await session.aclose()
    assert turn.result_text == "both done" and not turn.is_error
    results = fake_api.requests[-1].tool_result_texts()
    assert results == ["answer to question one", "answer to question two"]


async def test_the_sessions_permission_rules_apply_inside(fake_api: FakeAnthropic, env: Path) -> None:
    fake_api.when(lambda r: is_subagent(r) and not r.tool_results(),
                  tool_reply(("Bash", {"command": "touch made-by-subagent"})))
    fake_api.when(is_subagent, lambda r: f"bash said: {r.tool_result_texts()[0][:60]}")
    fake_api.script(tool_reply(("Task", {"description": "touch", "prompt": "make a file"})), text_reply("ok"))
    session = AgentSession(env, SessionOptions(headless=True, disallowed_tools=["Bash(touch:*)"]))
    try:
        await session.new_conversation(record=False).run_turn("go")
    finally:
        await session.aclose()
    assert not (env / "made-by-subagent").exists()
    assert "bash said: Permission denied" in fake_api.requests[-1].tool_result_texts()[0]


async def test_an_unknown_subagent_type_lists_the_types(fake_api: FakeAnthropic, env: Path) -> None:
    fake_api.script(tool_reply(("Task", {"description": "x", "prompt": "y", "subagent_type": "nope"})), "ok")
    session = AgentSession(env, SessionOptions(headless=True))
    try:
        await session.new_conversation(record=False).run_turn("go")
    finally:
        await session.aclose()
    assert "Unknown subagent_type 'nope'" in fake_api.requests[-1].tool_result_texts()[0]
    assert "general-purpose" in fake_api.requests[-1].tool_result_texts()[0]


def test_the_p_init_line_lists_the_new_tools_and_the_agent_types(fake_api: FakeAnthropic, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    project = tmp_path / "project"
    (project / ".claude" / "agents").mkdir(parents=True)
    (project / ".claude" / "agents" / "reviewer.md").write_text(REVIEWER)
    fake_api.script(text_reply("hi"))
    env = child_env(fake_api, home=tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "hello", "--output-format",
                           "stream-json", "--verbose"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    init = json.loads(done.stdout.splitlines()[0])
    for name in ("Task", "Bash", "TodoWrite", "WebFetch", "WebSearch", "BashOutput", "KillShell"):
        assert name in init["tools"]
    assert init["agents"] == ["general-purpose", "reviewer"]


async def test_the_subagents_progress_reaches_the_parent_under_its_task_call(fake_api: FakeAnthropic,
                                                                             env: Path) -> None:
    from agent.engine.events import SubagentProgress, ToolCallStarted, TurnFinished

    (env / "app.py").write_text("x = 1\n")
    fake_api.when(lambda r: is_subagent(r) and not r.tool_results(), tool_reply(("Glob", {"pattern": "*.py"})))
    fake_api.when(is_subagent, text_reply("app.py"))
    fake_api.script(tool_reply(("Task", {"description": "find", "prompt": "list python files"})), text_reply("ok"))
    events: list = []
    session = AgentSession(env, SessionOptions(headless=True))
    try:
        await session.new_conversation(record=False, emit=events.append).run_turn("go")
    finally:
        await session.aclose()
    task_id = next(e.tool_use_id for e in events if isinstance(e, ToolCallStarted) and e.name == "Task")
    progress = [e for e in events if isinstance(e, SubagentProgress)]
    assert progress and {e.tool_use_id for e in progress} == {task_id}
    assert {e.agent_type for e in progress} == {GENERAL_PURPOSE}
    assert [e.event.name for e in progress if isinstance(e.event, ToolCallStarted)] == ["Glob"]
    assert isinstance(progress[-1].event, TurnFinished)
    # the parent's own tool events are only its Task call: the subagent's Glob comes wrapped
    assert [e.name for e in events if isinstance(e, ToolCallStarted)] == ["Task"]


def test_p_stream_json_has_no_subagent_lines(fake_api: FakeAnthropic, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    project = tmp_path / "project"
    project.mkdir()
    fake_api.when(lambda r: is_subagent(r) and not r.tool_results(), tool_reply(("Glob", {"pattern": "*"})))
    fake_api.when(is_subagent, text_reply("nothing"))
    fake_api.script(tool_reply(("Task", {"description": "look", "prompt": "look around"})), text_reply("done"))
    env = child_env(fake_api, home=tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "go", "--output-format",
                           "stream-json", "--verbose"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["type"] for line in lines] == ["system", "assistant", "user", "assistant", "result"]
    assert "Glob" not in json.dumps(lines[1:])  # the subagent's own calls stay out of the parent's output
    assert "subagent_progress" not in done.stdout + done.stderr
