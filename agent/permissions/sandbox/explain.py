"""What the model is told when a sandboxed command hit the sandbox's walls. Pure: reads the output.

The kernel's messages are terse (`Read-only file system`, `Permission denied`, `Could not resolve host`);
the note names the rule behind them and the way out, so the model neither retries blindly nor concludes
the project is broken.
"""

from __future__ import annotations

import re

from agent.permissions.sandbox.config import SandboxSettings
from agent.permissions.sandbox.policy import SandboxPolicy

__all__ = ["explain_failure"]

_WRITE = re.compile(r"read-only file system|resource busy|cross-device link|EROFS|EBUSY|EXDEV|"
                    r"unable to create|unable to write|cannot lock|could not lock|insufficient permission",
                    re.IGNORECASE)  # the last ones: git, which often hides the errno
_DENIED = re.compile(r"permission denied|operation not permitted|EACCES|EPERM", re.IGNORECASE)
_PROCESS = re.compile(r"no such process|ESRCH", re.IGNORECASE)
_NETWORK = re.compile(
    r"could not resolve|temporary failure in name resolution|name or service not known|network is unreachable|"
    r"no address associated|getaddrinfo|ENETUNREACH|EAI_AGAIN|failed to connect|connection refused|"
    r"unable to access|name resolution", re.IGNORECASE)


def explain_failure(output: str, policy: SandboxPolicy, settings: SandboxSettings) -> str | None:
    """A paragraph for the tool result when the output shows the sandbox refusing something; else None."""
    reasons = []
    writable = ", ".join(str(p) for p in policy.writable[:4])
    if _WRITE.search(output) or _DENIED.search(output):
        reasons.append(f"writes are allowed only in {writable}, and inside them .git, .claude and the paths of "
                       "Edit deny rules stay read-only (they cannot be moved either)")
    if _DENIED.search(output):
        hidden = [str(p) for p in policy.deny_read if str(p) in output or f"/{p.name}" in output]
        what = ", ".join(hidden) if hidden else "credentials (~/.ssh, ~/.aws, ...) and paths of Read deny rules"
        reasons.append(f"reading {what} is denied, and sockets that could reach outside (unix sockets) and "
                       "mounts are refused")
    if _PROCESS.search(output):
        reasons.append("processes outside the sandbox cannot be seen or signalled")
    if _NETWORK.search(output):
        domains = policy.network.allowed_domains
        if policy.network.enabled and domains:
            reasons.append(f"the network is limited to {', '.join(domains)} through the agent's proxy")
        else:
            reasons.append("there is no network (not even the host's localhost)")
    if not reasons:
        return None
    if settings.allow_unsandboxed:
        way_out = ("If the command really needs this, run it again with dangerouslyDisableSandbox: true; the "
                   "user is asked to approve it (refused when nobody is there to answer).")
    else:
        way_out = "Commands cannot leave the sandbox here (sandbox.allowUnsandboxedCommands is false)."
    return "The sandbox may have blocked this: " + "; ".join(reasons) + ". " + way_out
