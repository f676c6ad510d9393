"""Oracle: real bash runs every corpus command that `Bash(echo:*)` allows, and nothing but echo may run.

Each command runs with `env -i` in an empty folder whose PATH holds only logging stand-ins (echo, touch,
rm, cat, curl, sh ...: each appends its name to a log). The builtin echo is disabled through BASH_ENV so
the stand-in counts it, and a command_not_found_handle logs any other name bash tries to run. After the
run the log must hold "echo" and nothing else, and the folder must still be empty.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
from bash_corpus import ALLOW, CORPUS, HIDDEN_RM, REGRESSIONS

from agent.permissions.policy import PermissionPolicy
from agent.tools.bash import BashTool

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="needs bash")

STAND_INS = (
    "echo", "touch", "rm", "cat", "curl", "wget", "sh", "bash", "dash", "ls", "wc", "git", "env", "sudo",
    "xargs", "tee", "cp", "mv", "chmod", "mkdir", "ln", "dd", "python", "python3", "perl", "nc", "find",
    "sed", "awk", "head", "tail", "printf", "true", "false", "sleep", "id", "whoami", "date", "make", "npm",
    "nohup", "time", "timeout", "nice", "[", "test",
)
ALLOWED = [command for command, expected in CORPUS if expected == ALLOW]


def make_sandbox(root: Path, real: dict[str, str] | None = None) -> Path:
    """A bin folder of logging stand-ins (and, named in `real`, real programs), a prelude and a log."""
    (root / "bin").mkdir()
    log = root / "log"
    for name in STAND_INS:
        script = root / "bin" / name
        if real and name in real:
            script.symlink_to(real[name])
            continue
        script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{name}' >> '{log}'\n")
        script.chmod(0o755)
    (root / "prelude.sh").write_text(
        "enable -n echo\n"
        "trap wait EXIT\n"  # background jobs (`echo a &`) log before the run counts as over
        f"command_not_found_handle() {{ printf 'not found: %s\\n' \"$1\" >> '{log}'; return 127; }}\n"
    )
    return root


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sandbox(tmp_path_factory.mktemp("oracle"))


@pytest.fixture(scope="module")
def wrapping_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Here sh, bash, env, xargs, nohup, nice and timeout are the real programs: they run what they wrap."""
    real = {name: shutil.which(name) for name in ("env", "xargs", "nohup", "nice", "timeout")}
    real = {name: path for name, path in real.items() if path} | {"sh": str(BASH), "bash": str(BASH)}
    return make_sandbox(tmp_path_factory.mktemp("wrapping"), real)


def run_in_sandbox(sandbox: Path, work: Path, command: str) -> tuple[list[str], list[str]]:
    """What ran (the log) and which files appeared in the working folder."""
    log = sandbox / "log"
    log.write_text("")
    work.mkdir()
    env = {"PATH": str(sandbox / "bin"), "BASH_ENV": str(sandbox / "prelude.sh")}
    subprocess.run(
        [str(BASH), "--noprofile", "--norc", "-c", command],
        cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=20, check=False,
    )
    return log.read_text().split(), sorted(p.name for p in work.iterdir())


def test_the_corpus_allows_enough_commands_for_the_oracle_to_mean_something() -> None:
    assert len(ALLOWED) >= 80


def test_the_sandbox_sees_other_commands_and_new_files(sandbox: Path, tmp_path: Path) -> None:
    ran, files = run_in_sandbox(sandbox, tmp_path / "a", "echo a; touch x; nosuchtool; echo b > out")
    assert ran == ["echo", "touch", "not", "found:", "nosuchtool", "echo"]
    assert files == ["out"]


@pytest.mark.parametrize("command", REGRESSIONS)
def test_the_four_issue_commands_really_run_more_than_echo_in_bash(
    sandbox: Path, tmp_path: Path, command: str
) -> None:
    ran, files = run_in_sandbox(sandbox, tmp_path / "work", command)
    assert "touch" in ran or files == ["2D_redirect"]


@pytest.mark.parametrize("command", ALLOWED)
def test_an_allowed_command_runs_nothing_but_echo_and_writes_no_file(
    sandbox: Path, tmp_path: Path, command: str
) -> None:
    policy = PermissionPolicy(tmp_path, allow=["Bash(echo:*)"])
    assert policy.check(BashTool(), {"command": command}).behavior == "allow"
    ran, files = run_in_sandbox(sandbox, tmp_path / "work", command)
    assert ran and set(ran) == {"echo"}, f"{command!r} ran {ran}"
    assert files == [], f"{command!r} wrote {files}"


