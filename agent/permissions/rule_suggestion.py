"""The rule a "Yes, and don't ask again" answer would add for a Bash command: the narrowest useful one.

As Claude Code does, the rule names the command with its subcommand or script (`Bash(git log:*)`,
`Bash(npm run test:*)`, `Bash(python3 -m pytest:*)`, `Bash(./scripts/check.sh:*)`), never a program
that would let any code through: an interpreter alone (`python3`, `node`, `bash`), a program that runs
other programs (`env`, `xargs`, `find`, `timeout`), or a destructive or fetching one (`rm`, `dd`, `curl`).
Those get a rule for the exact command only, and commands that raise privileges (`sudo`, `su`) or span
several lines get no rule at all (the question then has no option 2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from agent.permissions.shell_parse import parse_shell

_PLAIN_WORD = re.compile(r"[A-Za-z0-9_./+@%=,-]+")
_SUBCOMMAND = re.compile(r"[a-z][a-z0-9_-]*")
_INTERPRETER = re.compile(
    r"(?:python|pypy|pythonw)[0-9.]*|node|nodejs|deno|ruby|perl|php|lua(?:jit)?|rscript|julia|osascript"
    r"|tclsh|wish|(?:ba|da|z|k|c|tc|fi|mk|a|yash|pw)?sh|busybox|java|groovy|scala|elixir|erl|racket|guile"
)
_NO_RULE = frozenset({"sudo", "su", "doas", "pkexec", "runuser", "sg", "newgrp", "setpriv", "chroot", "unshare",
                      "nsenter", "capsh", "machinectl", "systemd-run"})
# Programs a prefix rule would hand any code or any damage: exact-match rules only.
_EXACT_ONLY = frozenset({
    "rm", "rmdir", "unlink", "shred", "dd", "mkfs", "fdisk", "parted", "wipefs", "truncate", "mv", "cp", "ln",
    "install", "chmod", "chown", "chgrp", "chattr", "setfacl", "kill", "pkill", "killall", "reboot", "shutdown",
    "halt", "poweroff", "curl", "wget", "nc", "ncat", "netcat", "socat", "ssh", "scp", "sftp", "rsync", "ftp",
    "telnet", "env", "xargs", "parallel", "find", "timeout", "nice", "ionice", "nohup", "time", "watch", "flock",
    "stdbuf", "taskset", "chrt", "prlimit", "strace", "ltrace", "gdb", "script", "expect", "exec", "eval",
    "command", "builtin", "source", ".", "sed", "awk", "gawk", "mawk", "tar", "zip", "unzip", "crontab", "at",
    "batch", "git-shell", "dpkg", "rpm", "apt", "apt-get", "yum", "dnf", "pacman", "snap", "vim", "vi", "nvim",
    "emacs", "nano", "ed", "ex", "less", "more", "man", "tmux", "screen", "open", "xdg-open", "osascript", "trap",
})
# Programs whose second word is a subcommand: the rule names both.
_SUBCOMMAND_TOOLS = frozenset({
    "git", "npm", "pnpm", "yarn", "bun", "cargo", "go", "docker", "podman", "kubectl", "helm", "gh", "glab",
    "pip", "pip3", "uv", "poetry", "pipenv", "pdm", "hatch", "tox", "nox", "make", "gmake", "just", "mvn",
    "gradle", "./gradlew", "./mvnw", "dotnet", "terraform", "tofu", "brew", "systemctl", "journalctl", "rustup",
    "conda", "mamba", "composer", "bundle", "rake", "mix", "stack", "cabal", "swift", "flutter", "dart", "deno",
    "nx", "turbo", "lerna", "ng", "vite", "next", "ruff", "mypy", "black", "alembic", "django-admin", "rails",
    "pipx",
})
# Subcommands under which a prefix rule would let any code or any damage through: exact-match only.
_EXACT_ONLY_SUBCOMMANDS = {
    "git": {"config", "submodule", "bisect", "filter-branch", "filter-repo", "difftool", "mergetool", "rebase",
            "clean", "reset", "rm", "update-ref", "update-index", "worktree", "gc", "prune", "reflog", "push",
            "send-pack", "daemon", "instaweb", "credential", "hook", "-c", "-C"},
    "npm": {"install", "i", "add", "uninstall", "remove", "rm", "publish", "unpublish", "config", "set",
            "login", "adduser", "token", "cache", "link", "explore", "edit"},
    "docker": {"run", "exec", "rm", "rmi", "system", "volume", "kill", "cp", "build", "compose"},
    "podman": {"run", "exec", "rm", "rmi", "system", "volume", "kill", "cp", "build"},
    "kubectl": {"exec", "delete", "apply", "replace", "patch", "edit", "cp", "run", "debug", "drain"},
    "pip": {"install", "uninstall", "download", "config"},
    "cargo": {"install", "uninstall", "publish", "login", "yank"},
    "go": {"install", "generate", "env"},
    "gh": {"api", "auth", "secret", "repo", "release", "extension", "alias"},
    "brew": {"install", "uninstall", "remove", "tap", "untap"},
    "systemctl": {"start", "stop", "restart", "enable", "disable", "mask", "kill", "edit", "reboot", "poweroff"},
    "terraform": {"apply", "destroy", "import", "state", "taint"},
    "uv": {"pip", "tool", "self", "publish", "add", "remove"},
    "pipx": {"install", "uninstall", "inject", "runpip", "reinstall-all", "uninstall-all"},
    "deno": {"eval", "repl", "install", "compile"},
    "dotnet": {"tool", "nuget"},
}
for _same, _as in (("pnpm", "npm"), ("yarn", "npm"), ("bun", "npm"), ("pip3", "pip"), ("tofu", "terraform")):
    _EXACT_ONLY_SUBCOMMANDS[_same] = _EXACT_ONLY_SUBCOMMANDS[_as]
# `<tool> <subcommand> <target>`: the target is a script name (npm run test) or a program (uv run pytest).
_SCRIPT_RUNS = {"npm": {"run", "run-script"}, "pnpm": {"run"}, "yarn": {"run"}, "bun": {"run"}}
_PROGRAM_RUNS = {"npm": {"exec", "x"}, "pnpm": {"exec", "dlx"}, "yarn": {"exec", "dlx"}, "bun": {"x"},
                 "uv": {"run"}, "poetry": {"run"}, "pipenv": {"run"}, "pdm": {"run"}, "hatch": {"run"},
                 "conda": {"run"}, "bundle": {"exec"}, "pipx": {"run"}}
_FILE_RUNS = {"go": {"run"}, "deno": {"run"}, "dotnet": {"run"}}
_PROGRAM_RUNNERS = frozenset({"npx", "pnpx", "bunx", "uvx"})
_PLAIN_PROGRAMS = frozenset({"ls", "cat", "head", "tail", "wc", "grep", "egrep", "fgrep", "rg", "ag",
                             "pwd", "which", "file", "stat", "du", "df", "tree", "diff", "sort", "uniq",
                             "cut", "jq", "yq", "date", "whoami", "id", "uname", "hostname", "basename", "dirname",
                             "realpath", "readlink", "true", "false", "sleep", "test", "[", "pytest", "tsc",
                             "eslint", "prettier", "jest", "vitest", "mocha", "shellcheck", "cmp", "md5sum",
                             "sha256sum", "nl", "tr", "fold", "column", "seq", "env-check", "touch", "mkdir"})
_MAX_EXACT = 300  # characters: a longer exact rule is not useful to show or keep


class _NoRule(Exception):
    """No rule at all may be offered for this command."""


def suggest_bash_rule(command: str, covers: Callable[[str, str], bool] | None = None) -> str | None:
    """The rule to offer, `Bash(prefix:*)` or `Bash(exact command)`, or None to offer none.

    `covers(spec, command)`, when given, confirms that a prefix rule really allows the command (the
    matcher of bash_policy); without it the parse alone decides."""
    text = command.strip()
    if not text or "\n" in text or "\r" in text:
        return None  # a multi-line rule cannot be shown whole on one option line
    script = parse_shell(text)
    if len(script.commands) == 1 and not script.problems and None not in script.commands[0].words:
        words = [w for w in script.commands[0].words if w is not None]
        try:
            prefix = _prefix(words)
        except _NoRule:
            return None
        if prefix and all(_PLAIN_WORD.fullmatch(w) for w in prefix):
            spec = f"{' '.join(prefix)}:*"
            if covers is None or covers(spec, text):
                return f"Bash({spec})"
    elif any(_program(c.words[0]) in _NO_RULE for c in script.commands if c.words and c.words[0]):
        return None
    return f"Bash({text})" if len(text) <= _MAX_EXACT else None


def _program(word: str) -> str:
    return word.rstrip("/").rsplit("/", 1)[-1].casefold()


def _prefix(words: Sequence[str]) -> list[str] | None:
    """The words a prefix rule should name; None when only the exact command may be allowed."""
    if not words:
        return None
    first, rest = words[0], list(words[1:])
    program = _program(first)
    if program in _NO_RULE:
        raise _NoRule
    if program in _EXACT_ONLY:
        return None
    if _INTERPRETER.fullmatch(program) and program not in _SUBCOMMAND_TOOLS:
        return _interpreter(first, rest)
    if program in _PROGRAM_RUNNERS:
        return _runner([first], rest)
    tool = first if first.startswith("./") else program
    if tool in _SUBCOMMAND_TOOLS:
        return _subcommand(first, tool, rest)
    if program in _PLAIN_PROGRAMS or not rest or not _SUBCOMMAND.fullmatch(rest[0]):
        return [first]
    return [first, rest[0]]  # an unknown tool with a subcommand-like word: the narrower of the two


def _interpreter(first: str, rest: list[str]) -> list[str] | None:
    """`python3 -m pytest` -> the module; `python3 script.py` -> the script; `-c`, `-e`, stdin: exact."""
    if len(rest) >= 2 and rest[0] == "-m" and _PLAIN_WORD.fullmatch(rest[1]) and not rest[1].startswith("-"):
        module = rest[1]
        if module in ("pip", "pip3") and len(rest) > 2 and rest[2] not in _EXACT_ONLY_SUBCOMMANDS["pip"]:
            return [first, "-m", module, rest[2]]
        return None if module in ("pip", "pip3") else [first, "-m", module]
    if rest and not rest[0].startswith("-") and rest[0] not in ("-", ""):
        return [first, rest[0]]
    return None


def _runner(head: list[str], rest: list[str]) -> list[str] | None:
    """`npx jest`, `uv run pytest`: the rule names the program run, judged as a command of its own."""
    if not rest or rest[0].startswith("-"):
        return None
    inner = _prefix(rest)
    return None if inner is None else [*head, *inner]


def _subcommand(first: str, tool: str, rest: list[str]) -> list[str] | None:
    if not rest:
        return None  # `git`, `make` alone: a prefix rule would cover every subcommand
    sub = rest[0]
    if sub.startswith("-") or not _SUBCOMMAND.fullmatch(sub):
        return None  # global options first (`git -C dir`, `npm --prefix x`): exact only
    if sub in _EXACT_ONLY_SUBCOMMANDS.get(tool, ()):
        return None
    if sub in _SCRIPT_RUNS.get(tool, ()):
        script = rest[1] if len(rest) > 1 else None
        return [first, sub, script] if script and not script.startswith("-") else None
    if sub in _FILE_RUNS.get(tool, ()):  # `go run main.go`, `deno run app.ts`: that file only
        target = rest[1] if len(rest) > 1 else ""
        return [first, sub, target] if target and not target.startswith("-") else None
    if sub in _PROGRAM_RUNS.get(tool, ()):
        return _runner([first, sub], rest[1:])
    return [first, sub]


__all__ = ["suggest_bash_rule"]
