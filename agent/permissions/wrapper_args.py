"""Reading a wrapper's arguments: where the command it runs starts, and the text its options hold.

Shared by the tables of programs that run other programs (`shell_wrappers`, `runners`, `git_commands`).
A handler turns a wrapper's arguments into what it runs (`Inner`): the words of a command, shell text
to parse again (`Source`), a reason the command is unknown before run time (`Unclear`), or a reason it
runs code that no rule on command names can see into (`Opaque`: `python3 -c`, `make`, `./copy-of-rm`).
An unknown option may or may not take an argument: both readings are kept, since matching too much is
the safe mistake for deny rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Words = tuple[str | None, ...]


class Source(str):
    """Shell text that a wrapper runs (bash -c, eval, su -c): parsed again."""


class Unclear(str):
    """Why the wrapped command is unknown before run time."""


class Opaque(str):
    """Why the command runs code that rules on command names cannot see (a script, an interpreter)."""


Inner = Words | Source | Unclear | Opaque
Handler = Callable[[Words], list[Inner]]
RUN_TIME_STRING = "a command string known only at run time"


def starts(args: Words, with_arg: str = "", no_arg: str = "", long_with_arg: Iterable[str] = ()) -> set[int]:
    """Where the wrapped command may start after the wrapper's options; -1 when an option is unknown."""
    found: set[int] = set()
    pending, seen, long_args = [0], set(), set(long_with_arg)
    while pending:
        i = pending.pop()
        if i in seen or i >= len(args):
            continue
        seen.add(i)
        arg = args[i]
        if arg is None:
            found.add(-1)
        elif arg == "--":
            found.add(i + 1)
        elif not arg.startswith(("-", "+")) or arg in ("-", "+"):
            found.add(i)
        elif arg.startswith("--"):
            name, has_value = arg[2:].split("=", 1)[0], "=" in arg
            pending.extend([i + 1] if has_value else [i + 2] if name in long_args else [i + 1, i + 2])
        else:
            pending.extend(_after_cluster(arg, i, with_arg, no_arg))
    return found


def _after_cluster(arg: str, i: int, with_arg: str, no_arg: str) -> list[int]:
    for j, flag in enumerate(arg[1:], start=2):
        if flag in with_arg:
            return [i + 1] if j < len(arg) else [i + 2]
        if flag not in no_arg:
            return [i + 1, i + 2]  # unknown: it may take an argument
    return [i + 1]


def commands_at(args: Words, found: set[int], skip: int = 0) -> list[Inner]:
    if -1 in found:
        return [Unclear("a command chosen by an option known only at run time")]
    return [args[i + skip :] for i in sorted(found) if args[i + skip :]]


def simple(with_arg: str = "", no_arg: str = "", long_with_arg: Iterable[str] = (), skip: int = 0) -> Handler:
    """A wrapper whose command follows its options (and `skip` operands: `chroot DIR cmd`)."""
    def handler(args: Words) -> list[Inner]:
        return commands_at(args, starts(args, with_arg, no_arg, long_with_arg), skip)
    return handler


def option_values(args: Words, short: str, long: Iterable[str] = ()) -> list[str | None]:
    """The values given to a short option (`-c x`, `-qc x`, `-cx`) or its long forms (`--command=x`),
    anywhere in `args` before `--`. None for a value known only at run time."""
    values: list[str | None] = []
    longs = tuple(long)
    for i, arg in enumerate(args):
        following = args[i + 1] if i + 1 < len(args) else None
        if arg is None or arg == "--":
            if arg == "--":
                break
            continue
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if name in longs:
                values.append(value if eq else following)
        elif arg.startswith("-") and short in arg[1:]:
            rest = arg[arg.index(short, 1) + 1 :]
            values.append(rest or following)
    return values


def shell_text(value: str | None) -> Inner:
    return Unclear(RUN_TIME_STRING) if value is None else Source(value)
