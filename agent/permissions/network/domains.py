"""Which hosts a sandboxed command may reach: `sandbox.network.allowedDomains` in Claude Code's form.

Pure (no sockets, no clock). An entry is a host (`github.com`), a wildcard (`*.npmjs.org`: subdomains
only, not `npmjs.org` itself), an IP address (`127.0.0.1`, `::1` or `[::1]`), each with an optional
`:port` that limits it to that port (without one it matches every port). Hosts are compared after one
normalisation, the same for entries and requests: lower case, one trailing dot dropped, international
names in IDNA (punycode) form, IP addresses in their canonical form. The proxy connects to the
normalised host it matched, never to the text it was sent, so spelling tricks cannot reach a host
other than the one judged: what cannot be normalised without doubt (`127.1`, `0x7f.0.0.1`, a zone id,
`user@host`) is refused.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_HOST_CHARS = 253
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
_PORT = re.compile(r"[0-9]{1,5}")
# "localhost" names the loopback interface by convention: every address below it is loopback too.
LOOPBACK_NAMES = ("localhost",)


class BadHost(ValueError):
    """A host or authority that cannot be judged without doubt; the message says why."""


@dataclass(frozen=True)
class DomainRule:
    """One allowedDomains entry, normalised. `port` None means every port."""

    host: str  # the exact host, or the base of a wildcard (without its `*.`)
    wildcard: bool = False
    port: int | None = None

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.wildcard:
            return host.endswith("." + self.host)
        return host == self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and self.port is not None else self.host
        text = f"*.{host}" if self.wildcard else host
        return f"{text}:{self.port}" if self.port is not None else text


def _ip(text: str) -> str | None:
    """The canonical form of an IP address literal (no brackets), or None when it is not one."""
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


def normalize_host(raw: str) -> str:
    """A host as the proxy judges and reaches it. IPv6 addresses come bracketed or bare (entries);
    raises BadHost for anything ambiguous."""
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
        if "%" in text:
            raise BadHost(f"{raw!r}: an IPv6 zone id is not accepted")
        ip = _ip(text)
        if ip is None or ":" not in ip:
            raise BadHost(f"{raw!r} is not an IPv6 address")
        return ip
    if ":" in text:
        ip = _ip(text)
        if ip is None or "%" in text:
            raise BadHost(f"{raw!r} is not a host name")
        return ip
    host = text.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise BadHost("empty host")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise BadHost(f"{raw!r} is not a valid international domain name") from None
    if len(host) > MAX_HOST_CHARS:
        raise BadHost(f"host name longer than {MAX_HOST_CHARS} characters")
    labels = host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise BadHost(f"{raw!r} is not a host name")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # A name ending in a number is an IPv4 address to the resolver (inet_aton reads 127.1,
        # 0x7f.1 and 2130706433 as 127.0.0.1): only the plain dotted form is accepted.
        ip = _ip(host)
        if ip is None:
            raise BadHost(f"{raw!r} is not a plain dotted IPv4 address (write it as a.b.c.d)")
        return ip
    return host


def is_ip(host: str) -> bool:
    return _ip(host) is not None


def parse_authority(text: str, *, default_port: int | None) -> tuple[str, int]:
    """`host[:port]` or `[v6][:port]` from a request line -> (normalised host, port). Userinfo
    (`user@host`) and a missing port where none is implied are refused."""
    if "@" in text:
        raise BadHost(f"{text!r}: user names in the address are not accepted")
    if any(ch.isspace() or ord(ch) < 0x21 or ch in "/\\?#" for ch in text):
        raise BadHost(f"{text!r} is not a host and port")
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise BadHost(f"{text!r}: unclosed [")
        host_part, rest = text[: close + 1], text[close + 1 :]
        if rest and not rest.startswith(":"):
            raise BadHost(f"{text!r} is not a host and port")
        port_part = rest[1:] if rest else None
    elif ":" in text:
        host_part, port_part = text.rsplit(":", 1)
        if ":" in host_part:
            raise BadHost(f"{text!r}: write an IPv6 address in brackets")
    else:
        host_part, port_part = text, None
    if port_part is None or port_part == "":
        if default_port is None:
            raise BadHost(f"{text!r} has no port")
        port = default_port
    else:
        port = _parse_port(port_part, text)
    return normalize_host(host_part), port


def _parse_port(text: str, context: str) -> int:
    if not _PORT.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise BadHost(f"{context!r}: {text!r} is not a port (1-65535)")
    return int(text)


def parse_rule(entry: str) -> DomainRule:
    """One allowedDomains entry; raises BadHost saying what is wrong with it."""
    text = entry.strip()
    if "://" in text or "/" in text:
        raise BadHost(f"{entry!r}: write the host only (e.g. example.com), not a URL")
    wildcard = text.startswith("*.")
    if wildcard:
        text = text[2:]
    if "*" in text:
        raise BadHost(f"{entry!r}: a wildcard is only allowed as a leading *. (e.g. *.example.com)")
    if text.count(":") > 1 and not text.startswith("["):
        host, port = normalize_host(text), None  # a bare IPv6 address
    elif ":" in text:
        host_part, port_text = text.rsplit(":", 1)
        host, port = normalize_host(host_part), _parse_port(port_text, entry)
    else:
        host, port = normalize_host(text), None
    if wildcard and is_ip(host):
        raise BadHost(f"{entry!r}: a wildcard needs a domain name, not an IP address")
    return DomainRule(host, wildcard, port)


def parse_rules(entries: Iterable[object]) -> tuple[list[DomainRule], list[str]]:
    """The usable rules and one problem line per entry that was skipped (fail closed: a bad entry
    allows nothing)."""
    rules: list[DomainRule] = []
    problems: list[str] = []
    for entry in entries:
        if not isinstance(entry, str):
            problems.append(f"sandbox.network.allowedDomains: {entry!r} is not a string; skipped")
            continue
        try:
            rules.append(parse_rule(entry))
        except BadHost as exc:
            problems.append(f"sandbox.network.allowedDomains: {exc}; skipped")
    return rules, problems


class AllowList:
    """The rules in force: those from settings plus any the user added in this session."""

    def __init__(self, rules: Iterable[DomainRule] = ()) -> None:
        self._rules: list[DomainRule] = list(rules)

    @classmethod
    def from_entries(cls, entries: Iterable[object]) -> AllowList:
        return cls(parse_rules(entries)[0])

    @property
    def rules(self) -> tuple[DomainRule, ...]:
        return tuple(self._rules)

    def add(self, rule: DomainRule) -> None:
        if rule not in self._rules:
            self._rules.append(rule)

    def allows(self, host: str, port: int) -> bool:
        """Whether the normalised `host` on `port` is listed."""
        return any(rule.matches(host, port) for rule in self._rules)


def is_local_address(address: str) -> bool:
    """Loopback, or the unspecified address (which Linux connects to this machine)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified
