"""The sandbox's network: no network for a sandboxed command, except the hosts allowed through a proxy.

`domains` reads `sandbox.network.allowedDomains` in Claude Code's form (exact hosts, `*.` wildcards,
IP addresses, an optional `:port`) and normalises hosts so that one spelling is judged and reached;
`http_head` reads and checks one proxy request; `byte_pipes` moves the bytes; `proxy` is
`DomainProxy`, the asyncio proxy on a unix socket that allows, asks or refuses each host and records
refusals (`NetworkDenial`); `service` hosts one session's proxy on its own thread (`NetworkService`);
`gate` is `NetworkGate`, what the sandbox asks before and after each command; `remember` saves an
"always" answer in the project's `.claude/settings.local.json`; `relay` runs inside the sandbox
(standard library only) and forwards 127.0.0.1 to that socket. It imports nothing above
`agent.permissions`; the re-exports are lazy (PEP 562) so `relay` stays quick to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import lazy_exports

_EXPORTS = {
    "AllowList": "domains",
    "BadHost": "domains",
    "DomainRule": "domains",
    "normalize_host": "domains",
    "parse_rules": "domains",
    "DomainProxy": "proxy",
    "HostDecision": "proxy",
    "AskHost": "proxy",
    "NetworkDenial": "proxy",
    "relay_command": "relay",
    "relay_template": "relay",
    "NetworkService": "service",
    "NetworkGate": "gate",
    "remember_domain": "remember",
    "RememberError": "remember",
}

__all__ = [
    "AllowList",
    "AskHost",
    "BadHost",
    "DomainProxy",
    "DomainRule",
    "HostDecision",
    "NetworkDenial",
    "NetworkGate",
    "NetworkService",
    "RememberError",
    "normalize_host",
    "parse_rules",
    "relay_command",
    "relay_template",
    "remember_domain",
]

if TYPE_CHECKING:
    from agent.permissions.network.domains import AllowList, BadHost, DomainRule, normalize_host, parse_rules
    from agent.permissions.network.gate import NetworkGate
    from agent.permissions.network.proxy import AskHost, DomainProxy, HostDecision, NetworkDenial
    from agent.permissions.network.relay import relay_command, relay_template
    from agent.permissions.network.remember import RememberError, remember_domain
    from agent.permissions.network.service import NetworkService

__getattr__ = lazy_exports(__name__, _EXPORTS)
