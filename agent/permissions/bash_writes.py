"""Bash commands that may write the files a write always asks for (see `protected`).

The tasks file `.claude/scheduled_tasks.json` (and its locks), the settings files, `.claude/commands/`
(so, as in Claude Code, the whole `.claude` folder) and `.git/` hold what a run must not change behind
the user's back: a run that writes tasks into the
file itself would side-step `cron.maxDurablePerRun` and the CronCreate rule for scheduled runs, and one
that writes settings would widen its own permissions. So a Bash command that mentions one of them and
is not a plain read (only reading programs, no output redirect) is asked, in every mode and whatever
the allow rules say (denied headless).

The mention is looked for in the command's text with quotes and backslashes removed and case folded
(`.cla""ude/Scheduled_Tasks.json` counts), and in every word bash would run, wrappers included. This is
a guard against the obvious ways (redirects, cp, mv, tee, sed -i, git --output); a program that builds
the name at run time is beyond any reading of the command: the OS sandbox is the boundary for that.
"""

from __future__ import annotations

import re

from agent.permissions.shell_wrappers import executed

# What a command may name, after quote removal and case folding.
_MENTIONS = (
    re.compile(r"scheduled_tasks\.(?:json|lock)"),
    # the .claude and .git folders themselves or anything in them (moved, replaced, copied over ...)
    re.compile(r"(?:^|[\s/=<>:;|&(`{,])\.(?:claude|git)(?:/|\s|$|[;|&)`},])"),
    # a hidden path segment written as a pattern (`.cl*`, `.??*`, `.{claude,x}`) may be either of them
    re.compile(r"(?:^|[\s/=<>:;|&(`])\.[^\s/;|&)]*[*?\[{][^\s/;|&)]*"),
)
_BARE_SETTINGS = re.compile(r"\bsettings(?:\.local)?\.json\b")  # counts when the command also changes folder
_CLAUDE_DIR = re.compile(r"\b(?:cd|pushd)\b")
_QUOTING = re.compile(r"[\"'\\]")
_HARMLESS_REDIRECT = re.compile(r"\d*>&\d*-?|[\d&]*>>?\|?\s*/dev/null")

READERS = frozenset({
    "cat", "head", "tail", "less", "more", "ls", "wc", "stat", "file", "grep", "egrep", "fgrep", "rg", "diff",
    "cmp", "md5sum", "sha1sum", "sha256sum", "sha512sum", "jq", "tree", "du", "realpath", "readlink", "basename",
    "dirname", "echo", "printf", "test", "[", "true", "false", "pwd", "cd", "nl", "od", "xxd", "hexdump",
    "strings", "column", "sort", "uniq", "cut", "tr",
})
GIT_READERS = frozenset({"status", "log", "diff", "show", "blame", "ls-files", "ls-tree", "rev-parse", "grep",
                         "cat-file", "shortlog", "describe", "check-ignore"})


def normalized(command: str) -> str:
    return _QUOTING.sub("", command).casefold()


def protected_mentions(command: str) -> list[str]:
    """The protected names a command mentions (in its text or in any word it runs)."""
    words = " ".join(w for ran in executed(command).commands for w in ran if w is not None)
    text = normalized(command) + "\n" + words.casefold()
    found = [m.group(0).strip(" \t\n/=<>:;|&()") for pattern in _MENTIONS for m in pattern.finditer(text)]
    if _CLAUDE_DIR.search(text):
        found += [m.group(0) for m in _BARE_SETTINGS.finditer(text)]
    return list(dict.fromkeys(found))


def only_reads(command: str) -> bool:
    """Every program is a plain reader and no output goes to a file."""
    text = _HARMLESS_REDIRECT.sub("", normalized(command))
    if ">" in text:
        return False
    ran = executed(command)
    if ran.unclear or ran.opaque:
        return False
    for words in ran.commands:
        program = words[0]
        if program == "git":
            sub = next((w for w in words[1:] if w is not None and not w.startswith("-")), None)
            if sub not in GIT_READERS or any(w is not None and w.startswith(("--output", "-o")) for w in words):
                return False
        elif program not in READERS or any(w is None for w in words):
            return False
    return True


def protected_writes(command: str) -> list[str]:
    """The protected names a command may write: empty when it names none or only reads them."""
    mentions = protected_mentions(command)
    return [] if not mentions or only_reads(command) else mentions
