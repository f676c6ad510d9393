"""sandbox.network.allowedDomains in Claude Code's form, and the one normalisation of hosts that the
proxy judges and connects to (hostile spellings refused rather than guessed)."""

from __future__ import annotations

import pytest

from agent.permissions.network.domains import (
    AllowList,
    BadHost,
    DomainRule,
    normalize_host,
    parse_authority,
    parse_rule,
    parse_rules,
)


@pytest.mark.parametrize(("raw", "normal"), [
    ("Example.COM", "example.com"),
    ("example.com.", "example.com"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("ｅxample.com", "example.com"),  # fullwidth letters: judged and reached as example.com
    ("127.0.0.1", "127.0.0.1"),
    ("[::1]", "::1"),
    ("[0:0:0:0:0:0:0:1]", "::1"),
    ("::1", "::1"),
    ("under_score.example", "under_score.example"),
])
def test_hosts_are_normalised_once(raw: str, normal: str) -> None:
    assert normalize_host(raw) == normal


@pytest.mark.parametrize("raw", [
    "127.1",  # inet_aton reads these as 127.0.0.1: a listed name must not be reachable by a spelling
    "0x7f.0.0.1",
    "2130706433",
    "017700000001",
    "01.2.3.4",
    "[fe80::1%eth0]",
    "a..b",
    "",
    ".",
    "exa mple.com",
    "ex%61mple.com",
    "-x-.com" + "a" * 300,
])
def test_ambiguous_or_malformed_hosts_are_refused(raw: str) -> None:
    with pytest.raises(BadHost):
        normalize_host(raw)


@pytest.mark.parametrize(("text", "default", "expected"), [
    ("example.com:443", None, ("example.com", 443)),
    ("[::1]:8080", None, ("::1", 8080)),
    ("example.com", 80, ("example.com", 80)),
    ("EXAMPLE.com.:80", None, ("example.com", 80)),
])
def test_authorities_parse(text: str, default: int | None, expected: tuple[str, int]) -> None:
    assert parse_authority(text, default_port=default) == expected


@pytest.mark.parametrize("text", [
    "example.com",  # CONNECT needs a port
    "allowed.com@evil.com:443",
    "user:pw@example.com:80",
    "example.com:0",
    "example.com:65536",
    "example.com:+80",
    "example.com: 80",
    "::1:443",  # IPv6 without brackets is ambiguous with a port
    "[::1]x:443",
    "example.com\\@evil.com:443",
])
def test_hostile_authorities_are_refused(text: str) -> None:
    with pytest.raises(BadHost):
        parse_authority(text, default_port=None)


def test_wildcard_matches_subdomains_only_as_claude_code_does() -> None:
    rule = parse_rule("*.example.com")
    assert rule.matches("api.example.com", 443)
    assert rule.matches("a.b.example.com", 80)
    assert not rule.matches("example.com", 443)
    assert not rule.matches("evilexample.com", 443)
    assert not rule.matches("example.com.evil.net", 443)


def test_a_port_limits_an_entry_to_that_port_and_none_means_every_port() -> None:
    allow = AllowList.from_entries(["localhost:8080", "github.com"])
    assert allow.allows("localhost", 8080)
    assert not allow.allows("localhost", 8081)
    assert allow.allows("github.com", 22)
    assert allow.allows("github.com", 443)


def test_entries_are_normalised_like_requests() -> None:
    allow = AllowList.from_entries(["GitHub.com.", "[::1]:80", "bücher.de"])
    assert allow.allows("github.com", 443)
    assert allow.allows("::1", 80)
    assert allow.allows(normalize_host("BÜCHER.de"), 443)
    assert str(parse_rule("[::1]:80")) == "[::1]:80"
    assert str(parse_rule("*.Example.com")) == "*.example.com"


def test_bad_entries_allow_nothing_and_say_why() -> None:
    rules, problems = parse_rules(["*", "https://example.com", "*.10.0.0.1", "127.1", 42, "ok.example"])
    assert rules == [DomainRule("ok.example")]
    assert len(problems) == 5
    assert all(p.startswith("sandbox.network.allowedDomains:") and p.endswith("skipped") for p in problems)
    assert any("not a URL" in p for p in problems)


def test_loopback_is_a_domain_like_any_other() -> None:
    assert not AllowList.from_entries(["example.com"]).allows("127.0.0.1", 80)
    assert not AllowList.from_entries(["127.0.0.1"]).allows("localhost", 80)
    assert AllowList.from_entries(["localhost"]).allows("localhost", 80)
