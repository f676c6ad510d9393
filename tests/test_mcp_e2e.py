"""`agent -p` with real MCP servers: the model (the fake Messages API) calls `mcp__<server>__<tool>`.

The trust and approval gate is proven with a marker file the server writes when it starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fake_api import FakeAnthropic, child_env, text_reply, tool_reply
from mcp_support import stdio_entry

from agent.settings.trust import trust_store


def run_agent(api: FakeAnthropic, project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), *args], input="",
                          capture_output=True, text=True, timeout=120,
                          env=child_env(api, home=project.parent / "home", **env))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def _config(tmp_path: Path, **servers: dict) -> str:
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))
    return str(path)


def _project_server(project: Path, marker: Path, settings: dict | None = None) -> None:
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": stdio_entry(
        env={"MCP_TEST_MARKER": "${MARKER_PATH}"})}}))
    if settings is not None:
        (project / ".claude").mkdir()
        (project / ".claude" / "settings.json").write_text(json.dumps(settings))


def test_the_model_calls_an_mcp_tool_allowed_by_a_server_rule(fake_api, project, tmp_path):
    config = _config(tmp_path, t=stdio_entry())
    fake_api.script(tool_reply(("mcp__t__echo", {"text": "hello"})), text_reply("done"))
    done = run_agent(fake_api, project, "-p", "echo", "--mcp-config", config, "--allowedTools", "mcp__t",
                     "--output-format", "stream-json", "--verbose")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["mcp_servers"] == [{"name": "t", "status": "connected"}]
    assert "mcp__t__echo" in lines[0]["tools"]
    first = fake_api.requests[0]
    echo = next(t for t in first.body["tools"] if t["name"] == "mcp__t__echo")
    assert echo["input_schema"]["properties"]["text"]["type"] == "string"
    result = fake_api.requests[1].tool_results()[0]
    assert "echo: hello" in json.dumps(result) and not result.get("is_error")
    assert fake_api.validation_errors == []


def test_an_image_result_reaches_the_model_as_an_image_block(fake_api, project, tmp_path):
    config = _config(tmp_path, t=stdio_entry())
    fake_api.script(tool_reply(("mcp__t__picture", {})), text_reply("seen"))
    done = run_agent(fake_api, project, "-p", "look", "--mcp-config", config, "--allowedTools", "mcp__t__picture")
    assert done.returncode == 0, done.stderr
    content = fake_api.requests[1].tool_results()[0]["content"]
    assert [block["type"] for block in content] == ["image"]
    assert content[0]["source"]["media_type"] == "image/png"


def test_an_mcp_tool_without_an_allow_rule_is_denied_headless(fake_api, project, tmp_path):
    config = _config(tmp_path, t=stdio_entry(), u=stdio_entry())
    fake_api.script(tool_reply(("mcp__t__echo", {"text": "x"})), tool_reply(("mcp__u__echo", {"text": "y"})),
                    text_reply("done"))
    done = run_agent(fake_api, project, "-p", "echo", "--mcp-config", config, "--allowedTools", "mcp__u",
                     "--disallowedTools", "mcp__u__echo")
    assert done.returncode == 0, done.stderr
    denied = fake_api.requests[1].tool_results()[0]
    assert denied["is_error"] is True and "mcp__t__echo" in json.dumps(denied) and "echo: x" not in json.dumps(denied)
    by_rule = fake_api.requests[2].tool_results()[0]
    assert by_rule["is_error"] is True and "mcp__u__echo" in json.dumps(by_rule)


def test_strict_mcp_config_ignores_the_other_sources(fake_api, project, tmp_path):
    home = project.parent / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".claude" / "agent-mcp.json").write_text(json.dumps({"mcpServers": {"userserver": stdio_entry()}}))
    config = _config(tmp_path, t=stdio_entry())
    fake_api.script(text_reply("ok"))
    done = run_agent(fake_api, project, "-p", "hi", "--mcp-config", config, "--strict-mcp-config",
                     "--output-format", "stream-json", "--verbose")
    assert json.loads(done.stdout.splitlines()[0])["mcp_servers"] == [{"name": "t", "status": "connected"}]
    fake_api.script(text_reply("ok"))
    done = run_agent(fake_api, project, "-p", "hi", "--mcp-config", config, "--output-format", "stream-json",
                     "--verbose")
    names = {s["name"] for s in json.loads(done.stdout.splitlines()[0])["mcp_servers"]}
    assert names == {"t", "userserver"}


def test_a_bad_mcp_config_is_a_usage_error(fake_api, project, tmp_path):
    done = run_agent(fake_api, project, "-p", "hi", "--mcp-config", str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "--mcp-config: no such file" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_untrusted_folder_never_starts_a_project_server(fake_api, project, tmp_path):
    marker = tmp_path / "started"
    _project_server(project, marker, {"enableAllProjectMcpServers": True, "enabledMcpjsonServers": ["proj"]})
    fake_api.script(text_reply("ok"))
    done = run_agent(fake_api, project, "-p", "hi", MARKER_PATH=str(marker))
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert "proj" in done.stderr and "not trusted" in done.stderr
    assert not any(name.startswith("mcp__") for name in fake_api.requests[0].tool_names)


def test_trusted_but_unapproved_project_server_does_not_start_headless(fake_api, project, tmp_path):
    marker = tmp_path / "started"
    _project_server(project, marker)
    trust_store().trust(project)
    fake_api.script(text_reply("ok"))
    done = run_agent(fake_api, project, "-p", "hi", MARKER_PATH=str(marker))
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert "not approved" in done.stderr and "enabledMcpjsonServers" in done.stderr


def test_trusted_and_approved_project_server_starts_and_serves(fake_api, project, tmp_path):
    marker = tmp_path / "started"
    _project_server(project, marker, {"enabledMcpjsonServers": ["proj"]})
    trust_store().trust(project)
    fake_api.script(tool_reply(("mcp__proj__add", {"a": 20, "b": 22})), text_reply("42"))
    done = run_agent(fake_api, project, "-p", "add", "--allowedTools", "mcp__proj", MARKER_PATH=str(marker))
    assert done.returncode == 0, done.stderr
    assert marker.exists()
    assert json.loads(fake_api.requests[1].tool_result_texts()[0]) == {"total": 42}


def test_an_mcp_prompt_is_a_slash_command(fake_api, project, tmp_path):
    config = _config(tmp_path, t=stdio_entry())
    fake_api.script(text_reply("hello Bob"))
    done = run_agent(fake_api, project, "-p", "/mcp__t__greet Bob", "--mcp-config", config,
                     "--output-format", "stream-json", "--verbose")
    assert done.returncode == 0, done.stderr
    assert "mcp__t__greet" in json.loads(done.stdout.splitlines()[0])["slash_commands"]
    assert "Please greet Bob warmly." in fake_api.requests[0].turn_prompt()


def test_a_daemon_fire_gets_the_users_mcp_servers(fake_api, tmp_path):

    from test_daemon_e2e import project_with_due_task, read_until, start_daemon, stop

    project = project_with_due_task(tmp_path, "da3e00cc", "summarise issues")
    user_dir = tmp_path / "home" / ".claude"
    user_dir.mkdir(parents=True)
    (user_dir / "agent-mcp.json").write_text(json.dumps({"mcpServers": {"gh": stdio_entry()}}))
    (user_dir / "settings.json").write_text(json.dumps({"permissions": {"allow": ["mcp__gh"]}}))
    fake_api.script(tool_reply(("mcp__gh__echo", {"text": "issue 7"})), text_reply("one new issue"))
    proc = start_daemon(fake_api, project)
    try:
        read_until(proc, "task da3e00cc done", timeout=90)  # the bound: fails the test if the run never ends
    finally:
        stop(proc)
    result = fake_api.requests[1].tool_results()[0]
    assert "echo: issue 7" in json.dumps(result) and not result.get("is_error")


def test_agent_cron_run_gets_the_users_mcp_servers(fake_api, tmp_path):
    from test_cron_run import cron_run
    from test_daemon_e2e import project_with_due_task

    project = project_with_due_task(tmp_path, "c7a000cc", "summarise issues")
    user_dir = tmp_path / "home" / ".claude"
    user_dir.mkdir(parents=True)
    (user_dir / "agent-mcp.json").write_text(json.dumps({"mcpServers": {"gh": stdio_entry()}}))
    (user_dir / "settings.json").write_text(json.dumps({"permissions": {"allow": ["mcp__gh"]}}))
    fake_api.script(tool_reply(("mcp__gh__echo", {"text": "issue 3"})), text_reply("one issue"))
    done = cron_run(fake_api, project, "c7a000cc", timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["result"] == "one issue"
    assert "echo: issue 3" in fake_api.requests[1].tool_result_texts()[0]
