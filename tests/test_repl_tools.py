"""The chat's side of the new tools: /bashes lists and stops background shells; the todo list is drawn
above the prompt while a turn runs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from test_commands import Harness
from trust_support import trust_folder

from agent.engine.session import AgentSession, SessionOptions
from agent.repl.prompt import todo_fragments
from agent.tools.bash import BashTool
from agent.tools.todos import TodoBoard

PLAN = [{"content": "Run the tests", "status": "completed", "activeForm": "Running the tests"},
        {"content": "Fix the bug", "status": "in_progress", "activeForm": "Fixing the bug"},
        {"content": "Ship it", "status": "pending", "activeForm": "Shipping it"}]


async def test_bashes_lists_background_shells_and_kills_one(tmp_path: Path) -> None:
    session = AgentSession(tmp_path, SessionOptions())
    harness = Harness(session)
    try:
        assert "No background shells" in await harness.run("/bashes")
        tool = BashTool()
        await tool.run(tool.parse_input({"command": "sleep 300", "run_in_background": True}), session.ctx)
        listed = await harness.run("/bashes")
        assert "bash_1" in listed and "running" in listed and "sleep 300" in listed
        assert "Killed bash_1" in await harness.run("/bashes kill bash_1")
        assert "killed" in await harness.run("/bashes")
        assert "No background shell" in await harness.run("/bashes kill bash_9")
    finally:
        await session.aclose()


async def test_agents_lists_the_built_in_and_project_types(tmp_path: Path) -> None:
    (tmp_path / ".claude" / "agents").mkdir(parents=True)
    (tmp_path / ".claude" / "agents" / "reviewer.md").write_text(
        "---\nname: reviewer\ndescription: Reviews code\ntools: Read, Grep\n---\nReview.")
    session = AgentSession(tmp_path, SessionOptions())
    try:
        shown = await Harness(session).run("/agents")
    finally:
        await session.aclose()
    assert "general-purpose" in shown and "reviewer" in shown and "Read, Grep" in shown


def _text(fragments) -> str:
    return "".join(text for _, text in fragments)


def test_the_todo_list_is_drawn_while_a_turn_runs_and_hidden_otherwise() -> None:
    board = TodoBoard()
    repl = SimpleNamespace(session=SimpleNamespace(ctx=SimpleNamespace(todos=board)), turn_running=True)
    assert todo_fragments(repl, 80) == []  # nothing planned yet
    board.update(PLAN, "run1")
    drawn = _text(todo_fragments(repl, 80))
    assert drawn == "  ☒ Run the tests\n  ◐ Fixing the bug\n  ☐ Ship it\n"
    repl.turn_running = False
    assert todo_fragments(repl, 80) == []
    repl.turn_running, repl.session = True, None  # the session still loads
    assert todo_fragments(repl, 80) == []


async def test_permissions_shows_webfetch_rules_and_sandbox_domains_together(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    home, project = tmp_path / "home", tmp_path / "project"
    (home / ".claude").mkdir(parents=True)
    (project / ".claude").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    (project / ".claude" / "settings.json").write_text(json.dumps({
        "permissions": {"allow": ["WebFetch(domain:docs.python.org)"], "deny": ["WebFetch(domain:evil.example)"]}}))
    (home / ".claude" / "settings.json").write_text(json.dumps(  # a project's network list needs trust
        {"sandbox": {"enabled": True, "network": {"allowedDomains": ["pypi.org"]}}}))
    trust_folder(project)  # a project's allow rules apply once it is trusted
    session = AgentSession(project, SessionOptions())
    try:
        shown = await Harness(session).run("/permissions")
    finally:
        await session.aclose()
    assert "WebFetch: allow docs.python.org, deny evil.example" in shown
    assert "sandbox network (Bash): pypi.org" in shown
