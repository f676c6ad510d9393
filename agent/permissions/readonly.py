"""Bash commands that only read, which run without an allow rule (as in Claude Code).

`ls`, `cat`, `head`, `tail`, `wc`, `grep`, `rg`, `find` and `git status|log|diff|show`, alone or joined
by pipes and lists, qualify when the real parse shows plain words only (no substitution, expansion,
variable assignment, or redirection other than /dev/null and descriptor duplication) and no option that
runs a program, writes a file, reads patterns from a file or follows links out of the tree: `find
-exec/-execdir/-ok/-delete/-fprint*/-fls`, `rg --pre/--search-zip`, `git -c/-C/--output/--ext-diff/
--textconv` and the like (git and GNU tools accept any unambiguous abbreviation of a long option, so a
prefix of a refused name is refused too). Every argument that may name a file is then judged as a Read
of it would be (`judge`): a Read deny rule over it denies the command, a path outside the project asks.
A command that reads files it does not name (`grep -r`, `rg`, `git diff`) is not waved through while
Read deny or ask rules exist, since it could print what they hide. Anything unsure is left to the rules.
git qualifies only where the repository's config and hooks name no program, and every command only when
PATH holds no folder of the project: reading `.git/config` is the one I/O here beyond resolving paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.permissions.shell_parse import parse_shell

Verdict = Literal["allow", "deny", "ask"]

_GIT_GLOBAL_OK = frozenset({"--no-pager", "-P", "--no-optional-locks", "--literal-pathspecs"})
_GIT_READERS = frozenset({"status", "log", "diff", "show"})
# Long options refused, by program: any unambiguous abbreviation of them is refused as well.
_REFUSED_LONG = {
    "git": ("output", "ext-diff", "textconv", "exec", "config", "config-env", "upload-pack", "receive-pack",
            "open-files-in-pager", "output-directory", "git-dir", "work-tree", "namespace", "exec-path"),
    "grep": ("file", "dereference-recursive", "devices", "exclude-from"),
    "rg": ("pre", "pre-glob", "search-zip", "hostname-bin", "file", "follow", "ignore-file"),
    "wc": ("files0-from",),
    "ls": (), "cat": (), "head": (), "tail": (),
}
_REFUSED_SHORT = {"git": "O", "grep": "fR", "rg": "zfL", "wc": "", "ls": "", "cat": "", "head": "", "tail": ""}
_FIND_REFUSED = frozenset({"-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf",
                           "-fls", "-files0-from", "-L", "-follow"})
_FIND_OPERATORS = ("-", "(", ")", "!", ",")
_RECURSIVE = frozenset({"-r", "--recursive", "-d", "--directories"})


@dataclass(frozen=True)
class ReadOnly:
    """A command that only reads: the arguments that may name files, and whether it also reads
    files it does not name (a recursive search, git's history)."""

    paths: tuple[str, ...]
    reads_unnamed: bool
    runs_git: bool = False


def read_only(command: str, home: Path) -> ReadOnly | None:
    """What `command` reads, when the parse proves it only reads; None otherwise."""
    script = parse_shell(command)
    if script.problems or script.unreliable or not script.commands:
        return None
    paths: list[str] = []
    unnamed = False
    for simple in script.commands:
        words = simple.words
        if not words or None in words:
            return None
        found = _one(list(words))  # type: ignore[arg-type]  (no None, checked above)
        if found is None:
            return None
        named, searches = found
        expanded = [_tilde(p, home) for p in named]
        if None in expanded:
            return None
        paths += [p for p in expanded if p is not None]
        unnamed = unnamed or searches
    return ReadOnly(tuple(paths), unnamed, any(c.words[0] == "git" for c in script.commands))


def judge(command: str, *, home: Path, project: Path, read_verdict: Callable[[str], tuple[Verdict, str]],
          read_rules_exist: bool, path_env: str | None = None) -> tuple[Verdict, str] | None:
    """allow / deny / ask for a read-only command, or None when it is not one (the rules decide).

    `read_verdict(path)` is what a Read of that path would get, with the reason; `read_rules_exist`
    says whether Read deny or ask rules could hide something a search might print. `path_env` is the
    PATH the command will search (default: this process's)."""
    found = read_only(command, home)
    if found is None or (found.reads_unnamed and read_rules_exist):
        return None
    if not _path_is_outside(project, os.environ.get("PATH", "") if path_env is None else path_env):
        return None  # `ls` could be a program the project holds
    if found.runs_git and git_config_runs_programs(project):
        return None
    for path in found.paths:
        verdict, reason = read_verdict(path)
        if verdict != "allow":
            return verdict, f"The command reads {path}: {reason}"
    return "allow", "A read-only command: it only reads inside the project."


def _one(words: list[str]) -> tuple[list[str], bool] | None:
    """(path arguments, reads unnamed files) of one simple command, or None if it is not read-only."""
    program, args = words[0], words[1:]
    if program == "find":
        return _find(args)
    if program == "git":
        return _git(args)
    if program not in _REFUSED_LONG:
        return None
    operands: list[str] = []
    options_end = False
    recursive = program == "rg"
    for arg in args:
        if options_end or arg == "-" or not arg.startswith("-"):
            operands.append(arg)
        elif arg == "--":
            options_end = True
        elif _refused(program, arg):
            return None
        else:
            recursive = recursive or arg.split("=", 1)[0] in _RECURSIVE or _short_has(arg, "r")
    if program in ("grep", "rg") and _pattern_is_first_operand(program, args):
        operands = operands[1:]
    return [o for o in operands if o != "-"], recursive and program in ("grep", "rg")


def _pattern_is_first_operand(program: str, args: list[str]) -> bool:
    """grep PATTERN FILE...: unless `-e`/`--regexp` gave the pattern (or `rg --files` needs none).
    Misjudging this only makes a pattern be judged as a path, never a path be skipped."""
    if program == "rg" and any(a in ("--files", "--type-list") for a in args):
        return False
    return not any(_short_has(a, "e") or (a.startswith("--") and "regexp".startswith(a[2:].split("=", 1)[0]))
                   for a in args if a != "--")  # `--reg=x`: getopt takes any unambiguous abbreviation


def _refused(program: str, arg: str) -> bool:
    if arg.startswith("--"):
        name = arg[2:].split("=", 1)[0]
        return bool(name) and any(full.startswith(name) for full in _REFUSED_LONG[program])
    letters = arg[1:2] if program == "git" else arg[1:]  # git: `-S<text>`, `-G<regex>` carry values
    return any(letter in letters for letter in _REFUSED_SHORT[program])


def _short_has(arg: str, letter: str) -> bool:
    return arg.startswith("-") and not arg.startswith("--") and letter in arg[1:]


def _find(args: list[str]) -> tuple[list[str], bool] | None:
    """Every word that is not an option or operator may be a starting point (`find -O3 /etc`, `find --
    /etc` put them after options): all are judged as paths, patterns such as `-name '*.py'` included."""
    if any(arg in _FIND_REFUSED or arg.startswith("-fprint") for arg in args):
        return None
    return [arg for arg in args if not arg.startswith(_FIND_OPERATORS)], False  # names only, never contents


def _git(args: list[str]) -> tuple[list[str], bool] | None:
    index = 0
    while index < len(args) and args[index] in _GIT_GLOBAL_OK:
        index += 1
    if index >= len(args) or args[index] not in _GIT_READERS:
        return None
    sub, rest = args[index], args[index + 1:]
    operands: list[str] = []
    options_end = False
    for arg in rest:
        if options_end or not arg.startswith("-"):
            operands.append(arg)
        elif arg == "--":
            options_end = True
        elif _refused("git", arg):
            return None
    return operands, sub != "status"  # status lists names; log, diff and show print contents


def _tilde(word: str, home: Path) -> str | None:
    """`~` and `~/x` as bash expands them; `~user` is refused (None)."""
    if not word.startswith("~"):
        return word
    if word == "~" or word.startswith("~/"):
        return str(home) + word[1:]
    return None


# git runs what its repository config names (a pager, an fsmonitor hook, an external diff, a textconv or
# clean filter, a gpg program, an included file's settings): a folder unpacked with its own .git/config
# could set them. Over-matching only means asking.
_GIT_CONFIG_RUNS = re.compile(r"fsmonitor|pager|external|textconv|command|program|askpass|editor|showsignature"
                              r"|hookspath|\[\s*(?:include|filter)", re.IGNORECASE)


_READ_HOOKS = ("post-index-change", "reference-transaction")  # hooks a status, log, diff or show may run


def git_config_runs_programs(project: Path) -> bool:
    """Whether the repository git would use in `project` may make a read-only git command run a program
    (its config names one, or it has a hook: `git status` may rewrite the index, which runs
    post-index-change); True when that cannot be read (fail closed)."""
    folder = Path(os.path.realpath(project))
    for candidate in (folder, *folder.parents):
        dot_git = candidate / ".git"
        if not os.path.lexists(dot_git):
            continue
        try:
            git_dir = _git_dir(dot_git)
            texts = [_read_small(git_dir / name) for name in ("config", "config.worktree")]
            common = _read_small(git_dir / "commondir").strip()
            dirs = [git_dir, *([(git_dir / common).resolve()] if common else [])]
            texts += [_read_small(folder / "config") for folder in dirs[1:]]
            hooks = [name for folder in dirs for name in _READ_HOOKS if os.path.lexists(folder / "hooks" / name)]
        except (OSError, ValueError):
            return True
        return bool(hooks) or any(_GIT_CONFIG_RUNS.search(text) for text in texts)
    return False


def _git_dir(dot_git: Path) -> Path:
    if dot_git.is_dir():
        return dot_git
    text = _read_small(dot_git)  # a worktree's or submodule's `gitdir: <path>` file
    if not text.startswith("gitdir:"):
        raise ValueError("not a gitdir file")
    target = Path(text[len("gitdir:"):].strip())
    return target if target.is_absolute() else dot_git.parent / target


def _read_small(path: Path) -> str:
    """A config-sized file's text; "" when missing; ValueError when too large to be one."""
    try:
        with open(path, "rb") as fh:
            data = fh.read((1 << 20) + 1)
    except FileNotFoundError:
        return ""
    if len(data) > 1 << 20:
        raise ValueError("too large")
    return data.decode("utf-8", "replace")


def _path_is_outside(project: Path, path_env: str) -> bool:
    """Whether every PATH entry is an absolute folder outside the project (so a bare `ls` is not the
    project's own program)."""
    real = os.path.realpath(project)
    for entry in path_env.split(os.pathsep):
        if not entry or not os.path.isabs(entry):
            return False
        resolved = os.path.realpath(entry)
        if resolved == real or resolved.startswith(real.rstrip(os.sep) + os.sep):
            return False
    return True


def read_rules_exist(deny: Iterable[object], ask: Iterable[object]) -> bool:
    """Whether any Read deny or ask rule exists (rules are agent.permissions.rules.Rule objects)."""
    return any(getattr(rule, "tool", None) in ("Read", "Grep", "Glob") for rule in (*deny, *ask))


__all__ = ["ReadOnly", "judge", "read_only", "read_rules_exist"]
