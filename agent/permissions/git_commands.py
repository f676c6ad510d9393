"""What a git command line really runs, for deny rules such as `Bash(git push:*)`.

git runs other things in many ways: its global options come before the subcommand (`git -C . push`),
`-c key=value` sets configuration that holds shell commands (`core.fsmonitor`, `core.sshCommand`,
`core.pager`, filters, aliases), some subcommands run a command they are given (`rebase -x`,
`bisect run`, `submodule foreach`), `send-pack` pushes without being called push, and an alias in the
repository's configuration (or one the model defined a moment ago) can stand for anything. The pure
part (`git_handler`) sees the command line; `expand_aliases` looks aliases up in the real configuration
when the command is judged, through a lookup the policy passes in.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from agent.permissions.wrapper_args import Inner, Opaque, Source, Unclear, Words, starts

log = logging.getLogger(__name__)

GIT_BUILTINS = frozenset("""
add am annotate apply archive bisect blame branch bugreport bundle cat-file check-attr check-ignore check-mailmap
check-ref-format checkout checkout-index cherry cherry-pick citool clean clone column commit commit-graph
commit-tree config count-objects credential credential-cache credential-store daemon describe diagnose diff
diff-files diff-index diff-tree difftool fast-export fast-import fetch fetch-pack filter-branch fmt-merge-msg
for-each-ref for-each-repo format-patch fsck fsck-objects fsmonitor--daemon gc get-tar-commit-id grep gui
hash-object help hook http-backend http-fetch http-push imap-send index-pack init init-db instaweb
interpret-trailers log ls-files ls-remote ls-tree mailinfo mailsplit maintenance merge merge-base merge-file
merge-index merge-one-file merge-tree mergetool mktag mktree multi-pack-index mv name-rev notes pack-objects
pack-redundant pack-refs patch-id prune prune-packed pull push quiltimport range-diff read-tree rebase
receive-pack reflog remote repack replace request-pull rerere reset restore rev-list rev-parse revert rm
send-email send-pack shell shortlog show show-branch show-index show-ref sparse-checkout stage stash status
stripspace submodule subtree switch symbolic-ref tag unpack-file unpack-objects update-index update-ref
update-server-info upload-archive upload-pack var verify-commit verify-pack verify-tag version
whatchanged worktree write-tree lfs
""".split())  # noqa: SIM905 (a word list reads better as text)

# Configuration keys whose value git hands to a shell (or runs as a program).
SHELL_KEYS = (
    "core.sshcommand", "core.fsmonitor", "core.pager", "core.editor", "core.askpass", "core.gitproxy",
    "sequence.editor", "diff.external", "gpg.program", "gpg.*.program", "credential.helper",
    "credential.*.helper", "filter.*.clean", "filter.*.smudge", "filter.*.process", "diff.*.textconv",
    "diff.*.command", "merge.*.driver", "pager.*", "difftool.*.cmd", "mergetool.*.cmd", "man.*.cmd",
    "browser.*.cmd", "uploadpack.packobjectshook", "remote.*.uploadpack", "remote.*.receivepack",
    "interactive.difffilter", "sendemail.sendmailcmd", "sendemail.smtpserver", "core.alternaterefscommand",
    "ssh.variant", "sendemail.tocmd", "sendemail.cccmd",
)
# Configuration keys that make git run code it reads elsewhere (hooks, included files, transports).
OPAQUE_KEYS = ("core.hookspath", "include.path", "includeif.*", "protocol.*", "init.templatedir",
               "core.worktree", "url.*", "remote.*.vcs", "safe.directory", "alias.*")
# Subcommand options whose value is a command git runs.
COMMAND_OPTIONS = {
    "rebase": ("-x", "--exec"),
    "difftool": ("-x", "--extcmd"),
    "fetch": ("--upload-pack",), "pull": ("--upload-pack",), "clone": ("-u", "--upload-pack"),
    "ls-remote": ("--upload-pack",), "push": ("--receive-pack", "--exec"), "send-pack": ("--receive-pack",
                                                                                      "--exec"),
    "archive": ("--exec",), "grep": ("-O", "--open-files-in-pager"),
    "filter-branch": ("--env-filter", "--tree-filter", "--index-filter", "--parent-filter", "--msg-filter",
                      "--commit-filter", "--tag-name-filter"),
    "send-email": ("--sendmail-cmd", "--smtp-server", "--to-cmd", "--cc-cmd", "--header-cmd"),
}
PUSHES = ("send-pack", "http-push")  # push by another name
_GLOBAL_WITH_ARG = ("git-dir", "work-tree", "namespace", "config-env", "exec-path", "super-prefix", "attr-source")
MAX_ALIAS_DEPTH = 10


def key_matches(key: str, patterns: tuple[str, ...]) -> bool:
    key = key.casefold()
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def config_pairs(args: Words) -> list[tuple[str, str | None]]:
    """`-c key=value` and `--config-env=key=VAR` before the subcommand, as (key, value or None)."""
    pairs: list[tuple[str, str | None]] = []
    for i, arg in enumerate(args):
        if arg is None:
            continue
        if arg == "-c" and i + 1 < len(args):
            value = args[i + 1]
            pairs.append(("", None) if value is None else (value.split("=", 1)[0], value.partition("=")[2]))
        elif arg.startswith("-c") and len(arg) > 2 and not arg.startswith("--"):
            pairs.append((arg[2:].split("=", 1)[0], arg[2:].partition("=")[2]))
        elif arg.startswith("--config-env"):
            value = arg.partition("=")[2] or (args[i + 1] if i + 1 < len(args) else None)
            pairs.append(("", None) if value is None else (value.split("=", 1)[0], None))
    return pairs


def git_handler(args: Words) -> list[Inner]:
    """What `git ARGS` runs besides git: config values that are commands, aliases, command options."""
    out: list[Inner] = []
    pairs = config_pairs(args)
    aliases = {k.casefold()[6:]: v for k, v in pairs if k.casefold().startswith("alias.")}
    for key, value in pairs:
        if not key:
            out.append(Unclear("a configuration key known only at run time"))
        elif key.casefold().startswith("alias."):
            continue
        elif key_matches(key, SHELL_KEYS):
            out.append(Source(value.lstrip("!")) if value else Opaque(f"git's {key} names a program"))
        elif key_matches(key, OPAQUE_KEYS):
            out.append(Opaque(f"git's {key} makes it run code from elsewhere"))
    if any(a is not None and a.startswith("--exec-path=") for a in args):
        out.append(Opaque("git --exec-path runs its commands from another folder"))
    found = starts(args, "Cc", "pPh", _GLOBAL_WITH_ARG)
    if -1 in found:
        return [*out, Unclear("a git option known only at run time")]
    for i in sorted(found):  # at 0 the command is the one being looked at: not reported again
        out.extend(_subcommand(args[i:], aliases, report=i > 0))
    return out


def _subcommand(words: Words, aliases: dict[str, str | None], *, report: bool = True) -> list[Inner]:
    sub, rest = words[0], words[1:]
    if sub is None:
        return [Unclear("a git subcommand known only at run time")]
    if sub.casefold() in aliases and sub not in GIT_BUILTINS:
        return alias_expansion(aliases[sub.casefold()], rest)
    out: list[Inner] = [("git", *words)] if report else []
    if sub in PUSHES:
        out.append(("git", "push", *rest))
    if sub == "subtree" and rest[:1] == ("push",):
        out.append(("git", "push", *rest[1:]))
    for option in COMMAND_OPTIONS.get(sub, ()):
        out.extend(_option_commands(rest, option))
    if sub == "bisect" and rest[:1] == ("run",):
        out.append(rest[1:])
    if sub == "submodule":
        at = next((i for i, w in enumerate(rest) if w == "foreach"), None)
        if at is not None:
            text = [w for w in rest[at + 1 :] if w is None or not w.startswith("-")]
            out.append(Unclear("a command known only at run time") if None in text or not text
                       else Source(" ".join(w for w in text if w is not None)))
    if sub == "for-each-repo":  # runs `git ARGS` in each repository a config key lists
        args = tuple(w for w in rest if w is None or not w.startswith("--config"))
        out.extend([("git", *args)] if args else [])
    return out


def _option_commands(rest: Words, option: str) -> list[Inner]:
    out: list[Inner] = []
    for i, word in enumerate(rest):
        if word is None:
            continue
        value: str | bool | None = False
        if word == option:
            value = rest[i + 1] if i + 1 < len(rest) else False
        elif option.startswith("--") and word.startswith("--") and len(word.split("=", 1)[0]) >= 4 and \
                option.startswith(word.split("=", 1)[0]):  # git takes `--exe` for `--exec`
            value = word.split("=", 1)[1] if "=" in word else (rest[i + 1] if i + 1 < len(rest) else False)
        elif not option.startswith("--") and word.startswith(option) and len(word) > len(option):
            value = word[len(option):]
        if value is None:
            out.append(Unclear(f"the command given to {option} is known only at run time"))
        elif isinstance(value, str):
            out.append(Source(value))
    return out


def alias_expansion(value: str | None, rest: Words) -> list[Inner]:
    """An alias's value with the arguments after it: `!text` is shell text, anything else git words."""
    if value is None:
        return [Unclear("an alias known only at run time")]
    if value.startswith("!"):
        return [Source(value[1:])]
    try:
        words = tuple(shlex.split(value))
    except ValueError:
        return [Unclear(f"an alias git splits differently ({value!r})")]
    return [("git", *words, *rest)] if words else []


