"""PermissionPolicy: modes, Claude Code rules, compound Bash commands and paths outside the project."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from agent.permissions.bash_policy import suggest_bash_rule
from agent.permissions.policy import (
    Decision,
    PermissionConfigError,
    PermissionMode,
    PermissionPolicy,
    parse_rule,
    split_rule_list,
)
from agent.permissions.shell_parse import parse_shell
from agent.settings import Settings
from agent.tools.base import Tool, ToolContext, ToolResult
from agent.tools.bash import BashTool
from agent.tools.files import EditTool, ReadTool, WriteTool
from agent.tools.search import GlobTool, GrepTool


class _NoInput(BaseModel):
    pass


class _FakeTool(Tool):
    Input = _NoInput
    description = "test double"

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        return ToolResult("")


class CronCreate(_FakeTool):
    name: ClassVar[str] = "CronCreate"


class CronList(_FakeTool):
    name: ClassVar[str] = "CronList"
    read_only: ClassVar[bool] = True


class WebFetch(_FakeTool):
    name: ClassVar[str] = "WebFetch"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return root


def check(policy: PermissionPolicy, tool: Tool, **raw: Any) -> Decision:
    return policy.check(tool, tool.parse_input(raw), ToolContext(project_dir=policy.project_dir))


def bash(policy: PermissionPolicy, command: str) -> Decision:
    return check(policy, BashTool(), command=command)


# --- parsing ------------------------------------------------------------------------------------

def test_parse_rule_reads_tool_and_specifier() -> None:
    rule = parse_rule("Bash(npm test:*)")
    assert (rule.tool, rule.specifier, rule.text) == ("Bash", "npm test:*", "Bash(npm test:*)")
    assert parse_rule("Edit").specifier is None
    assert parse_rule("Bash(*)").specifier is None  # the whole tool
    assert parse_rule("Bash(echo (a))").specifier == "echo (a)"


@pytest.mark.parametrize("bad", ["", "Bash(", "no spaces allowed", "Bash(x) trailing"])
def test_parse_rule_rejects_malformed_rules_with_the_expected_form(bad: str) -> None:
    with pytest.raises(PermissionConfigError, match=r"ToolName\(specifier\)"):
        parse_rule(bad)


def test_split_rule_list_splits_on_spaces_and_commas_outside_parentheses() -> None:
    assert split_rule_list("Bash(npm test:*) Edit,Read  Bash(git diff:*)") == [
        "Bash(npm test:*)", "Edit", "Read", "Bash(git diff:*)",
    ]
    assert split_rule_list("Bash(echo a, b)") == ["Bash(echo a, b)"]


def test_parse_shell_splits_compound_commands_outside_quotes() -> None:
    script = parse_shell("npm test && rm -rf / ; echo 'a;b' | wc -l || x & y\nz")
    assert [c.words for c in script.commands] == [
        ("npm", "test"), ("rm", "-rf", "/"), ("echo", "a;b"), ("wc", "-l"), ("x",), ("y",), ("z",),
    ]
    assert script.problems == () and script.unreliable is None


def test_parse_shell_reports_substitutions_and_file_redirects_as_problems() -> None:
    def plain(command: str) -> bool:
        return not parse_shell(command).problems

    assert not plain("echo $(whoami)")
    assert not plain('echo "`id`"')
    assert plain("echo '$(not run)'")
    assert not plain("diff <(ls a) <(ls b)")
    assert not plain("npm test > out.txt")
    assert plain("npm test 2>&1 >/dev/null")
    assert not plain("cat a &> log; ls")


def test_parse_shell_distrusts_an_unterminated_quote() -> None:
    assert parse_shell("echo 'oops").unreliable


# --- modes --------------------------------------------------------------------------------------

def test_default_mode_allows_reads_inside_the_project(project: Path) -> None:
    policy = PermissionPolicy(project)
    assert check(policy, ReadTool(), file_path="src/a.py").behavior == "allow"
    assert check(policy, GlobTool(), pattern="**/*.py").behavior == "allow"
    assert check(policy, GrepTool(), pattern="x", path="src").behavior == "allow"


def test_default_mode_asks_before_write_edit_and_bash_with_a_suggested_rule(project: Path) -> None:
    policy = PermissionPolicy(project)
    write = check(policy, WriteTool(), file_path="src/a.py", content="x")
    edit = check(policy, EditTool(), file_path="src/a.py", old_string="a", new_string="b")
    run = bash(policy, "npm test --watch")
    assert (write.behavior, write.suggested_rule) == ("ask", "Write")  # the question says Write, not Edit
    assert (edit.behavior, edit.suggested_rule) == ("ask", "Edit")
    assert (run.behavior, run.suggested_rule) == ("ask", "Bash(npm test:*)")
    assert "Bash" in run.reason


def test_accept_edits_mode_allows_edits_inside_but_still_asks_for_bash(project: Path) -> None:
    policy = PermissionPolicy(project, mode="acceptEdits")
    assert check(policy, WriteTool(), file_path="src/a.py", content="x").behavior == "allow"
    assert check(policy, EditTool(), file_path="a", old_string="a", new_string="b").behavior == "allow"
    assert bash(policy, "npm test").behavior == "ask"


def test_accept_edits_mode_asks_for_edits_outside_the_project(project: Path) -> None:
    policy = PermissionPolicy(project, mode=PermissionMode.acceptEdits)
    decision = check(policy, WriteTool(), file_path="../outside/x.txt", content="x")
    assert decision.behavior == "ask" and "outside the project" in decision.reason


def test_accept_edits_mode_still_asks_before_changing_agent_settings_or_git_internals(project: Path) -> None:
    policy = PermissionPolicy(project, mode="acceptEdits")
    assert check(policy, WriteTool(), file_path=".claude/settings.json", content="{}").behavior == "ask"
    assert check(policy, WriteTool(), file_path=".git/hooks/pre-commit", content="x").behavior == "ask"


def test_plan_mode_denies_everything_but_read_only_tools(project: Path) -> None:
    policy = PermissionPolicy(project, mode="plan", allow=["Bash", "Edit"])
    denied = check(policy, WriteTool(), file_path="a.txt", content="x")
    assert denied.behavior == "deny" and "plan mode is read-only" in denied.reason
    assert bash(policy, "ls").behavior == "deny"
    assert check(policy, ReadTool(), file_path="a.txt").behavior == "allow"
    assert policy.check(CronList(), {}).behavior == "allow"
    assert policy.check(CronCreate(), {}).behavior == "deny"


def test_bypass_mode_allows_everything_except_deny_rules(project: Path) -> None:
    policy = PermissionPolicy(project, mode="bypassPermissions", deny=["Bash(git push:*)"])
    assert bash(policy, "rm -rf build").behavior == "allow"
    assert check(policy, WriteTool(), file_path="/elsewhere/x", content="x").behavior == "allow"
    denied = bash(policy, "git push origin main")
    assert denied.behavior == "deny" and "Bash(git push:*)" in denied.reason
    assert denied.suggested_rule is None


def test_schedule_tools_are_allowed_outside_plan_mode(project: Path) -> None:
    for mode in ("default", "acceptEdits"):
        assert PermissionPolicy(project, mode=mode).check(CronCreate(), {}).behavior == "allow"


def test_unknown_mode_is_a_config_error(project: Path) -> None:
    with pytest.raises(PermissionConfigError, match="acceptEdits"):
        PermissionPolicy(project, mode="yolo")


# --- Bash rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("npm test", "allow"),
        ("npm test -- --watch", "allow"),
        ("npm testing", "ask"),
        ("npm test && rm -rf /", "ask"),
        ("npm test; npm test -- a", "allow"),
        ("npm test | tee log", "ask"),
        ("npm test 2>&1", "allow"),
        ("npm test > report.txt", "ask"),
        ("npm test $(rm -rf /)", "ask"),
        ("npm test `rm -rf /`", "ask"),
        ("npm test 'it''s'", "allow"),
        ("npm test 'unterminated", "ask"),
    ],
)
def test_prefix_rule_allows_only_commands_whose_every_part_matches(
    project: Path, command: str, expected: str
) -> None:
    assert bash(PermissionPolicy(project, allow=["Bash(npm test:*)"]), command).behavior == expected


def test_exact_rule_matches_only_the_exact_command(project: Path) -> None:
    policy = PermissionPolicy(project, allow=["Bash(git fetch)"])
    assert bash(policy, "git fetch").behavior == "allow"
    assert bash(policy, "git fetch --all").behavior == "ask"


def test_compound_command_is_allowed_when_each_part_has_a_rule(project: Path) -> None:
    policy = PermissionPolicy(project, allow=["Bash(git status)", "Bash(git diff:*)"])
    assert bash(policy, "git status && git diff HEAD").behavior == "allow"
    assert bash(policy, "git status && git push").behavior == "ask"


def test_bare_bash_rule_allows_any_command(project: Path) -> None:
    assert bash(PermissionPolicy(project, allow=["Bash"]), "curl x | sh").behavior == "allow"


@pytest.mark.parametrize(
    "command", ["rm -rf x", "ls && rm -rf x", "echo $(rm x)", "FOO=1 rm x", "(rm x)", "ls | xargs echo; rm x"]
)
def test_deny_rule_matches_any_part_and_beats_allow(project: Path, command: str) -> None:
    policy = PermissionPolicy(project, allow=["Bash"], deny=["Bash(rm:*)"])
    decision = bash(policy, command)
    assert decision.behavior == "deny" and decision.rule == "Bash(rm:*)"


def test_deny_rule_does_not_match_a_mere_mention(project: Path) -> None:
    policy = PermissionPolicy(project, allow=["Bash"], deny=["Bash(rm:*)"])
    assert bash(policy, "echo rm is dangerous").behavior == "allow"


def test_ask_rule_beats_allow_but_loses_to_deny(project: Path) -> None:
    policy = PermissionPolicy(
        project, allow=["Bash"], ask=["Bash(git push:*)"], deny=["Bash(git push --force:*)"]
    )
    asked = bash(policy, "git push origin")
    assert asked.behavior == "ask" and asked.rule == "Bash(git push:*)"
    assert bash(policy, "git push --force origin").behavior == "deny"


def test_suggested_bash_rule_permits_the_call_it_was_made_for(project: Path) -> None:
    commands = ["git status", "ls -la", "npm run build", "make && make install", "echo $(date)", "pytest > o"]
    for command in commands:
        rule = suggest_bash_rule(command)
        assert bash(PermissionPolicy(project, allow=[rule]), command).behavior == "allow", rule
    assert suggest_bash_rule("ls -la") == "Bash(ls:*)"
    assert suggest_bash_rule("make && make install") == "Bash(make && make install)"


def test_allow_for_session_adds_the_suggested_rule(project: Path) -> None:
    policy = PermissionPolicy(project)
    first = bash(policy, "npm test")
    assert first.behavior == "ask"
    policy.allow_for_session(first.suggested_rule or "")
    assert bash(policy, "npm test -- -k x").behavior == "allow"
    assert bash(policy, "npm publish").behavior == "ask"


# --- path rules ---------------------------------------------------------------------------------

def test_edit_rule_with_double_star_allows_edits_and_writes_below_the_folder(project: Path) -> None:
    policy = PermissionPolicy(project, allow=["Edit(src/**)"])
    assert check(policy, WriteTool(), file_path="src/a/b/c.py", content="").behavior == "allow"
    edit = check(policy, EditTool(), file_path=str(project / "src/x.py"), old_string="a", new_string="b")
    assert edit.behavior == "allow"
    assert check(policy, WriteTool(), file_path="docs/x.md", content="").behavior == "ask"


def test_read_deny_rule_covers_read_glob_and_grep(project: Path) -> None:
    policy = PermissionPolicy(project, deny=["Read(./secrets/**)"])
    assert check(policy, ReadTool(), file_path="secrets/key.pem").behavior == "deny"
    assert check(policy, ReadTool(), file_path="src/../secrets/key.pem").behavior == "deny"
    assert check(policy, GrepTool(), pattern="x", path="secrets/sub").behavior == "deny"
    assert check(policy, GlobTool(), pattern="*", path="secrets").behavior == "deny"  # the folder itself
    assert check(policy, ReadTool(), file_path="src/secrets/key.pem").behavior == "allow"  # anchored


def test_pattern_without_slash_matches_at_any_depth_like_gitignore(project: Path) -> None:
    policy = PermissionPolicy(project, deny=["Read(.env)", "Edit(*.lock)"])
    assert check(policy, ReadTool(), file_path="deep/er/.env").behavior == "deny"
    assert check(policy, WriteTool(), file_path="pkg/poetry.lock", content="").behavior == "deny"
    assert check(policy, ReadTool(), file_path=".env.example").behavior == "allow"


def test_leading_slash_is_project_root_and_double_slash_is_absolute(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    policy = PermissionPolicy(project, deny=["Read(/src/private.py)"], allow=[f"Read(/{outside}/**)"])
    assert check(policy, ReadTool(), file_path="src/private.py").behavior == "deny"
    assert check(policy, ReadTool(), file_path=str(outside / "notes.txt")).behavior == "allow"
    assert check(policy, ReadTool(), file_path=str(tmp_path / "other.txt")).behavior == "ask"


def test_tilde_rule_is_relative_to_home(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    policy = PermissionPolicy(project, deny=["Read(~/.ssh/**)"], home=home)
    assert check(policy, ReadTool(), file_path=str(home / ".ssh/id_rsa")).behavior == "deny"
    assert check(policy, ReadTool(), file_path=str(home / "notes.txt")).behavior == "ask"


def test_read_outside_the_project_asks_and_suggests_an_absolute_rule(project: Path, tmp_path: Path) -> None:
    policy = PermissionPolicy(project)
    target = tmp_path / "outside" / "x.txt"
    decision = check(policy, ReadTool(), file_path=str(target))
    assert decision.behavior == "ask" and str(target) in decision.reason
    assert decision.suggested_rule == f"Read(/{target})"
    policy.allow_for_session(decision.suggested_rule)
    assert check(policy, ReadTool(), file_path=str(target)).behavior == "allow"


def test_dotdot_escaping_the_project_counts_as_outside(project: Path) -> None:
    policy = PermissionPolicy(project, allow=["Read", "Edit"])
    assert check(policy, ReadTool(), file_path="src/../../outside/x").behavior == "ask"
    assert check(policy, GrepTool(), pattern="x", path="..").behavior == "ask"
    assert check(policy, ReadTool(), file_path="src/../README.md").behavior == "allow"


def test_symlink_out_of_the_project_counts_as_outside(project: Path, tmp_path: Path) -> None:
    (project / "src" / "link").symlink_to(tmp_path / "outside")
    policy = PermissionPolicy(project, mode="acceptEdits", allow=["Edit(src/**)"])
    decision = check(policy, WriteTool(), file_path="src/link/evil.sh", content="")
    assert decision.behavior == "ask" and "outside the project" in decision.reason


def test_deny_rule_applies_through_a_symlink_to_the_denied_path(project: Path) -> None:
    (project / "secrets").mkdir()
    (project / "public").symlink_to(project / "secrets")
    policy = PermissionPolicy(project, deny=["Read(secrets/**)"])
    assert check(policy, ReadTool(), file_path="public/key.pem").behavior == "deny"


# --- other tools, settings ----------------------------------------------------------------------

def test_unknown_tool_rules_match_by_name(project: Path) -> None:
    assert PermissionPolicy(project).check(WebFetch(), {}).behavior == "ask"
    assert PermissionPolicy(project, allow=["WebFetch"]).check(WebFetch(), {}).behavior == "allow"
    denied = PermissionPolicy(project, allow=["Bash"], deny=["WebFetch"]).check(WebFetch(), {})
    assert denied.behavior == "deny"


def test_check_accepts_raw_dict_arguments(project: Path) -> None:
    policy = PermissionPolicy(project, deny=["Bash(rm:*)"])
    assert policy.check(BashTool(), {"command": "rm -rf x"}).behavior == "deny"
    assert policy.check(BashTool(), {"nonsense": 1}).behavior == "ask"


def test_from_settings_merges_settings_rules_cli_rules_and_mode(project: Path) -> None:
    settings = Settings(
        raw={"permissions": {"defaultMode": "acceptEdits"}},
        allow=["Bash(git status)"], deny=["Read(.env)"], ask=["Bash(git push:*)"],
    )
    policy = PermissionPolicy.from_settings(
        project, settings, extra_allow=["Bash(npm test:*) Bash(make:*),WebFetch"], extra_deny=["Bash(curl:*)"]
    )
    assert policy.mode is PermissionMode.acceptEdits
    assert bash(policy, "git status && npm test && make all").behavior == "allow"
    assert bash(policy, "curl example.com").behavior == "deny"
    assert check(policy, ReadTool(), file_path=".env").behavior == "deny"
    assert PermissionPolicy.from_settings(project, settings, mode="plan").mode is PermissionMode.plan
    assert PermissionPolicy.from_settings(project, Settings()).mode is PermissionMode.default


def test_invalid_rule_in_settings_is_a_config_error(project: Path) -> None:
    with pytest.raises(PermissionConfigError):
        PermissionPolicy.from_settings(project, Settings(deny=["Bash(rm"]))


def test_suggested_write_rule_allows_write_and_claude_code_edit_rules_still_cover_write(project: Path) -> None:
    policy = PermissionPolicy(project)
    suggested = check(policy, WriteTool(), file_path="src/a.py", content="x").suggested_rule
    policy.allow_for_session(suggested)
    assert check(policy, WriteTool(), file_path="src/a.py", content="x").behavior == "allow"
    assert check(policy, EditTool(), file_path="src/a.py", old_string="a", new_string="b").behavior == "ask"
    claude_code = PermissionPolicy(project, allow=["Edit(src/**)", "Write(docs/**)"])
    assert check(claude_code, WriteTool(), file_path="src/a.py", content="x").behavior == "allow"
    assert check(claude_code, WriteTool(), file_path="docs/b.md", content="x").behavior == "allow"
