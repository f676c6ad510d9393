"""What a sandboxed command may touch: the SandboxPolicy, built from settings and the run. Pure: paths are
joined and normalised here, never looked up on disk (the backends resolve symlinks and skip what is absent).

- writable: the project folder (an isolated run: its worktree only), the session's private temp folder
  (TMPDIR points at it) and `sandbox.filesystem.allowWrite`;
- read_only: carve-outs inside the writable roots that stay read-only: `.git` (the runner commits an
  isolated run's work after it, outside the sandbox), all of `.claude/` (settings, commands, the tasks file
  and its lock), `.mcp.json`, and every path an Edit deny rule names;
- deny_read: Read deny rules, the user's credentials folders and `sandbox.filesystem.denyRead`: hidden
  (an unreadable empty folder or file is mounted over them);
- the environment loses every secret the agent holds (the API key, the auth token);
- network: a NetworkPolicy. `proxy_socket` None means no network at all, the host's loopback included.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent.permissions.sandbox.config import SandboxSettings

__all__ = [
    "CREDENTIAL_PATHS",
    "SECRET_ENV",
    "NetworkPolicy",
    "SandboxPolicy",
    "build_policy",
    "rule_paths",
]

CREDENTIAL_PATHS = ("~/.ssh", "~/.aws", "~/.config/gcloud", "~/.netrc", "~/.gnupg", "~/.docker/config.json",
                    "~/.kube/config", "~/.git-credentials", "~/.config/gh/hosts.yml", "~/.pypirc", "~/.npmrc",
                    "~/.claude/.credentials.json", "~/.azure")
PROTECTED_IN_PROJECT = (".git", ".claude", ".mcp.json")
SECRET_ENV = frozenset({"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
                        "AWS_BEARER_TOKEN_BEDROCK"})
# Variables a proxy would be named in: cleared when there is no proxy, set to the relay when there is one.
PROXY_ENV = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
             "NO_PROXY", "no_proxy")
_WILDCARD = re.compile(r"[*?\[{]")


@dataclass(frozen=True)
class NetworkPolicy:
    """The network a sandboxed command sees.

    proxy_socket None: none (an empty network namespace; only its own loopback).

    NETWORK HOOK (the allow-list proxy): with `proxy_socket` set, the launcher starts `relay` (an argv)
    inside the sandbox, before the command and before the seccomp filter that forbids new unix sockets.
    The relay listens on 127.0.0.1:`proxy_port` in the sandbox's own network namespace and forwards each
    connection to the unix socket `proxy_socket` (bound into the sandbox) where the agent's proxy checks
    the domain against `allowed_domains`. The command gets HTTP(S)_PROXY / ALL_PROXY pointing at the
    relay. The launcher waits until the port is listening (read from /proc/net/tcp, no test connection;
    at most RELAY_READY_S) before the command runs; the relay dies with the command (pid namespace).
    The relay is confined like the command (mounts, Landlock, no capabilities) except for the seccomp
    filter: it may open unix sockets, the command may not.
    """

    allowed_domains: tuple[str, ...] = ()
    proxy_socket: Path | None = None
    relay: tuple[str, ...] = ()  # argv run inside; `{socket}` and `{port}` in it are filled in
    proxy_port: int = 3128

    @property
    def enabled(self) -> bool:
        return self.proxy_socket is not None

    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def relay_argv(self) -> list[str]:
        return [part.replace("{socket}", str(self.proxy_socket)).replace("{port}", str(self.proxy_port))
                for part in self.relay]


@dataclass(frozen=True)
class SandboxPolicy:
    project_dir: Path
    temp_dir: Path  # private to the session; TMPDIR inside
    writable: tuple[Path, ...]
    read_only: tuple[Path, ...]
    deny_read: tuple[Path, ...]
    network: NetworkPolicy = field(default_factory=NetworkPolicy)
    scrub_env: frozenset[str] = SECRET_ENV
    # rule patterns with wildcards: the backends expand them when the sandbox starts
    read_only_patterns: tuple[str, ...] = ()
    deny_read_patterns: tuple[str, ...] = ()

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """The command's environment: secrets removed, TMPDIR private, the proxy (or none) named."""
        clean = {key: value for key, value in env.items()
                 if key not in self.scrub_env and key not in PROXY_ENV}
        for name in ("TMPDIR", "TMP", "TEMP"):
            clean[name] = str(self.temp_dir)
        if self.network.enabled:
            url = self.network.proxy_url()
            for name in PROXY_ENV[:6]:
                clean[name] = url
        clean["AGENT_SANDBOX"] = "1"
        return clean


