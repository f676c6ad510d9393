"""What a command line makes bash run, looking through wrappers (`sudo -u x rm`, `xargs rm`, `bash -c '...'`).

For deny and ask rules: every simple command, each program a wrapper starts (with its base name, as
`/bin/rm` runs rm), and the commands inside literal strings that `bash -c`, `eval`, `su -c`, `trap` or
`watch` run. When something cannot be known before run time (`$cmd`, `eval "$x"`, `bash` reading its
input) `unclear` says why, so that a deny rule is not ruled out. An unknown wrapper option may or may
not take an argument: both readings are kept, since matching too much is the safe mistake here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from agent.permissions.shell_parse import parse_shell

Words = tuple[str | None, ...]
_MAX_DEPTH = 12


@dataclass(frozen=True)
class Executed:
    commands: tuple[Words, ...]  # program base name first
    unclear: str | None  # why some command could not be determined


class _Source(str):
    """Shell text that a wrapper runs (bash -c, eval): parsed again."""


class _Unclear(str):
    """Why the wrapped command is unknown."""


Inner = Words | _Source | _Unclear


@lru_cache(maxsize=512)
def executed(source: str, depth: int = 0) -> Executed:
    script = parse_shell(source)
    found: list[Words] = []
    unclear = script.unreliable
    for command in script.commands:
        unclear = _unwrap(command.words, found, depth) or unclear
    if script.quotes_code and (script.syntax & _EVALUATING_SYNTAX or any(w[0] in _EVALUATING for w in found)):
        unclear = unclear or "quoted text holding `$(...)` where bash may evaluate it (arithmetic, printf -v ...)"
    return Executed(tuple(found), unclear)


def _unwrap(words: Words, found: list[Words], depth: int) -> str | None:
    if not words:
        return None
    if words[0] is None:
        return "a command name known only at run time"
    words = (words[0].rstrip("/").rsplit("/", 1)[-1], *words[1:])
    found.append(words)
    handler = _WRAPPERS.get(words[0])
    if handler is None:
        return None
    if depth >= _MAX_DEPTH:
        return "wrappers nested too deeply"
    unclear = None
    for inner in handler(words[1:]):
        if isinstance(inner, _Unclear):
            unclear = f"`{words[0]}` runs {inner}"
        elif isinstance(inner, _Source):
            nested = executed(str(inner), depth + 1)
            found.extend(nested.commands)
            unclear = nested.unclear or unclear
        else:
            unclear = _unwrap(inner, found, depth + 1) or unclear
    return unclear


# --- option scanning ------------------------------------------------------------------------------

def _starts(args: Words, with_arg: str = "", no_arg: str = "", long_with_arg: Iterable[str] = ()) -> set[int]:
    """Where the wrapped command may start after the wrapper's options; -1 when an option is unknown."""
    starts: set[int] = set()
    pending, seen, long_args = [0], set(), set(long_with_arg)
    while pending:
        i = pending.pop()
        if i in seen or i >= len(args):
            continue
        seen.add(i)
        arg = args[i]
        if arg is None:
            starts.add(-1)
        elif arg == "--":
            starts.add(i + 1)
        elif not arg.startswith(("-", "+")) or arg in ("-", "+"):
            starts.add(i)
        elif arg.startswith("--"):
            name, has_value = arg[2:].split("=", 1)[0], "=" in arg
            pending.extend([i + 1] if has_value else [i + 2] if name in long_args else [i + 1, i + 2])
        else:
            pending.extend(_after_cluster(arg, i, with_arg, no_arg))
    return starts


def _after_cluster(arg: str, i: int, with_arg: str, no_arg: str) -> list[int]:
    for j, flag in enumerate(arg[1:], start=2):
        if flag in with_arg:
            return [i + 1] if j < len(arg) else [i + 2]
        if flag not in no_arg:
            return [i + 1, i + 2]  # unknown: it may take an argument
    return [i + 1]


def _commands_at(args: Words, starts: set[int], skip: int = 0) -> list[Inner]:
    if -1 in starts:
        return [_Unclear("a command chosen by an option known only at run time")]
    return [args[i + skip :] for i in sorted(starts) if args[i + skip :]]


def _simple(with_arg: str = "", no_arg: str = "", long_with_arg: Iterable[str] = (), skip: int = 0
            ) -> Callable[[Words], list[Inner]]:
    def handler(args: Words) -> list[Inner]:
        return _commands_at(args, _starts(args, with_arg, no_arg, long_with_arg), skip)
    return handler


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


def _string_after(flags: tuple[str, ...]) -> Callable[[Words], list[Inner]]:
    """`su -c 'text'`: the argument after one of the flags is shell text."""
    def handler(args: Words) -> list[Inner]:
        for i, arg in enumerate(args[:-1]):
            if arg in flags:
                text = args[i + 1]
                return [_Unclear("a command string known only at run time") if text is None else _Source(text)]
        return []
    return handler


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
    return out


def _git(args: Words) -> list[Inner]:
    """git's global options come before the subcommand: `git -C . push` is `git push`."""
    for i, arg in enumerate(args):
        if arg in ("-c", "--config-env") and i + 1 < len(args):
            value = args[i + 1]
            if value is None or value.lower().startswith("alias."):
                return [_Unclear("an alias defined on its command line")]
    starts = _starts(args, "Cc", "pPh", ("git-dir", "work-tree", "namespace", "config-env", "exec-path"))
    return [("git", *c) for c in _commands_at(args, starts - {0}) if isinstance(c, tuple)]


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
    "su": _string_after(("-c", "--command")),
    "runuser": _string_after(("-c", "--command")),
    "trap": _trap,
    "watch": _watch,
    "find": _find,
    "git": _git,
    "alias": _alias,
    "source": _source,
    ".": _source,
    "hash": _hash,
    "coproc": lambda args: [args[i:] for i in range(len(args))],  # `coproc [NAME] cmd`: tree-sitter knows no coproc
}
