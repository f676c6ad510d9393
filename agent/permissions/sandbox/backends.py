"""The backends: how a SandboxPolicy becomes an argv. Chosen at run time, first that works wins:

- bubblewrap (`bwrap`, what Claude Code uses on Linux): user, mount, pid, network and ipc namespaces,
  `--die-with-parent`, `--new-session`, every capability dropped, no nested user namespaces, the root
  file system read-only with the writable roots bound over it, carve-outs re-bound read-only, denied
  paths covered by an unreadable empty folder or file, and our seccomp filter (`--seccomp FD`);
- Landlock (Linux 5.13+, nothing to install): `launcher.py` does the same with its own namespaces and
  mounts, and Landlock decides what may be written;
- macOS `sandbox-exec`: a profile is written (macos.py) but this backend is not wired in: it could not be
  tried here (no macOS machine).

A probe says why a backend cannot be used; `agent sandbox` prints it.
"""

from __future__ import annotations

import functools
import glob
import marshal
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from agent.permissions.sandbox.policy import SandboxPolicy

__all__ = ["BACKENDS", "Backend", "MountPlan", "Probe", "SandboxSetupError", "plan_mounts"]

LAUNCHER = Path(__file__).with_name("launcher.py")
LANDLOCK_ONLY = Path(__file__).with_name("landlock_only.py")
GLOB_LIMIT = 1000  # paths one wildcard rule may expand to
EXPAND_EVERY_S = 30
SYSTEM_BIN = os.pathsep.join(("/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"))
PROBE_TIMEOUT_S = 10


class SandboxSetupError(RuntimeError):
    """The policy cannot be applied as written; the command is not run (never run outside instead)."""


@dataclass(frozen=True)
class Probe:
    name: str
    available: bool
    reason: str = ""  # why not, or what it lacks
    missing: tuple[str, ...] = ()  # protections this backend does not give


@dataclass(frozen=True)
class MountPlan:
    """The policy as existing, resolved paths (what the kernel can be told about)."""

    writable: tuple[str, ...]
    read_only: tuple[str, ...]
    deny_dirs: tuple[str, ...]
    deny_files: tuple[str, ...]
    skipped: tuple[str, ...]  # what could not be applied, and why


def _real(path: Path | str) -> str | None:
    real = os.path.realpath(path)
    return real if os.path.lexists(real) else None


