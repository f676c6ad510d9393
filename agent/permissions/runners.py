"""Programs that run other programs, and programs that hold code: the table behind deny rules on Bash.

`RUNNERS` look through a program that starts a command it is given (`flock F rm x`, `chroot / rm x`,
`script -qc 'rm x' /dev/null`, `sg root -c 'rm x'`, `parallel rm ::: x`): a deny rule on `rm` then
matches as surely as on `rm x` itself. `CODE_HOLDERS` run code that no rule on command names can see
into: an interpreter (`python3 -c`, `perl -e`), a build tool that runs the project's recipes (`make`,
`npm test`), `sed` with its `e` command, `awk` with `system()`, `tar --checkpoint-action=exec=...`,
`find -delete` (deletes without rm). Under a deny rule on Bash they are asked, never allowed unseen,
unless an allow rule names the program itself. A program named by a path outside the system folders
(`./d`, which may be a copy of /bin/rm) is opaque for the same reason.

This is a guard against mistakes, not a sandbox: a determined command can always hide what it runs.
"""

from __future__ import annotations

import re

from agent.permissions.wrapper_args import (
    RUN_TIME_STRING,
    Handler,
    Inner,
    Opaque,
    Source,
    Unclear,
    Words,
    commands_at,
    option_values,
    shell_text,
    simple,
    starts,
)

SYSTEM_FOLDERS = ("/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin",
                  "/usr/lib/git-core", "/usr/libexec/git-core")


def _with_shell_option(run_argv: Handler, short: str, long: tuple[str, ...] = ()) -> Handler:
    """`flock F -c 'text'`, `runuser -u x -- cmd`: a shell string when the option is given, and the
    command as argv as well: a `-c` further on may belong to the wrapped program (`flock F ionice -c 3
    rm x`), and matching too much is the safe mistake."""
    def handler(args: Words) -> list[Inner]:
        return [*(shell_text(v) for v in option_values(args, short, long)), *run_argv(args)]
    return handler


def _script(args: Words) -> list[Inner]:
    """`script -c 'text' [file]` runs text; without -c it runs an interactive shell on its input."""
    values = option_values(args, "c", ("command",))
    return [shell_text(v) for v in values] if values else [Unclear("a shell reading its input")]


def _chroot(args: Words) -> list[Inner]:
    found = commands_at(args, starts(args, "", "", ("userspec", "groups")), skip=1)
    return found or [Unclear("an interactive shell (chroot without a command)")]


def _sg(args: Words) -> list[Inner]:
    """`sg [-] group [-c] command`: the command is handed to /bin/sh -c either way."""
    rest = list(args[1:] if args[:1] == ("-",) else args)[1:]
    if rest[:1] == ["-c"]:
        rest = rest[1:]
    if not rest:
        return []
    return [Unclear(RUN_TIME_STRING) if None in rest else Source(" ".join(w for w in rest if w is not None))]


def _chrt(args: Words) -> list[Inner]:
    """`chrt [options] priority command`; `-p` works on a running pid instead."""
    if any(a is not None and a.startswith("-") and not a.startswith("--") and "p" in a for a in args) or \
            "--pid" in args:
        return []
    return commands_at(args, starts(args, "TPD", "bdfiormaRv", ("sched-runtime", "sched-period",
                                                               "sched-deadline")), skip=1)


def _prlimit(args: Words) -> list[Inner]:
    """prlimit's resource options take an optional value written `-n512` or `--nofile=512`."""
    if any(a is not None and (a.startswith("--pid") or a == "-p" or (a.startswith("-p") and a[2:].isdigit()))
           for a in args):
        return []
    return commands_at(args, starts(args, "o", "cdefilmnqrRstuvxyh", ("output",)))


