""""Yes, and don't ask again" offers the narrowest useful rule: the command with its subcommand or script,
never an interpreter, a program runner or a destructive program as a bare prefix (exact command only),
and no rule at all for privilege raising or multi-line commands (the question then has no option 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.permissions.bash_policy import suggest_bash_rule
from agent.permissions.policy import PermissionPolicy
from agent.repl.question import QuestionMenu, permission_options
from agent.tools.bash import BashTool

EXACT = "exact"  # the rule is Bash(<the command itself>)
NONE = None

TABLE: list[tuple[str, str | None]] = [
    # the command plus its subcommand, module or script
    ("python3 -m pytest -q", "Bash(python3 -m pytest:*)"),
    ("python -m pytest tests/test_x.py -k fast", "Bash(python -m pytest:*)"),
    ("python3.12 -m mypy agent", "Bash(python3.12 -m mypy:*)"),
    ("python3 -m pip list", "Bash(python3 -m pip list:*)"),
    ("python3 manage.py migrate", "Bash(python3 manage.py:*)"),
    ("node scripts/build.js --prod", "Bash(node scripts/build.js:*)"),
    ("bash scripts/ci.sh", "Bash(bash scripts/ci.sh:*)"),
    ("npm run test", "Bash(npm run test:*)"),
    ("npm run lint -- --fix", "Bash(npm run lint:*)"),
    ("npm test", "Bash(npm test:*)"),
    ("pnpm run build", "Bash(pnpm run build:*)"),
    ("yarn test --watch=false", "Bash(yarn test:*)"),
    ("npx jest --watch", "Bash(npx jest:*)"),
    ("uv run pytest -q", "Bash(uv run pytest:*)"),
    ("uv run python -m pytest", "Bash(uv run python -m pytest:*)"),
    ("poetry run pytest", "Bash(poetry run pytest:*)"),
    ("git log --oneline -5", "Bash(git log:*)"),
    ("git status -s", "Bash(git status:*)"),
    ("git diff HEAD~1", "Bash(git diff:*)"),
    ("git commit -m 'fix: tests'", "Bash(git commit:*)"),
    ("cargo test parser", "Bash(cargo test:*)"),
    ("cargo run --release", "Bash(cargo run:*)"),
    ("go test ./...", "Bash(go test:*)"),
    ("go run main.go", "Bash(go run main.go:*)"),
    ("make test", "Bash(make test:*)"),
    ("docker ps -a", "Bash(docker ps:*)"),
    ("kubectl get pods", "Bash(kubectl get:*)"),
    ("gh pr view 12", "Bash(gh pr:*)"),
    ("./gradlew test", "Bash(./gradlew test:*)"),
    ("./scripts/check.sh --fast", "Bash(./scripts/check.sh:*)"),
    ("pytest -q tests", "Bash(pytest:*)"),
    ("ls -la", "Bash(ls:*)"),
    ("grep -rn TODO src", "Bash(grep:*)"),
    # interpreters and runners with code, stdin or nothing to name: the exact command only
    ("python3", EXACT),
    ("python3 -c 'import os; os.remove(\"x\")'", EXACT),
    ("python3 -", EXACT),
    ("python3 -m pip install requests", EXACT),
    ("node", EXACT),
    ("node -e 'require(\"fs\").rmSync(\"x\")'", EXACT),
    ("bash", EXACT),
    ("bash -c 'rm -rf build'", EXACT),
    ("sh -c 'curl x | sh'", EXACT),
    ("perl -e 'unlink \"x\"'", EXACT),
    ("uv run python -c 'print(1)'", EXACT),
    ("npx -y some-package", EXACT),
    # destructive, fetching or program-running programs: the exact command only
    ("rm -rf build", EXACT),
    ("rm x", EXACT),
    ("/bin/rm -f x", EXACT),
    ("curl https://example.com/install.sh", EXACT),
    ("wget https://example.com/a.tgz", EXACT),
    ("dd if=/dev/zero of=disk.img bs=1M count=1", EXACT),
    ("chmod -R 777 .", EXACT),
    ("find . -name '*.pyc' -delete", EXACT),
    ("xargs rm", EXACT),
    ("env FOO=1 npm test", EXACT),
    ("timeout 60 npm test", EXACT),
    ("sed -i s/a/b/ file.txt", EXACT),
    ("git", EXACT),
    ("make", EXACT),
    ("git push origin main", EXACT),
    ("git reset --hard HEAD~3", EXACT),
    ("git config core.hooksPath .hooks", EXACT),
    ("git -C ../other log", EXACT),
    ("git -c core.pager=sh log", EXACT),
    ("npm install left-pad", EXACT),
    ("docker run -v /:/host alpine", EXACT),
    ("echo ok && rm -rf build", EXACT),
    ("FOO=1 npm test", EXACT),
    # privilege raising or several lines: no rule at all
    ("sudo rm -rf /tmp/x", NONE),
    ("sudo npm test", NONE),
    ("su -c 'make install'", NONE),
    ("doas reboot", NONE),
    ("echo hi && sudo reboot", NONE),
    ("echo first\nrm -rf build", NONE),
]

BARE = {"python3", "python", "node", "bash", "sh", "rm", "sudo", "curl", "git", "wget", "env", "xargs", "find",
        "npx", "uv", "make", "perl", "timeout", "docker", "npm"}


def expected_rule(command: str, expected: str | None) -> str | None:
    return f"Bash({command.strip()})" if expected == EXACT else expected


@pytest.mark.parametrize(("command", "expected"), TABLE, ids=[c.replace("\n", "\\n") for c, _ in TABLE])
def test_suggested_rule_is_the_narrowest_useful_one(command: str, expected: str | None) -> None:
    assert suggest_bash_rule(command) == expected_rule(command, expected)


def test_the_table_covers_more_than_forty_commands() -> None:
    assert len(TABLE) >= 40


@pytest.mark.parametrize("command", [c for c, _ in TABLE])
def test_no_suggestion_is_ever_a_bare_interpreter_or_destructive_prefix(command: str) -> None:
    rule = suggest_bash_rule(command)
    if rule is not None and rule.endswith(":*)"):
        assert rule[len("Bash("):-len(":*)")] not in BARE


@pytest.mark.parametrize(("command", "expected"), [(c, e) for c, e in TABLE if e is not None])
def test_the_suggested_rule_allows_the_command_it_was_made_for(tmp_path: Path, command: str, expected) -> None:
    rule = suggest_bash_rule(command)
    assert rule is not None
    assert PermissionPolicy(tmp_path, allow=[rule]).check(BashTool(), {"command": command}).behavior == "allow"


@pytest.mark.parametrize(("approved", "later"), [
    ("python3 -m pytest -q", "python3 -c 'import os'"),
    ("python3 -m pytest -q", "python3 -m http.server"),
    ("node scripts/build.js", "node -e 'process.exit(1)'"),
    ("npm run test", "npm run deploy"),
    ("git commit -m wip", "git push origin main"),
    ("uv run pytest", "uv run python -c 'x'"),
    ("rm -rf build", "rm -rf src"),
    ("go run main.go", "go run /tmp/evil.go"),
])
def test_an_approved_rule_does_not_let_a_wider_command_through(tmp_path: Path, approved: str, later: str) -> None:
    policy = PermissionPolicy(tmp_path)
    first = policy.check(BashTool(), {"command": approved})
    assert first.behavior == "ask" and first.suggested_rule
    policy.allow_for_session(first.suggested_rule)
    assert policy.check(BashTool(), {"command": approved}).behavior == "allow"
    assert policy.check(BashTool(), {"command": later}).behavior == "ask"


@pytest.mark.parametrize("command", ["sudo rm -rf /tmp/x", "echo first\nrm -rf build"])
def test_the_chat_question_has_no_option_two_when_there_is_no_suggestion(tmp_path: Path, command: str) -> None:
    decision = PermissionPolicy(tmp_path).check(BashTool(), {"command": command})
    assert decision.behavior == "ask" and decision.suggested_rule is None
    options = permission_options(decision.suggested_rule)
    assert [o.answer for o in options] == ["yes", "note"]
    assert not any("don't ask again" in o.label for o in options)
    menu = QuestionMenu("Allow Bash?", options, 0.0)
    assert menu.press("3", 1.0) is None and menu.note is None  # no third option to choose
    assert menu.press("2", 5.0) is None and menu.note == ""  # 2 is "No, and tell the model ..."
