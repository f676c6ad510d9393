"""Read-only commands need no rule (as in Claude Code's recording D_readonly_bash), judged on the real
parse: hostile spellings that run a program or write a file are not read-only, a Read deny rule over an
argument denies the command, a path outside the project asks, and `Bash(npm test *)` is `Bash(npm test:*)`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_api import FakeAnthropic, child_env, text_reply, tool_reply

from agent.permissions.policy import PermissionPolicy
from agent.settings import load_settings
from agent.tools.bash import BashTool

DATA = Path(__file__).parent / "data"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "a.py").write_text("alpha = 1\n")
    (folder / "notes.txt").write_text("alpha line\nbeta line\ngamma line\n")
    (folder / ".env").write_text("TOKEN=secret\n")
    (folder / "secrets").mkdir()
    (folder / "secrets" / "key.pem").write_text("KEY\n")
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "id_rsa").write_text("PRIVATE\n")
    (folder / "ssh-link").symlink_to(tmp_path / "home" / ".ssh")
    return folder


def decide(project: Path, command: str, **rules) -> str:
    policy = PermissionPolicy(project, home=project.parent / "home", **rules)
    return policy.check(BashTool(), {"command": command}).behavior


READ_ONLY = [
    "ls", "ls -la", "ls -la src", "ls src notes.txt", "ls -R",
    "cat notes.txt", "cat -n src/a.py", "cat notes.txt src/a.py",
    "head notes.txt", "head -n 2 notes.txt", "tail -n 1 notes.txt", "tail -c 5 notes.txt",
    "wc -l notes.txt", "wc notes.txt src/a.py",
    "grep alpha notes.txt", "grep -rn alpha .", "grep -n -e alpha -e beta notes.txt", "grep -ri ALPHA src",
    "rg alpha", "rg -n alpha src", "rg --files", "rg -i alpha -g '*.py'",
    "find . -name '*.txt'", "find src -type f", "find . -maxdepth 1 -print", "find",
    "git status", "git status -s", "git log --oneline -5", "git log -p -- notes.txt", "git diff",
    "git diff --stat HEAD", "git show HEAD", "git --no-pager log", "git diff --no-ext-diff",
    "cat notes.txt | grep alpha | wc -l", "ls && git status", "ls; wc -l notes.txt",
    "grep alpha notes.txt || grep beta notes.txt", "ls 2>/dev/null", "grep alpha notes.txt 2>&1",
    "cat ~/../project/notes.txt",
]

HOSTILE = [
    # find that runs, deletes or writes
    "find . -exec rm {} +", "find . -execdir touch x \\;", "find . -ok rm {} \\;", "find . -okdir rm {} \\;",
    "find . -delete", "find . -name x -delete", "find . -fprint out", "find . -fprint0 out",
    "find . -fprintf out %p", "find . -fls out", "find -L . -name id_rsa", "find . -follow",
    "find -- /etc -name passwd", "find -O3 /etc", "find -D tree / -maxdepth 1", "find -H ~ -name id_rsa",
    # git that runs a program, writes a file or leaves the project
    "git diff --output=x", "git diff --output x", "git log --output=.claude/settings.local.json",
    "git diff --outp=x", "git diff --ou=x", "git show --output=x HEAD", "git -c core.pager=sh log",
    "git -c core.fsmonitor='touch x' status", "git -C .. status", "git --git-dir=/tmp/x log",
    "git --work-tree=.. status", "git --exec-path=/tmp log", "git diff --ext-diff", "git diff --ext",
    "git log --textconv -p", "git -P -c alias.x=push log", "git push", "git config core.pager sh",
    "git diff -O/tmp/order", "git log --config-env=x=y",
    # rg and grep that run programs, read pattern files or follow links out
    "rg --pre sh alpha", "rg --pre=./x alpha", "rg -z alpha", "rg --search-zip alpha", "rg --hostname-bin=x a",
    "rg -L alpha", "rg --follow alpha", "grep -f /etc/shadow notes.txt", "grep --file=x notes.txt",
    "grep -R alpha .", "grep --dereference-recursive alpha .", "grep --reg=. /etc/shadow",
    "grep --regexp . /etc/shadow", "grep -ie x /etc/shadow", "grep --exclude-from /etc/shadow x notes.txt",
    "wc --files0-from=list", "wc --files0=list",
    # writes through redirections, other programs, substitutions, assignments
    "ls > file", "ls >> file", "cat notes.txt > copy", "git diff > out.patch", "ls 2> err", "ls &> out",
    "cat notes.txt | tee copy", "ls && touch x", "ls; rm notes.txt", "ls || rm -rf src",
    "cat $(echo notes.txt)", "cat `echo notes.txt`", "cat <(rm x)", "ls $HOME", "LD_PRELOAD=/tmp/x.so ls",
    "GIT_EXTERNAL_DIFF=x git diff", "cat < notes.txt", "cat *.txt", "/tmp/ls", "./ls", "sort notes.txt",
    "cat ~root/.ssh/id_rsa",
    # reads outside the project: judged as a Read there (asks)
    "cat ~/.ssh/id_rsa", "cat /etc/passwd", "ls ../", "ls ~", "head ssh-link/id_rsa", "grep x /etc/hosts",
    "find / -name id_rsa", "rg --files /etc", "git diff --no-index /etc/passwd notes.txt", "tail ../../x",
]


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_commands_run_without_a_rule(project: Path, command: str) -> None:
    assert decide(project, command) == "allow"


@pytest.mark.parametrize("command", HOSTILE)
def test_hostile_spellings_are_not_read_only(project: Path, command: str) -> None:
    assert decide(project, command) == "ask"


def test_the_tables_are_large() -> None:
    assert len(READ_ONLY) >= 40 and len(HOSTILE) >= 75


@pytest.mark.parametrize(("command", "deny", "expected"), [
    ("cat .env", "Read(./.env)", "deny"),
    ("head -n 1 .env", "Read(.env)", "deny"),
    ("cat notes.txt .env", "Read(./.env)", "deny"),
    ("ls secrets", "Read(./secrets/**)", "deny"),
    ("cat secrets/key.pem", "Read(./secrets/**)", "deny"),
    ("wc -l secrets/key.pem | cat", "Read(./secrets/**)", "deny"),
    ("cat notes.txt", "Read(./.env)", "allow"),  # another file: still read-only
    ("git status", "Read(./.env)", "allow"),  # names only
    ("find . -name '*.pem'", "Read(./secrets/**)", "allow"),  # names only
    ("grep -rn TOKEN .", "Read(./.env)", "ask"),  # a search could print what the rule hides
    ("rg TOKEN", "Read(./.env)", "ask"),
    ("grep TOKEN notes.txt", "Read(./.env)", "allow"),  # names its file: judged on it
    ("git log -p", "Read(./.env)", "ask"),
    ("git show HEAD:.env", "Read(./.env)", "ask"),
])
def test_read_deny_rules_judge_each_argument_as_a_read(project: Path, command: str, deny: str, expected: str):
    assert decide(project, command, deny=[deny]) == expected


def test_a_read_allow_rule_for_an_outside_folder_lets_the_read_only_command_run(project: Path) -> None:
    outside = project.parent / "shared"
    outside.mkdir()
    (outside / "doc.txt").write_text("x\n")
    assert decide(project, f"cat {outside}/doc.txt") == "ask"
    assert decide(project, f"cat {outside}/doc.txt", allow=[f"Read(/{outside}/**)"]) == "allow"


def test_a_bash_deny_or_ask_rule_still_wins_over_read_only(project: Path) -> None:
    assert decide(project, "cat notes.txt", deny=["Bash(cat:*)"]) == "deny"
    assert decide(project, "git log", ask=["Bash(git log:*)"]) == "ask"


def test_the_reason_names_the_path_and_the_rule(project: Path) -> None:
    policy = PermissionPolicy(project, home=project.parent / "home", deny=["Read(./.env)"])
    denied = policy.check(BashTool(), {"command": "cat .env"})
    assert denied.behavior == "deny" and ".env" in denied.reason and "Read(./.env)" in denied.reason
    outside = policy.check(BashTool(), {"command": "cat ~/.ssh/id_rsa"})
    assert outside.behavior == "ask" and "outside the project" in outside.reason


# ----------------------------------------------------------------------------- Bash(npm test *)


@pytest.mark.parametrize(("kind", "rule", "command", "expected"), [
    ("allow", "Bash(npm test *)", "npm test --watch=false", "allow"),
    ("allow", "Bash(npm test *)", "npm test", "allow"),
    ("allow", "Bash(npm test *)", "npm testing", "ask"),
    ("allow", "Bash(npm test *)", "npm test && rm -rf src", "ask"),
    ("deny", "Bash(rm *)", "rm -rf src", "deny"),
    ("deny", "Bash(rm *)", "sudo rm -rf src", "deny"),
    ("deny", "Bash(git push *)", "git push origin main", "deny"),
    ("ask", "Bash(git push *)", "git push", "ask"),
])
def test_the_space_star_form_means_the_same_as_colon_star(project, kind, rule, command, expected):
    assert decide(project, command, **{kind: [rule]}) == expected
    legacy = rule.replace(" *)", ":*)")
    assert decide(project, command, **{kind: [legacy]}) == expected


def test_settings_accept_the_space_star_form(project: Path) -> None:
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps(
        {"permissions": {"allow": ["Bash(npm run build *)"], "deny": ["Bash(curl *)"]}}))
    settings = load_settings(project, [project / ".claude" / "settings.json"], trusted=True)
    policy = PermissionPolicy.from_settings(project, settings)
    assert policy.check(BashTool(), {"command": "npm run build --prod"}).behavior == "allow"
    assert policy.check(BashTool(), {"command": "curl https://x"}).behavior == "deny"


# ----------------------------------------------------------------------------- the real CLI, headless


def recorded_calls() -> list[str]:
    """The six commands Claude Code ran with no rule in its recording (tests/data)."""
    calls = []
    for line in (DATA / "claude_code_readonly_bash.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["type"] == "assistant":
            calls += [b["input"]["command"] for b in event["message"]["content"] if b["type"] == "tool_use"]
    return calls


def run_headless(api: FakeAnthropic, project: Path, *extra: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "look", "--output-format",
                           "json", *extra], capture_output=True, text=True, timeout=60,
                          env=child_env(api, home=project.parent / "home"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_headless_runs_the_recorded_read_only_commands_like_claude_code(fake_api: FakeAnthropic, project: Path):
    commands = recorded_calls()
    assert commands == ["ls", "grep -rn alpha .", "cat notes.txt", "find . -name '*.txt'", "rg alpha",
                        "wc -l notes.txt"]
    fake_api.script(tool_reply(*[("Bash", {"command": c}) for c in commands]), text_reply("looked"))
    result = run_headless(fake_api, project)
    assert result["permission_denials"] == [] and result["is_error"] is False
    outputs = fake_api.requests[1].tool_results()
    ran = [r for r, c in zip(outputs, commands, strict=True) if _has(c.split()[0])]  # rg may be missing here
    assert len(ran) >= 5 and all(not r.get("is_error") for r in ran)
    assert "alpha line" in json.dumps(outputs)


@pytest.mark.parametrize("command", ["find . -exec touch PWNED {} +", "git diff --output=PWNED", "ls > PWNED",
                                     "find . -fprint PWNED", "rg --pre ./pwn.sh alpha", "cat .env"])
def test_headless_hostile_reads_are_denied_and_do_nothing(fake_api: FakeAnthropic, project: Path, command: str):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / "pwn.sh").write_text("#!/bin/sh\ntouch PWNED\ncat \"$1\"\n")
    (project / "pwn.sh").chmod(0o755)
    fake_api.script(tool_reply(("Bash", {"command": command})), text_reply("tried"))
    result = run_headless(fake_api, project, "--disallowedTools", "Read(./.env)")
    assert [d["tool_input"]["command"] for d in result["permission_denials"]] == [command]
    assert not (project / "PWNED").exists()
    assert "secret" not in json.dumps(fake_api.requests[1].tool_results())


def _has(program: str) -> bool:
    return any(os.access(os.path.join(folder, program), os.X_OK) for folder in os.environ["PATH"].split(os.pathsep))


# ----------------------------------------------------------------------------- what git and PATH could run


@pytest.mark.parametrize("config", [
    "[core]\n\tfsmonitor = touch PWNED\n", "[core]\n\tpager = sh -c 'touch PWNED'\n",
    "[diff]\n\texternal = ./pwn.sh\n", '[diff "x"]\n\ttextconv = ./pwn.sh\n', "[pager]\n\tlog = ./pwn.sh\n",
    '[filter "x"]\n\tclean = ./pwn.sh\n', "[include]\n\tpath = ../other.cfg\n", "[gpg]\n\tprogram = ./pwn.sh\n",
    "[log]\n\tshowSignature = true\n", "[core]\n\thooksPath = .githooks\n",
])
def test_git_is_not_read_only_where_the_repository_config_can_run_a_program(project: Path, config: str) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    assert decide(project, "git status") == "allow"
    with (project / ".git" / "config").open("a") as fh:
        fh.write(config)
    for command in ("git status", "git log", "git diff", "git show HEAD"):
        assert decide(project, command) == "ask"
    assert decide(project, "cat notes.txt") == "allow"  # not git: unaffected


def test_git_is_not_read_only_where_the_repository_has_a_hook(project: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    assert decide(project, "git status") == "allow"  # only *.sample hooks
    (project / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\n")  # commit hooks: status runs none
    assert decide(project, "git status") == "allow"
    hook = project / ".git" / "hooks" / "post-index-change"
    hook.write_text("#!/bin/sh\ntouch PWNED\n")
    hook.chmod(0o755)
    assert decide(project, "git status") == "ask"


def test_git_config_is_found_from_a_subfolder_and_through_a_gitdir_file(project: Path, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".git" / "config").write_text("[core]\n\tfsmonitor = touch PWNED\n")
    assert decide(project / "src", "git status") == "ask"
    elsewhere = tmp_path / "gitdir"
    elsewhere.mkdir()
    (elsewhere / "config").write_text("[core]\n\tpager = ./pwn.sh\n")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / ".git").write_text(f"gitdir: {elsewhere}\n")
    assert decide(linked, "git log") == "ask"


def test_headless_git_status_with_a_planted_fsmonitor_does_not_run_it(fake_api: FakeAnthropic, project: Path):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".git" / "config").write_text("[core]\n\tfsmonitor = \"touch PWNED; false\"\n")
    fake_api.script(tool_reply(("Bash", {"command": "git status"})), text_reply("looked"))
    result = run_headless(fake_api, project)
    assert [d["tool_input"]["command"] for d in result["permission_denials"]] == ["git status"]
    assert not (project / "PWNED").exists()


@pytest.mark.parametrize("path_env", [".:/usr/bin:/bin", "/usr/bin::/bin", "bin:/usr/bin", "{project}/bin:/bin"])
def test_read_only_needs_a_path_the_project_cannot_put_programs_on(project: Path, path_env: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert decide(project, "ls") == "allow"
    monkeypatch.setenv("PATH", path_env.format(project=project))
    assert decide(project, "ls") == "ask"


def test_the_space_star_form_works_in_allowed_tools_flags(project: Path) -> None:
    from agent.permissions.policy import parse_rules

    (npm, edit) = parse_rules(["Bash(npm test *) Edit"], split=True)
    assert (npm.tool, npm.specifier, npm.text) == ("Bash", "npm test:*", "Bash(npm test *)")
    assert edit.tool == "Edit"
    assert parse_rules(["Bash(*)"])[0].specifier is None  # still the whole tool