def _parallel(args: Words) -> list[Inner]:
    """`parallel [options] command ::: args`: the command (run by a shell) comes before `:::`."""
    seps = [i for i, a in enumerate(args) if a is not None and a.startswith(":::")]
    head = args[: seps[0]] if seps else args
    found = commands_at(head, starts(head, "jSdIaXN", "0kqvgu", ("jobs", "sshlogin", "delimiter", "arg-file",
                                                                   "joblog", "results", "timeout")))
    commands = [c for c in found if isinstance(c, tuple)]
    if not seps and not commands:
        return [Unclear("commands read from its input")]
    return [*found, *(Source(" ".join(c)) for c in commands if None not in c)]  # type: ignore[arg-type]


RUNNERS: dict[str, Handler] = {
    "flock": _with_shell_option(simple("wEoc", "sxunFh", ("timeout", "conflict-exit-code"), skip=1), "c",
                                ("command",)),
    "chroot": _chroot,
    "unshare": simple("SGRwl", "muinpUCTrfc", ("setuid", "setgid", "root", "wd", "propagation", "setgroups",
                                               "map-user", "map-group", "kill-child")),
    "setpriv": simple("", "dh", ("reuid", "regid", "groups", "inh-caps", "ambient-caps", "bounding-set",
                                 "securebits", "pdeathsig", "selinux-label", "apparmor-profile", "ruid", "euid",
                                 "rgid", "egid", "landlock-access", "landlock-rule")),
    "script": _script,
    "strace": simple("oeEpPuSsabIOXU", "cCdDfFhiqrtTvVwxyYzZkn", ("output", "signal", "trace", "user", "env")),
    "ltrace": simple("oeEpPuSsanAbDlLxIw", "cCdfFhirtTV", ("output", "library")),
    "prlimit": _prlimit,
    "chrt": _chrt,
    "sg": _sg,
    "runuser": _with_shell_option(simple("ugGws", "lmpPf", ("user", "group", "supp-group", "shell",
                                                            "whitelist-environment")), "c",
                                  ("command", "session-command")),
    "su": _with_shell_option(lambda args: [], "c", ("command", "session-command")),
    "parallel": _parallel,
    "sem": _parallel,
    "setarch": simple("", "RFLXBIZ3hv", skip=1),
    "nsenter": simple("tSGw", "mnupiUCTrFa", ("target", "setuid", "setgid", "wd", "root", "mount", "uts",
                                              "ipc", "net", "pid", "user", "cgroup", "time")),
    "fakeroot": simple("isb", "uh", ("lib", "faked")),
    "eatmydata": simple(),
    "unbuffer": simple(),
    "catchsegv": simple(),
    "valgrind": simple(),
    "torsocks": simple(),
    "proxychains": simple("f", "q"),
    "pkexec": simple("", "", ("user",)),
    "systemd-run": simple("pEM", "qrtG", ("property", "setenv", "machine", "unit", "description", "slice",
                                          "uid", "gid", "working-directory", "on-calendar", "on-active")),
    "dbus-run-session": simple("", "", ("config-file", "dbus-daemon")),
    "xvfb-run": simple("nsef", "al", ("server-num", "server-args", "error-file", "auth-file")),
    "envdir": simple(skip=1),
    "chpst": simple("ugUe/n0lLmdostpfc", "vPV"),
    "setuidgid": simple(skip=1),
    "firejail": simple(),
    "tini": simple("ep", "svlgw"),
    "dumb-init": simple("r", "cvV"),
    "direnv": lambda args: commands_at(args, starts(args), skip=2) if args[:1] == ("exec",) else [],
    "ssh": lambda args: [Opaque("`ssh` runs a command that the other host's shell reads")],
}

