"""The OS sandbox for the Bash commands the model runs (a room of the security boundary).

`config` reads the `sandbox` settings (Claude Code's names); `policy` turns them and the run into a
SandboxPolicy (what is writable, the read-only carve-outs, the hidden paths, the environment, the
network); `backends` turns a policy into an argv for bubblewrap or for our Landlock launcher
(`launcher.py`, `native.py`, `seccomp.py`: standard library only); `runner.SandboxRunner` is what the
Bash tool gets through its ToolContext; `explain` words a refusal for the model; `report` is
`agent sandbox` and `/sandbox`; `macos` writes a Seatbelt profile (not wired in: untested). Re-exports are
lazy (PEP 562), so importing the package costs nothing until a sandbox is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import lazy_exports

_EXPORTS = {
    "SandboxSettings": "config",
    "NetworkPolicy": "policy",
    "SandboxPolicy": "policy",
    "build_policy": "policy",
    "SandboxRunner": "runner",
    "SandboxUnavailable": "runner",
    "Probe": "backends",
    "plan_mounts": "backends",
    "explain_failure": "explain",
    "describe_sandbox": "report",
    "seatbelt_profile": "macos",
}

__all__ = [
    "NetworkPolicy",
    "Probe",
    "SandboxPolicy",
    "SandboxRunner",
    "SandboxSettings",
    "SandboxUnavailable",
    "build_policy",
    "describe_sandbox",
    "explain_failure",
    "plan_mounts",
    "seatbelt_profile",
]

if TYPE_CHECKING:
    from agent.permissions.sandbox.backends import Probe, plan_mounts
    from agent.permissions.sandbox.config import SandboxSettings
    from agent.permissions.sandbox.explain import explain_failure
    from agent.permissions.sandbox.macos import seatbelt_profile
    from agent.permissions.sandbox.policy import NetworkPolicy, SandboxPolicy, build_policy
    from agent.permissions.sandbox.report import describe_sandbox
    from agent.permissions.sandbox.runner import SandboxRunner, SandboxUnavailable

__getattr__ = lazy_exports(__name__, _EXPORTS)
