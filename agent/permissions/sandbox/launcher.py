"""The Landlock backend's launcher: `python -I -S launcher.py SPEC`. Standard library only, and only cheap
imports (the spec is a hex `marshal` dump, not JSON: `json` alone costs more than the sandbox itself).

Step by step (the bubblewrap backend does the same with bwrap, and runs only `--inner` here when a
network relay has to start before the seccomp filter):

1. new user, mount, network, pid and ipc namespaces; our uid and gid mapped to themselves;
2. mounts in the private mount namespace: carve-outs re-bound read-only, denied folders covered by an
   empty mode-000 tmpfs, denied files by an unreadable empty file, a private /dev/shm;
3. the network namespace's own loopback up (the host's network, loopback included, is out of reach);
4. fork: the child is pid 1 of the new pid namespace, with a fresh /proc; when it exits, the kernel kills
   everything the command left behind (setsid, nohup, double forks);
5. Landlock: read and execute everywhere, write only below the writable roots and a few devices; signals
   and abstract unix sockets scoped to the sandbox (ABI 6); mounts are impossible from here on;
6. every capability dropped; the relay started if the network policy has one; the seccomp filter; exec.

The parent waits and exits with the command's status; SIGTERM/SIGINT/SIGHUP kill the whole namespace.
"""

from __future__ import annotations

import _signal  # the C module: `signal` would import enum
import marshal
import os
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import native

DEVICES = ("null", "zero", "full", "random", "urandom", "tty", "ptmx")
RELAY_READY_S = 2.0


def fail(message: str) -> None:
    sys.stderr.write(f"sandbox: cannot start the command: {message}\n")
    sys.stderr.flush()
    os._exit(125)


def set_up_dev(stage: str) -> None:
    """A minimal /dev, as bubblewrap's --dev makes: the harmless devices only (a uid 0 without
    capabilities could otherwise read a disk's blocks), private pts and shm. Built at `stage`, moved over."""
    native.mount("tmpfs", stage, "tmpfs", native.MS_NOSUID | native.MS_NOEXEC, "mode=755,size=64k")
    for name in DEVICES:
        node = os.path.join(stage, name)
        if name != "ptmx" and os.path.exists(f"/dev/{name}"):
            open(node, "w").close()
            native.mount(f"/dev/{name}", node, None, native.MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")):
        os.symlink(target, os.path.join(stage, name))
    for name in ("pts", "shm"):
        os.mkdir(os.path.join(stage, name))
    native.mount(stage, "/dev", None, native.MS_MOVE)
    native.mount("tmpfs", "/dev/shm", "tmpfs", native.MS_NOSUID | native.MS_NODEV, "mode=1777")
    try:  # noqa: SIM105  (contextlib costs milliseconds of start-up here)
        native.mount("devpts", "/dev/pts", "devpts", native.MS_NOSUID | native.MS_NOEXEC,
                     "newinstance,ptmxmode=0666,mode=620")
    except OSError:  # no terminals inside is fine; the command's stdin is empty
        pass


def set_up_mounts(spec: dict) -> None:
    native.mount(None, "/", None, native.MS_REC | native.MS_PRIVATE)
    for path in spec["read_only"]:
        native.bind_read_only(path, path)
    set_up_dev(spec["dev_stage"])
    for path in spec["deny_dirs"]:
        native.mount("tmpfs", path, "tmpfs", native.MS_NOSUID | native.MS_NODEV | native.MS_NOEXEC,
                     "mode=000,size=4k")
    for path in spec["deny_files"]:
        native.bind_read_only(spec["blank"], path)


def apply_landlock(spec: dict) -> None:
    ruleset = native.LandlockRuleset(spec["landlock_abi"])
    ruleset.allow("/", native.FS_READ)
    everything = ruleset.handled
    for path in [*spec["writable"], "/dev/shm", "/dev/pts"]:
        if os.path.exists(path):
            ruleset.allow(path, everything)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            ruleset.allow(f"/dev/{name}", native.FS_FILE_RIGHTS & ~native.FS_EXECUTE)
    ruleset.restrict_self()


def start_relay(spec: dict) -> None:
    """NETWORK HOOK: the relay to the agent's proxy, started before the seccomp filter (it needs a unix
    socket to reach the proxy); the command starts once the relay's port accepts connections."""
    relay = spec.get("relay") or []
    if not relay:
        return
    if _is_python_relay(relay):  # run in a fork of this interpreter: no second start, no wait
        try:
            _load_relay(relay[3]).start_in_background(relay[4:])
            return
        except (OSError, ImportError, AttributeError, KeyError, ValueError) as exc:
            fail(f"the network relay could not start: {exc}")
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.execvp(relay[0], relay)
        finally:
            os._exit(127)
    deadline = time.monotonic() + RELAY_READY_S
    while time.monotonic() < deadline:
        if native.port_listens(spec["relay_port"]):
            return
        time.sleep(0.01)
    fail(f"the network relay did not listen on 127.0.0.1:{spec['relay_port']} within {RELAY_READY_S:g}s")


def _is_python_relay(relay: list) -> bool:
    """The agent's own relay (agent.permissions.network.relay_template): this interpreter, -I -S, a file."""
    return len(relay) >= 4 and relay[0] == sys.executable and relay[1:3] == ["-I", "-S"] and relay[3].endswith(".py")


def _load_relay(path: str) -> types.ModuleType:
    """relay.py imported by its folder, as `native` is (importlib.util would cost more than the relay)."""
    folder, name = os.path.split(path)
    sys.path.insert(0, folder)
    try:
        return __import__(name[: -len(".py")])
    finally:
        sys.path.remove(folder)


def run_command(spec: dict) -> None:
    """Stage 2, in pid 1 of the sandbox: relay, seccomp, exec."""
    start_relay(spec)
    if spec.get("seccomp"):
        native.install_seccomp(bytes.fromhex(spec["seccomp"]))
    os.chdir(spec["cwd"])
    os.execve(spec["argv"][0], spec["argv"], os.environ)


def sandbox_child(spec: dict) -> None:
    native.prctl(native.PR_SET_PDEATHSIG, _signal.SIGKILL, what="parent-death signal")
    native.mount("proc", "/proc", "proc", native.MS_NOSUID | native.MS_NODEV | native.MS_NOEXEC)
    apply_landlock(spec)
    native.drop_capabilities()
    run_command(spec)


def wait_for(child: int) -> int:
    def kill_sandbox(signum: int, frame: object) -> None:
        try:  # noqa: SIM105  (as above)
            os.kill(child, _signal.SIGKILL)  # pid 1 of the namespace: everything in it dies
        except ProcessLookupError:
            pass
    return native.wait_exit_status(child, kill_sandbox)


def main() -> None:
    spec = marshal.loads(bytes.fromhex(sys.argv[1]))
    try:
        if spec.get("inner"):  # already inside bubblewrap: only the relay, the filter and the command
            run_command(spec)
        uid, gid = os.getuid(), os.getgid()
        native.unshare(native.CLONE_NEWUSER | native.CLONE_NEWNS | native.CLONE_NEWNET | native.CLONE_NEWPID
                       | native.CLONE_NEWIPC)
        native.map_ids(uid, gid)
        set_up_mounts(spec)
        native.bring_loopback_up()
    except OSError as exc:
        fail(str(exc))
    child = os.fork()
    if child == 0:
        try:
            sandbox_child(spec)
        except OSError as exc:
            fail(str(exc))
        os._exit(127)
    os._exit(wait_for(child))


if __name__ == "__main__":
    main()