ALLOW_FRAGMENTS = (
    "echo", "echo ", " ", "\t", "\n", ";", "&", "|", "'", '"', "\\", "$", "(", ")", "`", "{", "}", "#", "<", ">",
    " touch x", "2", "&1", "<<", "EOF", "$'", "\\'", "a", "/dev/null", "!", "\u00a0", "\r", "*", "\\\n", "<<<",
    "\n\\", "<<-", "\nEOF\n", "'EOF'", "\\x72", "$\"", "((", "[[", "2>", "&>", ">&", "1", "-", ">|",
)
DENY_FRAGMENTS = (
    "rm", "rm ", "rm x", " rm", "r", "m", " ", "'", '"', "\\", "$", "sh -c ", "bash -c ", "env ", "eval ",
    "xargs ", "nohup ", "nice ",
    "timeout 5 ", "command ", "exec ", "time ", ";", "|", "&&", "\n", "(", ")", "`", "$(", "{", "}", ",", "x",
    "-", "=", "echo ", "/bin/", "*", "?", "#", "<<", "EOF", "\\\n", "\t", "a=", "$'", "\\x72", "\\162",
)


def generated(seed: int, fragments: tuple[str, ...], start: str, count: int) -> list[str]:
    rng = random.Random(seed)
    return [start + "".join(rng.choice(fragments) for _ in range(rng.randint(1, 9))) for _ in range(count)]


def test_generated_commands_allowed_under_echo_rule_run_nothing_but_echo(sandbox: Path, tmp_path: Path) -> None:
    policy = PermissionPolicy(tmp_path, allow=["Bash(echo:*)"])
    allowed = [c for c in generated(9, ALLOW_FRAGMENTS, "echo ", 700) if decide(policy, c) == "allow"]
    assert len(allowed) >= 50
    for i, command in enumerate(allowed):
        ran, files = run_in_sandbox(sandbox, tmp_path / f"w{i}", command)
        assert set(ran) <= {"echo"} and not files, f"{command!r} ran {ran}, wrote {files}"


def test_generated_commands_that_run_rm_are_never_allowed_under_a_deny_rule(
    wrapping_sandbox: Path, tmp_path: Path
) -> None:
    policy = PermissionPolicy(tmp_path, allow=["Bash"], deny=["Bash(rm:*)"])
    ran_rm = 0
    for i, command in enumerate(generated(10, DENY_FRAGMENTS, "", 400)):
        ran, _ = run_in_sandbox(wrapping_sandbox, tmp_path / f"w{i}", command)
        if "rm" in ran:
            ran_rm += 1
            assert decide(policy, command) != "allow", f"{command!r} ran rm"
    assert ran_rm >= 10  # the generator does produce real attacks


HEREDOC_PARTS = (
    ("<<", "<<-", "<< ", "<<<"),
    ("EOF", "'EOF'", '"EOF"', "\\EOF", "E'O'F", "-EOF", " EOF", "EOF ", "E\\\nOF"),
    ("", " | echo p", "; echo q", " && echo r", " #c", " 'a\nb'", " \\", " <<EOF2", " >/dev/null"),
)
HEREDOC_LINES = ("hi", "$(touch x)", "`touch x`", "touch x", "EOF", " EOF", "\tEOF", "EOF ", "EOF\r", "EO\\", "F",
                 "'", '"', "\\", "$x", "EOF2", "#", "")


def generated_here_documents(seed: int, count: int) -> list[str]:
    """`echo <<EOF ...` with end lines that bash may or may not take as the end, then more commands."""
    rng = random.Random(seed)
    commands = []
    for _ in range(count):
        head = "echo " + "".join(rng.choice(part) for part in HEREDOC_PARTS) + "\n"
        body = "".join(rng.choice(HEREDOC_LINES) + "\n" for _ in range(rng.randint(0, 4)))
        end = rng.choice(("EOF", "\tEOF", "EOF ", "")) + rng.choice(("", "\ntouch x", "\necho after", ";touch x"))
        commands.append(head + body + end)
    return commands


def test_generated_here_documents_allowed_under_echo_rule_run_nothing_but_echo(
    sandbox: Path, tmp_path: Path
) -> None:
    policy = PermissionPolicy(tmp_path, allow=["Bash(echo:*)"])
    allowed = [c for c in generated_here_documents(12, 2000) if decide(policy, c) == "allow"]
    assert len(allowed) >= 20
    for i, command in enumerate(allowed):
        ran, files = run_in_sandbox(sandbox, tmp_path / f"w{i}", command)
        assert set(ran) <= {"echo"} and not files, f"{command!r} ran {ran}, wrote {files}"


def decide(policy: PermissionPolicy, command: str) -> str:
    return policy.check(BashTool(), {"command": command}).behavior


@pytest.mark.parametrize("command", HIDDEN_RM)
def test_quoted_code_that_bash_evaluates_does_run_rm_and_is_not_allowed(
    wrapping_sandbox: Path, tmp_path: Path, command: str
) -> None:
    ran, _ = run_in_sandbox(wrapping_sandbox, tmp_path / "work", command)
    assert "rm" in ran
    assert decide(PermissionPolicy(tmp_path, allow=["Bash"], deny=["Bash(rm:*)"]), command) == "ask"
