"""Oracle: real bash runs every corpus command that `Bash(echo:*)` allows, and nothing but echo may run.

Each command runs with `env -i` in an empty folder whose PATH holds only logging stand-ins (echo, touch,
rm, cat, curl, sh ...: each appends its name to a log). The builtin echo is disabled through BASH_ENV so
the stand-in counts it, and a command_not_found_handle logs any other name bash tries to run. After the
run the log must hold "echo" and nothing else, and the folder must still be empty.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from bash_corpus import ALLOW, CORPUS, REGRESSIONS

from agent.engine.permissions import PermissionPolicy
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


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("oracle")
    (root / "bin").mkdir()
    log = root / "log"
    for name in STAND_INS:
        script = root / "bin" / name
        script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{name}' >> '{log}'\n")
        script.chmod(0o755)
    (root / "prelude.sh").write_text(
        "enable -n echo\n"
        "trap wait EXIT\n"  # background jobs (`echo a &`) log before the run counts as over
        f"command_not_found_handle() {{ printf 'not found: %s\\n' \"$1\" >> '{log}'; return 127; }}\n"
    )
    return root


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