def _below(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _expand(pattern: str) -> tuple[str, ...]:
    """The paths a wildcard matches now (re-read at most every EXPAND_EVERY_S: a deep `**` costs a walk)."""
    return _expand_cached(pattern, int(time.monotonic() // EXPAND_EVERY_S))


@functools.lru_cache(maxsize=128)
def _expand_cached(pattern: str, period: int) -> tuple[str, ...]:
    return tuple(islice(glob.iglob(pattern, recursive=True, include_hidden=True)
                        if sys.version_info >= (3, 11) else glob.iglob(pattern, recursive=True), GLOB_LIMIT))


def plan_mounts(policy: SandboxPolicy) -> MountPlan:
    """Resolve the policy against the disk now: symlinks followed, absent paths left out (and said)."""
    skipped: list[str] = []
    writable = []
    for path in policy.writable:
        real = _real(path)
        if real is None or not os.path.isdir(real):
            skipped.append(f"{path}: not writable (no such folder)")
        else:
            writable.append(real)
    roots = tuple(dict.fromkeys(writable))
    read_only = []
    for path in [*policy.read_only, *(p for pat in policy.read_only_patterns for p in _expand(pat))]:
        if os.path.islink(path) and _below(os.path.realpath(os.path.dirname(path)), roots):
            # the link itself could be replaced by a real folder, which nothing would keep read-only
            raise SandboxSetupError(f"{path} is a symbolic link, so the sandbox cannot keep it read-only; "
                                    "replace the link by what it points to, or run without the sandbox")
        real = _real(path)
        if real is not None and _below(real, roots):
            read_only.append(real)
    deny_dirs, deny_files = [], []
    for path in [*policy.deny_read, *(p for pat in policy.deny_read_patterns for p in _expand(pat))]:
        real = _real(path)
        if real is None:
            continue
        (deny_dirs if os.path.isdir(real) else deny_files).append(real)
    return MountPlan(roots, _by_depth(read_only), _by_depth(deny_dirs), _by_depth(deny_files), tuple(skipped))


def _by_depth(paths: list[str]) -> tuple[str, ...]:
    return tuple(sorted(dict.fromkeys(paths), key=lambda p: (p.count("/"), p)))


class Backend:
    name = ""

    def probe(self) -> Probe:
        raise NotImplementedError

    def argv(self, policy: SandboxPolicy, plan: MountPlan, blank: str, argv: list[str], cwd: Path,
             seccomp: bytes | None) -> tuple[list[str], tuple[int, ...]]:
        """The argv that runs `argv` in the sandbox, and the fds it must inherit (closed by the caller)."""
        raise NotImplementedError


def _inner_spec(policy: SandboxPolicy, argv: list[str], cwd: Path, seccomp: bytes | None) -> dict:
    net = policy.network
    return {"cwd": str(cwd), "argv": argv, "seccomp": seccomp.hex() if seccomp else "",
            "relay": net.relay_argv() if net.enabled else [], "relay_port": net.proxy_port}


class Bubblewrap(Backend):
    name = "bubblewrap"

    @functools.cached_property
    def path(self) -> str | None:
        """Only from the system's folders: a `bwrap` earlier on PATH (an activated venv in the project)
        could have been written by a sandboxed command, and would then start the next one unconfined."""
        return shutil.which("bwrap", path=SYSTEM_BIN)

    @functools.cached_property
    def _help(self) -> str:
        try:
            return subprocess.run([self.path or "bwrap", "--help"], capture_output=True, text=True,
                                  timeout=PROBE_TIMEOUT_S).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    def probe(self) -> Probe:
        if platform.system() != "Linux":
            return Probe(self.name, False, "bubblewrap runs on Linux only")
        if self.path is None:
            return Probe(self.name, False, "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)")
        try:
            done = subprocess.run([self.path, *self._isolation(), "--ro-bind", "/", "/", "--proc", "/proc",
                                   "--dev", "/dev", "--", "/bin/sh", "-c", "true"],
                                  capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            return Probe(self.name, False, f"bwrap could not be started: {exc}")
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return Probe(self.name, False, f"bwrap cannot make namespaces here ({why}); unprivileged user "
                         "namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, or AppArmor's "
                         "kernel.apparmor_restrict_unprivileged_userns)")
        missing = () if "--disable-userns" in self._help else (
            "nested user namespaces are not blocked (bwrap older than 0.8)",)
        return Probe(self.name, True, missing=missing)

    def _isolation(self) -> list[str]:
        args = ["--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--die-with-parent",
                "--new-session", "--cap-drop", "ALL"]
        if "--disable-userns" in self._help:
            args.append("--disable-userns")
        return args

    def argv(self, policy: SandboxPolicy, plan: MountPlan, blank: str, argv: list[str], cwd: Path,
             seccomp: bytes | None) -> tuple[list[str], tuple[int, ...]]:
        args = [self.path or "bwrap", *self._isolation(), "--ro-bind", "/", "/", "--dev", "/dev",
                "--proc", "/proc", "--tmpfs", "/dev/shm"]
        for path in plan.writable:
            args += ["--bind", path, path]
        for path in plan.read_only:
            args += ["--ro-bind", path, path]
        for path in plan.deny_dirs:
            args += ["--perms", "000", "--tmpfs", path]
        for path in plan.deny_files:
            args += ["--ro-bind", blank, path]
        args += ["--chdir", str(cwd)]
        fds: tuple[int, ...] = ()
        if policy.network.enabled:  # NETWORK HOOK: the relay starts inside, before the filter (launcher)
            spec = {**_inner_spec(policy, argv, cwd, seccomp), "inner": True}
            return [*args, "--", sys.executable, "-I", "-S", str(LAUNCHER), marshal.dumps(spec).hex()], fds
        if seccomp:
            read_fd, write_fd = os.pipe()
            os.write(write_fd, seccomp)  # a few hundred bytes: fits in the pipe's buffer
            os.close(write_fd)
            args += ["--seccomp", str(read_fd)]
            fds = (read_fd,)
        return [*args, "--", *argv], fds


class LandlockBackend(Backend):
    name = "landlock"

    @functools.cached_property
    def abi(self) -> int:
        from agent.permissions.sandbox import native

        return native.landlock_abi()

    def probe(self) -> Probe:
        if platform.system() != "Linux":
            return Probe(self.name, False, "Landlock is a Linux feature")
        if self.abi < 1:
            return Probe(self.name, False, "the kernel has no Landlock (Linux 5.13 or newer, with landlock in "
                         "the lsm= boot list)")
        with tempfile.TemporaryDirectory(prefix="agent-sandbox-probe-") as folder:
            (Path(folder) / "dev").mkdir()
            policy = SandboxPolicy(Path(folder), Path(folder), (), (), ())
            argv, _ = self.argv(policy, MountPlan((folder,), (), (), (), ()), str(Path(folder) / "blank"),
                                ["/bin/sh", "-c", "echo probe > /dev/null"], Path(folder), None)
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
            except (OSError, subprocess.SubprocessError) as exc:
                return Probe(self.name, False, f"the launcher could not be started: {exc}")
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return Probe(self.name, False, f"the Landlock launcher cannot run here: {why}")
        missing = []
        if self.abi < 6:
            missing.append(f"Landlock ABI {self.abi} < 6: signals are confined by the pid namespace only")
        return Probe(self.name, True, missing=tuple(missing))

    def argv(self, policy: SandboxPolicy, plan: MountPlan, blank: str, argv: list[str], cwd: Path,
             seccomp: bytes | None) -> tuple[list[str], tuple[int, ...]]:
        spec = {**_inner_spec(policy, argv, cwd, seccomp), "writable": list(plan.writable),
                "read_only": list(plan.read_only), "deny_dirs": list(plan.deny_dirs),
                "deny_files": list(plan.deny_files), "blank": blank, "landlock_abi": self.abi,
                "dev_stage": str(Path(blank).with_name("dev"))}
        return [sys.executable, "-I", "-S", str(LAUNCHER), marshal.dumps(spec).hex()], ()


class LandlockOnly(LandlockBackend):
    """Landlock and seccomp without namespaces (landlock_only.py): for machines that refuse unprivileged
    user namespaces. Weaker, and `agent sandbox` lists how."""

    name = "landlock-only"
    MISSING = (
        "no network namespace: socket() is refused outright (no localhost servers, no proxy)",
        "nothing new can be made directly in a folder holding a protected path (the project root)",
        "names inside hidden folders can be listed (not read)",
        "no pid namespace: processes left behind are killed when the command ends (a subreaper)",
    )

    def probe(self) -> Probe:
        if platform.system() != "Linux":
            return Probe(self.name, False, "Landlock is a Linux feature")
        if self.abi < 1:
            return Probe(self.name, False, "the kernel has no Landlock (Linux 5.13 or newer)")
        missing = self.MISSING if self.abi >= 6 else (
            *self.MISSING, f"Landlock ABI {self.abi} < 6: signals to processes outside are not blocked")
        return Probe(self.name, True, missing=missing)

    def argv(self, policy: SandboxPolicy, plan: MountPlan, blank: str, argv: list[str], cwd: Path,
             seccomp: bytes | None) -> tuple[list[str], tuple[int, ...]]:
        from agent.permissions.sandbox.seccomp import no_socket_filter

        spec = {"cwd": str(cwd), "argv": argv, "seccomp": no_socket_filter().hex(),
                "writable": list(plan.writable), "read_only": list(plan.read_only),
                "deny_dirs": list(plan.deny_dirs), "deny_files": list(plan.deny_files), "landlock_abi": self.abi}
        return [sys.executable, "-I", "-S", str(LANDLOCK_ONLY), marshal.dumps(spec).hex()], ()


BACKENDS: tuple[type[Backend], ...] = (Bubblewrap, LandlockBackend, LandlockOnly)
