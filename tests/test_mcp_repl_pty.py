"""MCP in the chat, in a real terminal: the approval question for a `.mcp.json` server, `/mcp`, and the
model calling the server's tool once it connected (the prompt did not wait for it)."""

from __future__ import annotations

import json

from fake_api import text_reply, tool_reply
from mcp_support import stdio_entry
from pty_support import PTY_ONLY

from agent.settings.trust import trust_store

pytestmark = PTY_ONLY

PAST_GRACE_S = 0.8
START_S = 60.0


def _project_server(project, marker) -> None:
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": stdio_entry(
        env={"MCP_TEST_MARKER": str(marker)})}}))
    (project / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["mcp__proj"]}}))
    trust_store().trust(project)


def test_approving_a_project_server_in_the_chat_starts_it_and_its_tools_work(spawn, fake_api, project, tmp_path):
    marker = tmp_path / "started"
    _project_server(project, marker)
    term = spawn()
    term.expect(r"New MCP server found in \.mcp\.json: proj", timeout=START_S)
    assert not marker.exists()
    term.settle(PAST_GRACE_S)
    term.send("1")
    term.expect(r"Starting MCP server proj")
    for _ in range(600):
        if marker.exists():
            break
        term.settle(0.1)
    assert marker.exists()
    term.type_line("/mcp")
    term.expect(r"proj .*connected.*mcp__proj__echo", timeout=START_S)
    fake_api.script(tool_reply(("mcp__proj__echo", {"text": "from chat"})), text_reply("echoed"))
    term.type_line("echo something")
    term.expect(r"echoed", timeout=START_S)
    assert "echo: from chat" in fake_api.requests[-1].tool_result_texts()[0]
    remembered = json.loads((tmp_path / "home" / ".claude" / "agent-mcp.json").read_text())
    assert next(iter(remembered["projects"].values()))["enabledMcpjsonServers"] == ["proj"]


def test_denying_a_project_server_keeps_it_off(spawn, fake_api, project, tmp_path):
    marker = tmp_path / "started"
    _project_server(project, marker)
    term = spawn()
    term.expect(r"New MCP server found in \.mcp\.json: proj", timeout=START_S)
    term.settle(PAST_GRACE_S)
    term.send("2")
    term.expect(r"MCP server proj will not start")
    term.type_line("/mcp")
    term.expect(r"proj .*disabled", timeout=START_S)
    assert not marker.exists()


def test_a_chat_fire_right_at_start_up_gets_the_users_mcp_server(spawn, fake_api, project, tmp_path):
    from pty_support import write_due_task

    user_dir = tmp_path / "home" / ".claude"
    user_dir.mkdir(parents=True)
    (user_dir / "agent-mcp.json").write_text(json.dumps({"mcpServers": {"gh": stdio_entry()}}))
    (user_dir / "settings.json").write_text(json.dumps({"permissions": {"allow": ["mcp__gh"]}}))
    write_due_task(project, "cafe0001", "summarise new issues")
    fake_api.script(tool_reply(("mcp__gh__echo", {"text": "issue 9"})), text_reply("one issue"))
    term = spawn()
    term.expect(r"one issue", timeout=START_S)
    assert "echo: issue 9" in fake_api.requests[1].tool_result_texts()[0]
    assert "mcp__gh__echo" in fake_api.requests[0].tool_names
