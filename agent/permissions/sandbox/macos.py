"""A Seatbelt profile for macOS `sandbox-exec` (what Claude Code uses there). NOT WIRED IN, NOT TESTED ON
macOS: there was no macOS machine to run it on, so it is written only as far as the documented SBPL
semantics can be reasoned about (later rules override earlier ones; `subpath` covers a folder and all
below it). `agent sandbox` says so. What it would give, compared with Linux:

- writes: only the writable roots, minus the carve-outs (`.git`, `.claude`, Edit deny paths);
- reads: everything except the hidden paths (reading them fails with EPERM);
- network: none, or only the agent's proxy on the host's loopback port (macOS has no network namespace:
  the relay is not needed there, the proxy itself listens on 127.0.0.1:`proxy_port`);
- processes: signals only to processes in the same sandbox. There is no pid namespace: a `setsid` or
  double-forked child CAN outlive the command (it stays sandboxed). Unix sockets are refused except the
  proxy's. Mach services: a short allow-list common tools need (an assumption, untested).
"""

from __future__ import annotations

from agent.permissions.sandbox.policy import SandboxPolicy

__all__ = ["seatbelt_argv", "seatbelt_profile"]

DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/dtracehelper")
MACH_SERVICES = ("com.apple.system.opendirectoryd.libinfo", "com.apple.system.logger",
                 "com.apple.coreservices.launchservicesd", "com.apple.SecurityServer", "com.apple.trustd.agent")


def _quote(path: object) -> str:
    text = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def seatbelt_profile(policy: SandboxPolicy) -> str:
    writable = " ".join(f"(subpath {_quote(p)})" for p in policy.writable)
    carved = " ".join(f"(subpath {_quote(p)})" for p in policy.read_only)
    hidden = " ".join(f"(subpath {_quote(p)})" for p in policy.deny_read)
    lines = [
        "(version 1)",
        "(deny default)",
        "(allow process-exec process-fork process-info* sysctl-read)",
        "(allow signal (target same-sandbox))",
        "(allow file-read*)",
        f"(allow file-write* {writable} " + " ".join(f"(literal {_quote(d)})" for d in DEVICES) + ")",
        "(allow file-ioctl (literal \"/dev/tty\"))",
        "(allow ipc-posix-shm* ipc-posix-sem)",
        "(allow mach-lookup " + " ".join(f'(global-name "{name}")' for name in MACH_SERVICES) + ")",
    ]
    if carved:
        lines.append(f"(deny file-write* {carved})")
    if hidden:
        lines.append(f"(deny file-read* file-write* {hidden})")
    if policy.network.enabled:
        lines.append(f'(allow network-outbound (remote ip "localhost:{policy.network.proxy_port}"))')
    else:
        lines.append("(deny network*)")
    return "\n".join(lines) + "\n"


def seatbelt_argv(policy: SandboxPolicy, argv: list[str]) -> list[str]:
    return ["/usr/bin/sandbox-exec", "-p", seatbelt_profile(policy), *argv]
