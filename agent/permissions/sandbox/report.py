"""`agent sandbox` and `/sandbox`: what the sandbox does here, in rows of (label, value).

It says when commands are sandboxed, which backend runs them (and why the others cannot), what is
writable, what stays read-only inside that, what is hidden, the network, and what a backend lacks.
"""

from __future__ import annotations

import os
from pathlib import Path

from agent.permissions.sandbox.backends import SandboxSetupError, plan_mounts
from agent.permissions.sandbox.policy import SECRET_ENV
from agent.permissions.sandbox.runner import SandboxRunner

__all__ = ["describe_sandbox", "sandbox_rows"]

TEMP_PLACEHOLDER = Path(os.environ.get("TMPDIR") or "/tmp") / "agent-sandbox-<session>" / "tmp"


def _when(runner: SandboxRunner) -> list[tuple[str, str]]:
    enabled = runner.settings.enabled
    if enabled is None:
        return [("Chat and agent -p", "not sandboxed (sandbox.enabled is not set; Claude Code's default)"),
                ("Scheduled runs", "sandboxed (the default for unattended runs; sandbox.enabled: false turns it off)")]
    state = "sandboxed" if enabled else "not sandboxed"
    return [("Chat and agent -p", f"{state} (sandbox.enabled: {str(enabled).lower()})"),
            ("Scheduled runs", f"{state} (sandbox.enabled: {str(enabled).lower()})")]


def _backend(runner: SandboxRunner) -> list[tuple[str, str]]:
    probes = runner.all_probes()
    chosen = runner.backend
    rows = [("Backend", chosen.name if chosen is not None else
             "none: " + ("commands are refused (sandbox.failIfUnavailable)" if runner.settings.fail_if_unavailable
                         else "commands run unsandboxed, with one warning"))]
    for probe in probes:
        if not probe.available:
            rows.append((f"  {probe.name}", f"unavailable: {probe.reason}"))
        elif chosen is not None and probe.name == chosen.name:
            for gap in probe.missing:
                rows.append((f"  {probe.name} lacks", gap))
        else:
            rows.append((f"  {probe.name}", "available"))
    rows.append(("  macOS sandbox-exec", "profile written, untested (no macOS machine); not used on Linux"))
    return rows


def sandbox_rows(runner: SandboxRunner) -> list[tuple[str, str]]:
    policy = runner.policy(TEMP_PLACEHOLDER)
    try:
        plan = plan_mounts(policy)
    except SandboxSetupError as exc:
        return [*_when(runner), *_backend(runner), ("Cannot start", f"{exc}: every sandboxed command is refused")]
    settings = runner.settings
    net = policy.network
    chosen = runner.backend
    if net.enabled and chosen is not None and chosen.name == "landlock-only":
        network = "none: the landlock-only backend has no network namespace to run the proxy's relay in"
    elif net.enabled:
        network = (f"only {', '.join(net.allowed_domains)}, through the agent's proxy" if net.allowed_domains
                   else "no domain listed yet: each new one is asked about in the chat (through the agent's proxy)")
    elif net.allowed_domains:
        network = (f"none: sandbox.network.allowedDomains ({', '.join(net.allowed_domains)}) needs the agent's "
                   "proxy, which is not running")
    else:
        network = "none (not even the host's localhost); add sandbox.network.allowedDomains"
    hidden = [*plan.deny_dirs, *plan.deny_files]
    absent_carve = [str(p) for p in policy.read_only if not os.path.lexists(p) and p.name != ".claude"]
    rows = [*_when(runner), *_backend(runner),
            ("Writable", ", ".join([*(p for p in plan.writable if p != str(TEMP_PLACEHOLDER)),
                                    f"{TEMP_PLACEHOLDER} (TMPDIR, private to the session)"])),
            ("Read-only inside", ", ".join([*plan.read_only, *([] if os.path.lexists(policy.project_dir / ".claude")
                                            else [f"{policy.project_dir / '.claude'} (made empty on first use)"])])
             or "nothing"),
            ("Hidden (no reads)", ", ".join(hidden) or "nothing that exists")]
    if absent_carve:
        rows.append(("Not protected (absent)", ", ".join(absent_carve) + " (a sandboxed command could create them)"))
    skipped = [line for line in plan.skipped if not line.startswith(str(TEMP_PLACEHOLDER))]
    if skipped:
        rows.append(("Skipped", "; ".join(skipped)))
    patterns = [p for p in (*policy.read_only_patterns, *policy.deny_read_patterns) if not p.endswith("/.git")]
    if patterns:
        rows.append(("Wildcard rules", ", ".join(patterns) + " (expanded when a command starts, re-read at most "
                     "every 30 s, at most 1000 paths each)"))
    rows += [
        ("Network", network),
        ("Environment", f"without {', '.join(sorted(SECRET_ENV))}"),
        ("Processes", "all end with the command (killed by the launcher, a child subreaper); none outside can "
         "be signalled" if chosen is not None and chosen.name == "landlock-only" else
         "all end with the command (own pid namespace); none outside can be seen or signalled"),
        ("autoAllowBashIfSandboxed", _yes(settings.auto_allow)),
        ("excludedCommands", ", ".join(settings.excluded_commands) or "none"),
        ("allowUnsandboxedCommands", _yes(settings.allow_unsandboxed) + " (dangerouslyDisableSandbox always asks)"),
        ("failIfUnavailable", _yes(settings.fail_if_unavailable)),
    ]
    rows += [("Settings problem", problem) for problem in settings.problems]
    return rows


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def describe_sandbox(runner: SandboxRunner) -> str:
    rows = sandbox_rows(runner)
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)
