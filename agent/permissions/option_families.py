"""Options a prefix allow rule never covers: those that name a program, code, a file to write or where
code comes from. `Bash(git log:*)` means "show me the log", not `git log --output=.claude/settings.local.json`;
`Bash(npm test:*)` means "run the tests", not `npm test --script-shell=./evil`. Such a command is asked
(denied headless) unless an exact rule names it. The README lists these families.

Only the words after the rule's own words are looked at: what the rule spells out, the user chose.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from agent.permissions.git_commands import (
    COMMAND_OPTIONS,
    GIT_BUILTINS,
    OPAQUE_KEYS,
    SHELL_KEYS,
    config_pairs,
    git_handler,
    key_matches,
)
from agent.permissions.wrapper_args import Words


@dataclass(frozen=True)
class Family:
    what: str  # for the user: "options that name a program or code"
    longs: tuple[str, ...] = ()  # long option names without `--` (fnmatch patterns, `no-` stripped first)
    shorts: tuple[str, ...] = ()  # short options, e.g. "-c" (also matches "-cVALUE")


GIT_FAMILIES = (
    Family("options that write a named file", ("output", "output-directory")),
    Family("options that run a program or take hooks from elsewhere", ("exec-path", "upload-pack", "receive-pack",
                                                                       "template", "separate-git-dir")),
)
GIT_SHORT_OUTPUT = {"format-patch": "-o", "archive": "-o", "clone": "-u"}

_GLOB = frozenset("*?[")
NPM_FAMILIES = (
    Family("options that name a program, code or a config file", (
        "*shell*", "*script*", "*node*", "*config*", "*exec*", "*cmd*", "*command*", "editor", "browser", "git",
        "*gyp*", "*hook*", "*require*", "*loader*", "*import*", "*preload*", "call", "package", "*plugin*",
        "init-module", "*env*", "script-shell", "node-options", "userconfig", "globalconfig", "onload-script",
        "node-gyp", "shell"), ("-c", "-p", "-r")),
    Family("options that move where it works, installs or writes", (
        "prefix", "*dir*", "cwd", "*cache*", "*path*", "*file*", "*output*", "global", "location", "*root*"),
        ("-C", "-g", "-o")),
    Family("options that change where code and credentials go", (
        "*registry*", "*auth*", "*token*", "*proxy*", "*cert*", "ca", "cafile", "key", "*scope*", "*host*",
        "registry"), ()),
)
PIP_FAMILIES = (
    Family("options that change where packages come from", (
        "index-url", "extra-index-url", "find-links", "trusted-host", "requirement", "constraint", "editable",
        "proxy", "cert", "client-cert", "no-index", "use-pep517", "config-settings", "*-option", "src"),
        ("-i", "-f", "-r", "-c", "-e", "-C")),
    Family("options that write to a named place", ("target", "prefix", "root", "log", "report", "dest", "cache-dir",
                                                   "user", "break-system-packages"), ("-t", "-d")),
)
PYTHON_CODE = "interpreter options that run code or change how it runs (-c, -m, -X, -i, `-`)"
PYTEST_FAMILIES = (
    Family("options that load code or configuration", ("config-file", "override-ini", "rootdir", "confcutdir",
                                                       "pyargs", "*plugin*", "import-mode"), ("-p", "-c", "-o")),
    Family("options that write or delete files, or send output away", (
        "basetemp", "junitxml", "junit-xml", "result-log", "resultlog", "debug", "pastebin", "*report*", "cov*"), ()),
)
NPM_LIKE = ("npm", "npx", "yarn", "yarnpkg", "pnpm", "pnpx", "bun", "bunx", "corepack")
PIP_LIKE = ("pip", "pip3")
PYTEST_LIKE = ("pytest", "py.test")


def never_covered(rule: tuple[str, ...], words: Words) -> str | None:
    """Why a prefix rule with these words does not cover the command, or None when it may."""
    if not words or words[0] is None:
        return None
    program = words[0].rsplit("/", 1)[-1]
    extra = words[len(rule):]
    if program == "git":
        return _git(words, len(rule))
    if program in NPM_LIKE:
        return _scan(_before_double_dash(extra), NPM_FAMILIES)
    if program in PIP_LIKE:
        return _scan(extra, PIP_FAMILIES)
    if program in PYTEST_LIKE:
        return _scan(extra, PYTEST_FAMILIES)
    if _is_python(program):
        return _python(words, len(rule))
    return None


def _python(words: Words, covered: int) -> str | None:
    """python's own options end at the script, `-c CODE` or `-m MODULE`; after that they are the
    module's (pytest's and pip's are looked at too)."""
    for i, word in enumerate(words[1:], start=1):
        if word is None or word == "--" or not word.startswith("-") or word == "-":
            return "`-` runs code read from its input" if word == "-" and i >= covered else None
        if word == "-m":
            if i + 1 >= covered:  # the rule does not name the module
                return "`-m` runs a module the rule does not name"
            return _module_options(words[i + 1], words[covered:])
        code = not word.startswith("--") and set(word[1:]) & set("cmXi")
        if i >= covered and code:
            return f"`{word}` is one of the {PYTHON_CODE}"
        if code:
            return None  # `-c CODE` named by the rule: the rest is the code's argv
    return None


