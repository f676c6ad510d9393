"""The degraded Landlock backend, for machines that refuse unprivileged user namespaces (Ubuntu 24.04's
AppArmor default, hardened kernels): `python -I -S landlock_only.py SPEC`. Standard library only.

Without namespaces there are no mounts, so everything is Landlock rules, and Landlock grants whole trees:
a folder holding something to protect is "split": it gets no write right itself (and only the right to
list it), each other entry in it gets the full grant. Hence:
- writes: below the writable roots, except the carve-outs; but nothing new can be made, removed or renamed
  directly in a split folder (the project root, which holds .git);
- reads: everything except the hidden paths (their names can still be listed);
- network: none; the seccomp filter refuses socket() entirely (TCP, UDP, unix; localhost servers too);
- processes: the launcher is a child subreaper: what the command leaves behind (setsid, nohup, double
  forks) is reparented to it and killed when the command ends; signals stay inside (Landlock ABI 6);
- every capability dropped (a root agent's command is root without privileges).
"""

from __future__ import annotations

import _signal
import marshal
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import native  # a sibling file, loaded by path: this process runs with -I -S

PR_SET_CHILD_SUBREAPER = 36
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")


def fail(message: str) -> None:
    sys.stderr.write(f"sandbox: cannot start the command: {message}\n")
    sys.stderr.flush()
    os._exit(125)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def grant_except(ruleset: native.LandlockRuleset, path: str, rights: int, excluded: list[str]) -> None:
    """`rights` on the tree at `path`, minus the excluded paths: folders on the way to one are split."""
    inside = [e for e in excluded if _within(e, path)]
    if not inside:
        if os.path.lexists(path) and not os.path.islink(path):
            ruleset.allow(path, rights)
        return
    if path in inside or not os.path.isdir(path) or os.path.islink(path):
        return
    ruleset.allow(path, native.FS_READ_DIR)  # listed, but no entry made, removed or renamed here
    try:
        entries = [entry.path for entry in os.scandir(path)]
    except OSError:
        return
    for entry in entries:
        grant_except(ruleset, entry, rights, inside)


def apply_landlock(spec: dict) -> None:
    ruleset = native.LandlockRuleset(spec["landlock_abi"])
    grant_except(ruleset, "/", native.FS_READ, [*spec["deny_dirs"], *spec["deny_files"], "/dev"])
    ruleset.allow("/dev", native.FS_READ_DIR)
    for path in ("/dev/pts", "/dev/ptmx", *DEVICES):
        if os.path.exists(path):
            ruleset.allow(path, native.FS_FILE_RIGHTS & ~native.FS_EXECUTE | (
                native.FS_READ_DIR if os.path.isdir(path) else 0))
    for root in spec["writable"]:
        grant_except(ruleset, root, ruleset.handled, [*spec["read_only"], *spec["deny_dirs"], *spec["deny_files"]])
    ruleset.restrict_self()


def _kill(pid: int) -> None:
    try:  # noqa: SIM105  (contextlib costs milliseconds of start-up here)
        os.kill(pid, _signal.SIGKILL)
    except ProcessLookupError:
        pass


def kill_leftovers() -> None:
    """Kill and reap every process reparented to us (we are their subreaper) until none is left."""
    me = str(os.getpid())
    while True:
        children = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[1] == me:
                    children.append(int(name))
        for pid in children:
            _kill(pid)
        reaped = False
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            reaped = True
        if not children and not reaped:
            return


def main() -> None:
    spec = marshal.loads(bytes.fromhex(sys.argv[1]))
    try:
        native.prctl(PR_SET_CHILD_SUBREAPER, 1, what="child subreaper")
    except OSError as exc:
        fail(str(exc))
    child = os.fork()
    if child == 0:
        try:
            apply_landlock(spec)
            native.drop_capabilities()
            native.install_seccomp(bytes.fromhex(spec["seccomp"]))
            os.chdir(spec["cwd"])
            os.execve(spec["argv"][0], spec["argv"], os.environ)
        except OSError as exc:
            fail(str(exc))
        os._exit(127)

    def stop(signum: int, frame: object) -> None:
        kill_leftovers_and_child()

    def kill_leftovers_and_child() -> None:
        _kill(child)
        kill_leftovers()
        os._exit(128 + _signal.SIGTERM)

    status = native.wait_exit_status(child, stop)
    kill_leftovers()
    os._exit(status)


if __name__ == "__main__":
    main()