# Programs whose work is code: their own language, a project's recipes, or commands in their options.
_INTERPRETERS = (
    "python", "python2", "python3", "pypy", "pypy3", "perl", "ruby", "node", "nodejs", "deno", "bun", "php",
    "lua", "luajit", "tclsh", "wish", "Rscript", "R", "julia", "osascript", "expect", "gawk-script", "ipython",
    "jshell", "groovy", "scala", "kotlin", "swift", "guile", "racket", "sbcl", "clisp", "gdb", "lldb", "vim",
    "vi", "nvim", "ex", "ed", "emacs", "sqlite3", "psql", "mysql", "mongosh", "redis-cli", "docker", "podman",
    "kubectl", "ansible", "ansible-playbook", "pwsh", "at", "batch", "crontab", "tmux", "screen",
)
_PROJECT_RUNNERS = (
    "make", "gmake", "bmake", "cmake", "ninja", "meson", "scons", "just", "task", "rake", "ant", "mvn", "gradle",
    "sbt", "bazel", "npm", "npx", "yarn", "pnpm", "pnpx", "corepack", "cargo", "go", "dotnet", "mix", "bundle",
    "gem", "pip", "pip3", "pipx", "uv", "uvx", "poetry", "pipenv", "pdm", "hatch", "tox", "nox", "pytest",
    "conda", "composer", "swift-build", "stack", "cabal", "dune", "zig", "nix", "nix-shell", "pre-commit",
)


def _interpreter(args: Words) -> list[Inner]:
    return [Opaque("it runs code or commands it is given (a script, -c, -e, a container or a remote shell)")]


def _project_runner(args: Words) -> list[Inner]:
    return [Opaque("it runs the project's own recipes or scripts")]


def _sed(args: Words) -> list[Inner]:
    """GNU sed runs commands with its `e` command and the `e` flag of `s`: any `e` in a script counts."""
    scripts = [*option_values(args, "e", ("expression",))]
    if option_values(args, "f", ("file",)):
        return [Opaque("sed reads a script file, which may use its `e` command to run programs")]
    if not scripts:
        found = starts(args, "lE", "nrsuzi", ("line-length",))
        first = min((i for i in found if i >= 0), default=None)
        scripts = [args[first]] if first is not None else [None]
    if any(s is None or "e" in s for s in scripts):
        return [Opaque("sed's `e` command runs programs")]
    return []


def _awk(args: Words) -> list[Inner]:
    """awk runs programs through system(), pipes and getline; -f and extensions hide the program."""
    if option_values(args, "f", ("file", "load", "include")) or option_values(args, "l", ()) or \
            option_values(args, "E", ("exec",)):
        return [Opaque("awk reads its program from a file")]
    found = starts(args, "vF", "bcCdDhLMnNOPrsStVY", ("assign", "field-separator"))
    first = min((i for i in found if i >= 0), default=None)
    program = args[first] if first is not None else None
    if program is None or any(token in program for token in ("system", "|", "@", "getline", "ENVIRON")):
        return [Opaque("awk's system(), pipes and getline run programs")]
    return []


_TAR_CODE_OPTIONS = ("checkpoint-action", "to-command", "use-compress-program", "info-script", "new-volume-script",
                     "rsh-command", "rmt-command", "index-file")


def _tar(args: Words) -> list[Inner]:
    """tar runs programs for --checkpoint-action=exec, --to-command, -I/--use-compress-program, -F."""
    for arg in args:
        if arg is None:
            return [Opaque("options known only at run time")]
        if arg.startswith("--") and arg[2:].split("=", 1)[0] in _TAR_CODE_OPTIONS:
            return [Opaque(f"tar's {arg.split('=', 1)[0]} runs a program")]
        if arg.startswith("-") and not arg.startswith("--") and set(arg[1:]) & {"I", "F"}:
            return [Opaque("tar's -I/-F run a program")]
    bundled = args[0] if args and args[0] is not None and not args[0].startswith("-") else ""
    return [Opaque("tar's -I/-F run a program")] if set(bundled) & {"I", "F"} else []


def find_changes(args: Words) -> list[Inner]:
    """find's -delete removes files without rm; -fprint and -fls write files."""
    hits = [a for a in args if a in ("-delete", "-fprint", "-fprint0", "-fprintf", "-fls")]
    return [Opaque(f"find's {hits[0]} changes files by itself")] if hits else []


