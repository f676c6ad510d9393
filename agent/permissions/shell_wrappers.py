"""What a command line makes bash run, looking through wrappers (`sudo -u x rm`, `xargs rm`, `bash -c '...'`).

For deny and ask rules: every simple command, each program a wrapper starts (with its base name, as
`/bin/rm` runs rm), and the commands inside literal strings that `bash -c`, `eval`, `su -c`, `trap` or
`watch` run. When something cannot be known before run time (`$cmd`, `eval "$x"`, `bash` reading its
input) `unclear` says why, so that a deny rule is not ruled out. An unknown wrapper option may or may
not take an argument: both readings are kept, since matching too much is the safe mistake here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from agent.permissions.git_commands import GIT_BUILTINS, git_handler
from agent.permissions.runners import RUNNERS, code_holder, find_changes, path_named_program, risky_variable
from agent.permissions.shell_parse import parse_shell
from agent.permissions.wrapper_args import Inner, Opaque, Source, Unclear, Words, commands_at, simple, starts

_MAX_DEPTH = 12
_Source, _Unclear, _starts, _commands_at, _simple = Source, Unclear, starts, commands_at, simple


@dataclass(frozen=True)
class Executed:
    commands: tuple[Words, ...]  # program base name first
    unclear: str | None  # why some command could not be determined
    opaque: str | None = None  # why some command runs code no rule on names sees into (python3 -c, make)


@dataclass
class _Found:
    commands: list[Words]
    opaque: str | None = None


@lru_cache(maxsize=512)
def executed(source: str, depth: int = 0) -> Executed:
    script = parse_shell(source)
    found = _Found([], risky_variable(source) if "=" in source else None)
    unclear = script.unreliable
    for command in script.commands:
        unclear = _unwrap(command.words, found, depth) or unclear
    if script.quotes_code and (
        script.syntax & _EVALUATING_SYNTAX or any(w[0] in _EVALUATING for w in found.commands)
    ):
        unclear = unclear or "quoted text holding `$(...)` where bash may evaluate it (arithmetic, printf -v ...)"
    return Executed(tuple(found.commands), unclear, found.opaque)


def _unwrap(words: Words, found: _Found, depth: int) -> str | None:
    if not words:
        return None
    if words[0] is None:
        return "a command name known only at run time"
    found.opaque = found.opaque or path_named_program(words[0])
    words = (words[0].rstrip("/").rsplit("/", 1)[-1], *words[1:])
    found.commands.append(words)
    if words[0].startswith("git-") and words[0][4:] in GIT_BUILTINS:  # /usr/lib/git-core/git-push is git push
        found.commands.append(("git", words[0][4:], *words[1:]))
    handler = _WRAPPERS.get(words[0]) or code_holder(words[0])
    if handler is None:
        return None
    if depth >= _MAX_DEPTH:
        return "wrappers nested too deeply"
    unclear = None
    for inner in handler(words[1:]):
        if isinstance(inner, Opaque):
            found.opaque = found.opaque or f"`{words[0]}`: {inner}"
        elif isinstance(inner, Unclear):
            unclear = f"`{words[0]}` runs {inner}"
        elif isinstance(inner, Source):
            nested = executed(str(inner), depth + 1)
            found.commands.extend(nested.commands)
            found.opaque = found.opaque or nested.opaque
            unclear = nested.unclear or unclear
        else:
            unclear = _unwrap(inner, found, depth + 1) or unclear
    return unclear


# --- wrappers -------------------------------------------------------------------------------------

def _env(args: Words) -> list[Inner]:
    if any(a is not None and a.startswith(("-S", "--split-string")) for a in args):
        return [_Unclear("a command line split from a string (env -S)")]
    out: list[Inner] = []
    for inner in _commands_at(args, _starts(args, "uC", "i0v", ("unset", "chdir"))):
        if isinstance(inner, tuple):
            while inner and inner[0] is not None and "=" in inner[0] and not inner[0].startswith("="):
                inner = inner[1:]  # NAME=value settings before the command
        out.append(inner)
    return out


def _command(args: Words) -> list[Inner]:
    for arg in args:
        if arg is None or not arg.startswith("-") or arg == "--":
            break
        if set(arg[1:]) & {"v", "V"}:
            return []  # `command -v rm` only looks rm up
    return _commands_at(args, _starts(args, "", "pvV"))


def _xargs(args: Words) -> list[Inner]:
    long_args = ("arg-file", "delimiter", "eof", "max-lines", "max-args", "max-procs", "max-chars",
                 "process-slot-var")
    return _commands_at(args, _starts(args, "adEILnPs", "0oprtxiel", long_args)) or [("echo",)]


def _shell(args: Words) -> list[Inner]:
    """bash -c 'text' runs text; `bash script` runs a file (like ./script); bare `bash` reads its input."""
    i, run_string = 0, False
    while i < len(args):
        arg = args[i]
        if arg is None:
            return [_Unclear("options known only at run time")]
        if arg == "--" or not arg.startswith(("-", "+")) or arg in ("-", "+"):
            i += arg == "--"
            break
        run_string = run_string or (not arg.startswith("--") and "c" in arg)
        if arg[1:] in ("o", "O") or arg in ("--rcfile", "--init-file"):
            i += 1
        if not arg.startswith("--") and "s" in arg[1:]:
            return [_Unclear("commands read from its input")]
        i += 1
    if i >= len(args):
        return [_Unclear("commands read from its input")] if not run_string else []
    if not run_string:
        script = args[i]
        reads_input = script is None or script in _INPUT_FILES or script.startswith("/dev/fd/")
        return [_Unclear("commands read from its input or a pipe")] if reads_input else []
    text = args[i]
    return [_Unclear("a command string known only at run time")] if text is None else [_Source(text)]


def _eval(args: Words) -> list[Inner]:
    if None in args:
        return [_Unclear("a command string known only at run time")]
    return [_Source(" ".join(a for a in args if a is not None))]


def _trap(args: Words) -> list[Inner]:
    rest = args[1:] if args[:1] == ("--",) else args
    if len(rest) < 2 or rest[0] in ("-l", "-p", "-"):
        return []
    return [_Unclear("a command string known only at run time") if rest[0] is None else _Source(rest[0])]


def _watch(args: Words) -> list[Inner]:
    commands = _commands_at(args, _starts(args, "nqd", "bcegprtwx", ("interval", "differences")))
    return [*commands, *(_Source(" ".join(c)) for c in commands if isinstance(c, tuple) and None not in c)]


def _find(args: Words) -> list[Inner]:
    out: list[Inner] = []
    for i, arg in enumerate(args):
        if arg in ("-exec", "-execdir", "-ok", "-okdir"):
            end = next((j for j in range(i + 1, len(args)) if args[j] in (";", "+")), len(args))
            out.append(args[i + 1 : end])
    return [*out, *find_changes(args)]


_INPUT_FILES = ("-", "/dev/stdin", "/proc/self/fd/0", "/dev/fd/0")


def _source(args: Words) -> list[Inner]:
    """`source file` runs a file, like ./script (not looked into); but not its input or a pipe."""
    if not args or args[0] is None or args[0] in _INPUT_FILES or args[0].startswith("/dev/fd/"):
        return [_Unclear("commands read from its input or a pipe")]
    return []


def _hash(args: Words) -> list[Inner]:
    return [_Unclear("a command name mapped to another program (hash -p)")] if "-p" in args else []


def _alias(args: Words) -> list[Inner]:
    """`alias ll='rm -rf'` runs its value where the alias is used (with expand_aliases)."""
    if None in args:
        return [_Unclear("an alias known only at run time")]
    return [_Source(a.split("=", 1)[1]) for a in args if a is not None and "=" in a]


# Builtins and syntax through which bash may evaluate text as code: `printf -v 'a[$(rm x)]'`,
# `x='a[$(rm x)]'; echo $((x))`, `PS4='$(rm x)'; set -x`, `${x@P}`.
_EVALUATING = frozenset({
    "declare", "typeset", "local", "export", "readonly", "let", "printf", "read", "test", "[", "unset", "mapfile",
    "readarray", "getopts", "wait", "set", "shopt", "source", ".", "enable", "complete", "compgen", "bind", "fc",
})
_EVALUATING_SYNTAX = frozenset({
    "simple_expansion", "expansion", "arithmetic_expansion", "variable_assignment", "declaration_command",
    "unset_command", "test_command", "arithmetic_expression", "c_style_for_statement", "for_statement",
    "subscript", "process_substitution", "command_substitution",
})
_SHELLS = ("sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "rbash", "busybox-sh")
_WRAPPERS: dict[str, Callable[[Words], list[Inner]]] = {
    **dict.fromkeys(_SHELLS, _shell),
    "env": _env,
    "command": _command,
    "builtin": _simple(),
    "exec": _simple("a", "cl"),
    "nohup": _simple(),
    "nice": _simple("n", "0123456789", ("adjustment",)),
    "time": _simple("", "p"),
    "xargs": _xargs,
    "sudo": _simple("ugpCDrtUTRh", "AbEeHiKklnPSsVv", ("user", "group", "prompt", "chdir", "role", "type",
                                                      "close-from", "other-user", "host", "chroot")),
    "doas": _simple("uC", "nLs"),
    "timeout": _simple("sk", "v", ("signal", "kill-after"), skip=1),
    "stdbuf": _simple("ioe", "", ("input", "output", "error")),
    "setsid": _simple("", "cfw"),
    "ionice": _simple("cnpPu", "t"),
    "taskset": _simple("", "acpa", (), skip=1),
    "busybox": _simple(),
    "eval": _eval,
    "trap": _trap,
    "watch": _watch,
    "find": _find,
    "git": git_handler,
    "alias": _alias,
    "source": _source,
    ".": _source,
    "hash": _hash,
    **RUNNERS,
    "coproc": lambda args: [args[i:] for i in range(len(args))],  # `coproc [NAME] cmd`: tree-sitter knows no coproc
}