def expand(spec: str, project_dir: Path, home: Path) -> Path:
    """A path from a sandbox setting: `//abs` and `/abs` absolute, `~/x` in the home, else in the project."""
    if spec.startswith("//"):
        return Path(os.path.normpath("/" + spec[2:]))
    if spec == "~" or spec.startswith("~/"):
        return Path(os.path.normpath(home / spec[2:]))
    if spec.startswith("/"):
        return Path(os.path.normpath(spec))
    return Path(os.path.normpath(project_dir / spec))


def rule_paths(specifiers: Iterable[str], project_dir: Path, home: Path) -> tuple[list[Path], list[str]]:
    """Read/Edit rule specifiers as paths: (paths without wildcards, patterns with them). Claude Code's
    rule roots: `//abs`, `~/x`, `/x` and `./x` in the project, a bare name at any depth of the project."""
    paths, patterns = [], []
    for spec in specifiers:
        if spec.startswith("//"):
            root, rest = Path("/"), spec[2:]
        elif spec.startswith("~/"):
            root, rest = home, spec[2:]
        elif spec.startswith(("/", "./")):
            root, rest = project_dir, spec.split("/", 1)[1]
        else:
            root, rest = project_dir, spec if "/" in spec.rstrip("/") else f"**/{spec}"
        rest = rest.rstrip("/")
        if rest.endswith("/**"):
            rest = rest[:-3]  # `dir/**` hides the folder itself
        if _WILDCARD.search(rest):
            patterns.append(str(root / rest))
        else:
            paths.append(Path(os.path.normpath(root / rest)))
    return paths, patterns


def build_policy(project_dir: Path, settings: SandboxSettings, *, home: Path, temp_dir: Path,
                 read_deny: Iterable[str] = (), edit_deny: Iterable[str] = (),
                 network: NetworkPolicy | None = None, extra_writable: Iterable[Path] = (),
                 extra_read_only: Iterable[Path] = ()) -> SandboxPolicy:
    """The policy of one session. `read_deny` / `edit_deny`: the specifiers of Read and Edit deny rules."""
    project_dir = Path(os.path.normpath(project_dir))
    writable = [project_dir, temp_dir, *extra_writable,
                *(expand(spec, project_dir, home) for spec in settings.allow_write)]
    edit_paths, edit_patterns = rule_paths(edit_deny, project_dir, home)
    read_paths, read_patterns = rule_paths(read_deny, project_dir, home)
    read_only = [*(project_dir / name for name in PROTECTED_IN_PROJECT), *edit_paths, *extra_read_only]
    nested_git = [str(project_dir / "*" / ".git"), str(project_dir / "*" / "*" / ".git")]  # submodules, vendored repos
    deny_read = [*(expand(spec, project_dir, home) for spec in CREDENTIAL_PATHS),
                 *(expand(spec, project_dir, home) for spec in settings.deny_read), *read_paths]
    net = network or NetworkPolicy(allowed_domains=settings.allowed_domains)
    return SandboxPolicy(project_dir=project_dir, temp_dir=temp_dir, writable=_unique(writable),
                         read_only=_unique(read_only), deny_read=_unique(deny_read), network=net,
                         read_only_patterns=tuple(nested_git + edit_patterns), deny_read_patterns=tuple(read_patterns))


def protected_in(folders: Iterable[Path]) -> list[Path]:
    """The read-only carve-outs of added folders (--add-dir): as in the project, .git and .claude stay shut."""
    return [Path(folder) / name for folder in folders for name in PROTECTED_IN_PROJECT]


def _unique(paths: Iterable[Path]) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(paths))