def _zip(args: Words) -> list[Inner]:
    return [Opaque("zip -TT runs a program")] if any(a is None or a == "-TT" or (
        a.startswith("--unzip-command")) for a in args) else []


def _rsync(args: Words) -> list[Inner]:
    risky = ("-e", "--rsh", "--rsync-path")
    return [Opaque("rsync -e/--rsync-path run a program")] if any(
        a is None or a.split("=", 1)[0] in risky or (a.startswith("-e") and not a.startswith("--")) for a in args
    ) else []


CODE_HOLDERS: dict[str, Handler] = {
    **dict.fromkeys(_INTERPRETERS, _interpreter),
    **dict.fromkeys(_PROJECT_RUNNERS, _project_runner),
    "sed": _sed, "gsed": _sed,
    "awk": _awk, "gawk": _awk, "mawk": _awk, "nawk": _awk,
    "tar": _tar, "gtar": _tar, "bsdtar": _tar,
    "zip": _zip,
    "rsync": _rsync,
}


# Variables that make a program run a command or load code (git's ssh, pager and editor, the dynamic
# loader, interpreters' start-up options, the shell bash reads first, tar's default options, where
# git and npm read their configuration). Setting one (`NAME=... cmd`, `env NAME=...`, `export NAME=...`)
# hides what runs behind a name no rule mentions.
RISKY_VARIABLES = re.compile(
    r"(?<![^\s;&|({`])(?:GIT_(?:SSH|SSH_COMMAND|EXTERNAL_DIFF|PAGER|EDITOR|SEQUENCE_EDITOR|ASKPASS|PROXY_COMMAND|"
    r"CONFIG\w*|EXEC_PATH|TEMPLATE_DIR|DIR|WORK_TREE)|PAGER|MANPAGER|EDITOR|VISUAL|FCEDIT|BROWSER|SSH_ASKPASS|"
    r"BASH_ENV|ENV|PROMPT_COMMAND|PS4|SHELLOPTS|BASHOPTS|SHELL|IFS|PATH|HOME|XDG_CONFIG_HOME|LD_\w+|DYLD_\w+|"
    r"NODE_OPTIONS|NODE_PATH|PYTHON(?:STARTUP|PATH|HOME|INSPECT)|PERL5OPT|PERL5LIB|PERLLIB|RUBYOPT|RUBYLIB|"
    r"TAR_OPTIONS|LESSOPEN|LESSCLOSE|[Nn][Pp][Mm]_[Cc][Oo][Nn][Ff][Ii][Gg]_\w+)\+?="
)


def risky_variable(source: str) -> Opaque | None:
    """Why setting a variable in this command line may make some program run a hidden command."""
    match = RISKY_VARIABLES.search(source)
    if match is None:
        return None
    return Opaque(f"it sets {match.group(0)[:-1]}, which can make a program run a command it names")


def python_versioned(name: str) -> bool:
    """python3.12, pypy3.10, perl5.36 ...: versioned interpreter names."""
    return any(name.startswith(stem) and name[len(stem):].replace(".", "").isdigit()
               for stem in ("python", "pypy", "perl", "ruby", "node", "lua", "php"))


def path_named_program(word: str) -> Opaque | None:
    """`./d` or `/tmp/x/rm2`: a program named by a path outside the system folders may be a copy of any
    program, so no rule on command names can rule it out. Base names still match (`/bin/rm` is rm)."""
    if "/" not in word.rstrip("/"):
        return None
    folder = word.rstrip("/").rsplit("/", 1)[0] or "/"
    if folder in SYSTEM_FOLDERS:
        return None
    return Opaque(f"`{word}` is a program named by its path, which may be a copy of any program")


def code_holder(name: str) -> Handler | None:
    if name in CODE_HOLDERS:
        return CODE_HOLDERS[name]
    return _interpreter if python_versioned(name) else None


__all__ = ["CODE_HOLDERS", "RUNNERS", "SYSTEM_FOLDERS", "code_holder", "find_changes", "path_named_program",
           "risky_variable"]
