"""SandboxRunner: the object the Bash tool gets through its ToolContext (tools.base.CommandWrapper).

    runner = SandboxRunner.from_settings(project_dir, settings, deny_rules)   # one per session
    runner.verdict(command, scheduled=..., unsandboxed=...)   # sandboxed / excluded / off / ...
    wrapped = runner.wrap(["bash", "-c", command], env, cwd)  # the argv, env and fds that run it inside
    runner.rooted(worktree)                                   # an isolated run: its worktree only

The backend is probed once, on first use. Without one, commands run unsandboxed after one warning, unless
`sandbox.failIfUnavailable` is set: then they are refused (and runs refuse to start, see `require`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from agent.permissions.sandbox.backends import BACKENDS, Backend, Probe, plan_mounts
from agent.permissions.sandbox.config import SandboxSettings
from agent.permissions.sandbox.explain import explain_failure
from agent.permissions.sandbox.policy import NetworkPolicy, SandboxPolicy, build_policy
from agent.tools.base import SandboxVerdict, ToolDenial, WrappedCommand

__all__ = ["SandboxRunner", "SandboxUnavailable"]

log = logging.getLogger(__name__)


# What runs outside the sandbox for every command (the interpreter, its venv, the launcher): read-only
# inside it whenever it lies in a writable folder (a project with its own venv, or this agent's source),
# or a sandboxed command could rewrite what starts the next one.
SELF_PATHS = tuple(dict.fromkeys(Path(p) for p in (sys.prefix, sys.exec_prefix, sys.base_prefix,
                                                   os.path.dirname(os.path.realpath(sys.executable)),
                                                   os.path.dirname(os.path.abspath(__file__)),
                                                   # the network relay, loaded by the launcher before its filter
                                                   os.path.join(os.path.dirname(os.path.dirname(
                                                       os.path.abspath(__file__))), "network"))))


@runtime_checkable
class CommandNetwork(Protocol):
    """The session's network (agent.permissions.network.NetworkGate): the NetworkPolicy for the next
    command (or a preview that starts nothing), and after it what that command was refused."""

    def policy(self) -> NetworkPolicy: ...

    def preview(self) -> NetworkPolicy: ...

    def finished(self) -> list[ToolDenial]: ...


NetworkSource = NetworkPolicy | Callable[[], NetworkPolicy | None] | None


class SandboxUnavailable(RuntimeError):
    """The sandbox is required (failIfUnavailable) and no backend works here; the message says why."""


@dataclass
class _Shared:
    """What every rooted copy of one session's runner shares: the probe, the temp folder, the warning."""

    backend: Backend | None = None
    probes: tuple[Probe, ...] = ()
    probed: bool = False
    folder: Path | None = None
    warned: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class SandboxRunner:
    def __init__(self, project_dir: Path, settings: SandboxSettings, *, home: Path | None = None,
                 read_deny: Iterable[str] = (), edit_deny: Iterable[str] = (),
                 network: NetworkSource | CommandNetwork = None, backends: Iterable[Backend] | None = None,
                 warn: Callable[[str], None] = log.warning, _shared: _Shared | None = None) -> None:
        self.project_dir = Path(os.path.abspath(project_dir))
        self.settings = settings
        self.home = Path(home or Path.home())
        self.read_deny, self.edit_deny = tuple(read_deny), tuple(edit_deny)
        self.network = network  # NETWORK HOOK: a NetworkPolicy, or a function giving the current one
        self._candidates = tuple(backends) if backends is not None else tuple(b() for b in BACKENDS)
        self._warn = warn
        self._shared = _shared or _Shared()

    @classmethod
    def from_settings(cls, project_dir: Path, settings: object, *, deny_rules: Iterable[object] = (),
                      **options: object) -> SandboxRunner:
        """`deny_rules`: the permission policy's deny Rules; Read and Edit ones shape the sandbox."""
        rules = list(deny_rules)
        read = [r.specifier for r in rules if getattr(r, "tool", None) == "Read" and r.specifier]
        edit = [r.specifier for r in rules if getattr(r, "tool", None) in ("Edit", "Write") and r.specifier]
        return cls(project_dir, SandboxSettings.from_settings(settings), read_deny=read, edit_deny=edit,
                   **options)  # type: ignore[arg-type]

    # --- which backend --------------------------------------------------------------------------

    def _probe(self) -> None:
        shared = self._shared
        with shared.lock:
            if shared.probed:
                return
            probes = []
            for backend in self._candidates:
                probe = backend.probe()
                probes.append(probe)
                if probe.available:
                    shared.backend = backend
                    break
            shared.probes, shared.probed = tuple(probes), True
        chosen = probes[-1] if probes and probes[-1].available else None
        if chosen is not None and len(probes) > 1:  # a weaker fallback: say once what it lacks
            log.warning("sandbox: using %s (%s); it lacks: %s. See agent sandbox.", chosen.name,
                        "; ".join(f"{p.name}: {p.reason}" for p in probes[:-1]), "; ".join(chosen.missing) or "nothing")

    @property
    def backend(self) -> Backend | None:
        self._probe()
        return self._shared.backend

    @property
    def probes(self) -> tuple[Probe, ...]:
        self._probe()
        return self._shared.probes

    def unavailable_reason(self) -> str:
        return "; ".join(f"{p.name}: {p.reason}" for p in self.probes if not p.available) or "no backend"

    @property
    def auto_allow(self) -> bool:
        return self.settings.auto_allow

    def require(self, *, scheduled: bool) -> None:
        """Raise SandboxUnavailable when this kind of run must be sandboxed and cannot be."""
        if self.settings.active(scheduled=scheduled) and self.settings.fail_if_unavailable and self.backend is None:
            raise SandboxUnavailable(f"sandbox.failIfUnavailable is set and no sandbox works here "
                                     f"({self.unavailable_reason()})")

    # --- one command ----------------------------------------------------------------------------

    def verdict(self, command: str, *, scheduled: bool, unsandboxed: bool = False) -> SandboxVerdict:
        if not self.settings.active(scheduled=scheduled):
            return "off"
        if self.backend is None:
            if self.settings.fail_if_unavailable:
                return "refused"
            if not self._shared.warned:
                self._shared.warned = True
                self._warn(f"the sandbox is on but unavailable ({self.unavailable_reason()}): commands run "
                           "unsandboxed. Set sandbox.failIfUnavailable to refuse instead.")
            return "unavailable"
        if unsandboxed and self.settings.allow_unsandboxed:
            return "unsandboxed"
        if self._excluded(command):
            return "excluded"
        return "sandboxed"

    def _excluded(self, command: str) -> bool:
        if not self.settings.excluded_commands:
            return False
        from agent.permissions.bash_policy import covering_spec

        specs = [spec if "*" in spec else f"{spec}:*" for spec in self.settings.excluded_commands]
        return covering_spec(specs, command) is not None

    def all_probes(self) -> tuple[Probe, ...]:
        """Every backend's probe (for `agent sandbox`: why the ones not chosen are not)."""
        self._probe()
        done = {p.name: p for p in self._shared.probes}
        return tuple(done.get(b.name) or b.probe() for b in self._candidates)

    def policy(self, temp_dir: Path | None = None) -> SandboxPolicy:
        """The policy now (`temp_dir`: a stand-in for the private temp folder, which is made on first use;
        given, this is a preview for `agent sandbox` and starts nothing, the network proxy included)."""
        return build_policy(self.project_dir, self.settings, home=self.home,
                            temp_dir=temp_dir or self._folder() / "tmp", read_deny=self.read_deny,
                            edit_deny=self.edit_deny, network=self._network(preview=temp_dir is not None),
                            extra_read_only=SELF_PATHS)

    def _network(self, *, preview: bool = False) -> NetworkPolicy | None:
        """NETWORK HOOK: the network now. A CommandNetwork (the session's agent.permissions.network.NetworkGate)
        or a provider function is asked for each command, so a proxy may start on first use; a preview
        (`agent sandbox`) starts nothing."""
        source = self.network
        if isinstance(source, CommandNetwork):
            return source.preview() if preview else source.policy()
        return source() if callable(source) else source

    def private_path(self, name: str) -> Path:
        """A path in the session's folder that sandboxed commands can read but not change or replace:
        where the proxy's unix socket belongs (the private temp folder beside it is writable)."""
        return self._folder() / name

    def wrap(self, argv: list[str], env: Mapping[str, str], cwd: Path) -> WrappedCommand:
        """`argv` as it runs inside the sandbox. Raises SandboxUnavailable when there is no backend."""
        backend = self.backend
        if backend is None:
            raise SandboxUnavailable(f"no sandbox works here ({self.unavailable_reason()})")
        with contextlib.suppress(OSError):  # a read-only checkout: nothing can create it then either
            (self.project_dir / ".claude").mkdir(exist_ok=True)  # so that it can be kept read-only
        policy = self.policy()
        plan = plan_mounts(policy)
        argv = [shutil.which(argv[0]) or argv[0], *argv[1:]]
        from agent.permissions.sandbox.seccomp import SeccompUnsupported, unix_socket_filter

        try:
            seccomp: bytes | None = unix_socket_filter()
        except SeccompUnsupported:
            seccomp = None
        wrapped, fds = backend.argv(policy, plan, str(self._folder() / "blank"), argv, cwd, seccomp)

        def close() -> None:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        source = self.network
        denials = source.finished if isinstance(source, CommandNetwork) else list
        return WrappedCommand(wrapped, policy.environment(env), fds, close,
                              lambda output: explain_failure(output, policy, self.settings), denials)

    def rooted(self, project_dir: Path) -> SandboxRunner:
        """The same sandbox for a run that works in `project_dir` alone (an isolated run's worktree)."""
        return SandboxRunner(project_dir, self.settings, home=self.home, read_deny=self.read_deny,
                             edit_deny=self.edit_deny, network=self.network, backends=self._candidates,
                             warn=self._warn, _shared=self._shared)

    # --- the private temp folder ----------------------------------------------------------------

    def _folder(self) -> Path:
        shared = self._shared
        with shared.lock:
            if shared.folder is None:
                folder = Path(tempfile.mkdtemp(prefix="agent-sandbox-"))
                (folder / "tmp").mkdir()
                (folder / "dev").mkdir()  # where the Landlock launcher builds its /dev
                blank = folder / "blank"
                blank.touch()
                blank.chmod(0)
                shared.folder = folder
            return shared.folder

    def close(self) -> None:
        """Remove the session's temp folder."""
        folder, self._shared.folder = self._shared.folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