# --- aliases in the real configuration, looked up when the command is judged ---------------------

AliasLookup = Callable[[str], "str | bool | None"]  # the alias's value; None: no alias; False: unknown


def config_alias_lookup(project_dir: Path, timeout: float = 5.0) -> AliasLookup:
    """Reads `alias.NAME` from the configuration git would use in the project (repository, global,
    system), now: an alias defined a moment ago counts. False when git cannot say (fail closed)."""
    cache: dict[str, str | bool | None] = {}

    def lookup(name: str) -> str | bool | None:
        if name not in cache:
            cache[name] = _read_alias(project_dir, name, timeout)
        return cache[name]
    return lookup


def _read_alias(project_dir: Path, name: str, timeout: float) -> str | bool | None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_PARAMETERS")}
    folder = project_dir if project_dir.is_dir() else Path("/")  # no folder: user and system aliases only
    try:
        done = subprocess.run(["git", "config", "--get", f"alias.{name}"], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("cannot read git aliases in %s: %s", project_dir, exc)
        return False
    if done.returncode == 1:
        return None  # no such key
    return done.stdout.rstrip("\n") if done.returncode == 0 else False


def expand_aliases(commands: tuple[Words, ...], lookup: AliasLookup | None,
                   parse: Callable[[str], tuple[tuple[Words, ...], str | None]],
                   depth: int = 0) -> tuple[list[Words], str | None]:
    """Commands with git aliases replaced by what they run, and why something stays unknown. `parse`
    turns shell text into (commands, unclear). A subcommand that is neither built in nor an alias is a
    `git-NAME` program, judged by its name, unless something else on the line could have defined an
    alias or such a program first (`git config alias.x push && git x`): then it stays unknown."""
    if depth >= MAX_ALIAS_DEPTH:
        return list(commands), "aliases nested too deeply"
    out: list[Words] = list(commands)
    unknown: str | None = None
    moved = any(w and w[0] in ("cd", "pushd", "popd") for w in commands)
    # Nothing else on the line could define an alias or a git-NAME program before this git runs.
    alone = all(w and w[0] == "git" for w in commands) and not any(
        word is None or word == "config" or "alias" in word.casefold() or ".git" in word
        for words in commands for word in words[1:])
    for words in commands:
        if not words or words[0] != "git":
            continue
        found = starts(words[1:], "Cc", "pPh", _GLOBAL_WITH_ARG)
        elsewhere = moved or any(w is not None and w.startswith(("-C", "--git-dir", "--work-tree")) for w in words)
        for i in found:
            sub = words[1 + i] if 0 <= i < len(words) - 1 else None
            if sub is None or sub in GIT_BUILTINS or sub.casefold() in _inline_aliases(words):
                continue
            value = False if elsewhere or lookup is None else lookup(sub)
            if value is False or (value is None and not alone):
                unknown = unknown or f"`git {sub}` is neither a git command nor an alias that can be read here"
                continue
            if value is None:
                continue  # no alias: a `git-{sub}` program, judged by its name like any other program
            text = "git " + value if not value.startswith("!") else value[1:]
            inner, unclear = parse(text + " " + shlex.join(w for w in words[2 + i :] if w is not None))
            expanded, deeper = expand_aliases(inner, lookup, parse, depth + 1)
            out.extend(expanded)
            unclear = unclear or deeper
            unknown = unknown or unclear
    return out, unknown


def _inline_aliases(words: Words) -> set[str]:
    return {k.casefold()[6:] for k, _ in config_pairs(words[1:]) if k.casefold().startswith("alias.")}
