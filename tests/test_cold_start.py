"""`agent -p` start-up: the TLS context built while the SDK imports (same verification, and used), and
garbage collection paused only until the model client is made."""

from __future__ import annotations

import ssl

import pytest

from agent.engine import tls
from agent.engine.llm import LLM


@pytest.fixture
def fresh_tls(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(tls, "_thread", None)
    monkeypatch.setattr(tls, "_built", {})
    return tls


def test_without_prepare_there_is_no_context_and_the_sdk_builds_its_own(fresh_tls):
    assert fresh_tls.prepared_context() is None


def test_the_prepared_context_verifies_certificates_and_host_names(fresh_tls):
    fresh_tls.prepare()
    context = fresh_tls.prepared_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 0 or context.get_ca_certs() is not None


def test_the_model_client_uses_the_prepared_context(fresh_tls, monkeypatch: pytest.MonkeyPatch):
    import httpcore2

    seen: list[object] = []
    original = httpcore2.AsyncConnectionPool.__init__

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("ssl_context"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpcore2.AsyncConnectionPool, "__init__", spy)
    fresh_tls.prepare()
    context = fresh_tls.prepared_context()
    LLM(api_key="sk-test", base_url="https://api.example.invalid")
    assert seen and all(s is context for s in seen)


def test_garbage_collection_is_back_on_after_a_p_run_that_failed_before_the_client(monkeypatch, tmp_path, capsys):
    import gc
    import io
    import sys

    from agent.cli.main import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    monkeypatch.setattr(tls, "_thread", None)
    monkeypatch.setattr(tls, "_built", {})
    assert gc.isenabled()
    try:
        assert main(["-p", "hello", "--cwd", str(tmp_path)]) == 1
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_garbage_collection_is_back_on_once_the_model_client_is_made(monkeypatch, tmp_path):
    import gc

    from agent.cli.common import pause_gc_for_start_up
    from agent.cli.headless import HeadlessRun
    from agent.cli.stream_json import OutputWriter
    from agent.engine.session import AgentSession, SessionOptions

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    session = AgentSession(tmp_path, SessionOptions(headless=True))
    try:
        pause_gc_for_start_up()
        HeadlessRun(session, OutputWriter("text", "id")).ensure_conversation()
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