def _module_options(module: str | None, extra: Words) -> str | None:
    if module == "pip":
        return _scan(extra, PIP_FAMILIES)
    if module == "pytest":
        return _scan(extra, PYTEST_FAMILIES)
    return None


def _git(words: Words, covered: int) -> str | None:
    extra = words[covered:]
    for key, _ in config_pairs(words[1:]):
        if not key or key_matches(key, SHELL_KEYS) or key_matches(key, OPAQUE_KEYS):
            return f"git -c {key or '...'} can make git run a program"
    if reason := _scan(extra, GIT_FAMILIES):
        return reason
    sub = next((w for w in words[1:] if w is not None and w in GIT_BUILTINS), None)
    if sub in GIT_SHORT_OUTPUT and any(w is not None and w.startswith(GIT_SHORT_OUTPUT[sub]) for w in extra):
        return f"git {sub} {GIT_SHORT_OUTPUT[sub]} writes files or runs a program"
    if sub in COMMAND_OPTIONS and any(
            w is not None and w.split("=", 1)[0] in COMMAND_OPTIONS[sub] for w in extra):
        return f"an option of git {sub} runs a command"
    for inner in git_handler(words[1:]):
        if not isinstance(inner, tuple) or (inner and inner[0] != "git"):
            return "git runs a command given on its command line"
    return None


def _before_double_dash(words: Words) -> Words:
    return words[: words.index("--")] if "--" in words else words


def _scan(words: Words, families: tuple[Family, ...]) -> str | None:
    for word in words:
        if word is None or not word.startswith("-") or word == "--":
            continue
        for family in families:
            if _matches(word, family):
                return f"`{word.split('=', 1)[0]}` is one of the {family.what}"
    return None


def _matches(word: str, family: Family) -> bool:
    """git, npm (nopt), pip (optparse) and pytest (argparse) all take a long option by any unambiguous
    prefix (`--outp=x`, `--node-opt=x`, `--ind=x`): a prefix of a named option counts as that option."""
    if word.startswith("--"):
        name = word[2:].split("=", 1)[0].casefold()
        name = name[3:] if name.startswith("no-") else name
        return any(fnmatch.fnmatchcase(name, pattern) or (
            len(name) >= 2 and not set(pattern) & _GLOB and pattern.startswith(name)) for pattern in family.longs)
    return any(word == short or (len(short) == 2 and word.startswith(short)) for short in family.shorts) or \
        (word == "-" and "-" in family.shorts)


def _is_python(program: str) -> bool:
    stem = program.rstrip("0123456789.")
    return (stem in ("python", "pypy") and program[len(stem):].replace(".", "").isdigit()) or program in (
        "python", "pypy")
