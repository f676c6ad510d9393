"""Alerts (`cron.notify`) against a loopback HTTP server: the body, one retry, a failure logged once."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.runs import notify
from agent.runs.notify import Notifier


class Receiver:
    """A webhook on 127.0.0.1 that answers with the statuses given, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.bodies: list[dict] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def quick_retry(monkeypatch):
    monkeypatch.setattr(notify, "RETRY_AFTER_S", 0.01)


FIELDS = {"taskId": "aaaa0001", "prompt": "check", "status": "error", "error": "boom", "runId": "r1"}


async def test_a_failed_run_posts_slack_compatible_json_with_the_structured_fields(receiver):
    notifier = Notifier(lambda: {"webhook": receiver.url}, "/home/me/shop", clock=lambda: 123)
    notifier.send("failed", FIELDS)
    await notifier.drain()
    body = receiver.bodies[0]
    assert body["text"].startswith("agent: scheduled task aaaa0001 failed: boom")
    assert {k: body[k] for k in FIELDS} == FIELDS
    assert body["event"] == "failed" and body["project"] == "/home/me/shop" and body["time"] == 123
    assert body["host"]


async def test_a_refused_delivery_is_retried_once():
    receiver = Receiver([500])
    try:
        notifier = Notifier(lambda: {"webhook": receiver.url}, "p")
        notifier.send("paused", FIELDS)
        await notifier.drain()
        assert len(receiver.bodies) == 2
    finally:
        receiver.close()


async def test_a_failing_webhook_is_logged_once_not_on_every_alert(caplog):
    receiver = Receiver([500] * 10)
    try:
        notifier = Notifier(lambda: {"webhook": receiver.url}, "p")
        for _ in range(3):
            notifier.send("failed", FIELDS)
            await notifier.drain()
        assert len(receiver.bodies) == 6
        assert caplog.text.count("cron.notify webhook failed") == 1
    finally:
        receiver.close()


async def test_sending_returns_at_once_even_when_the_receiver_hangs():
    hang = threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hang.wait(5)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        notifier = Notifier(lambda: {"webhook": f"http://127.0.0.1:{server.server_address[1]}/"}, "p")
        notifier.send("failed", FIELDS)  # must not wait for the answer
        assert len(notifier._pending) == 1 and not next(iter(notifier._pending)).done()
    finally:
        hang.set()
        await notifier.drain()
        server.shutdown()
        server.server_close()


async def test_the_command_gets_the_json_body_on_stdin(tmp_path: Path):
    out = tmp_path / "alert.json"
    script = tmp_path / "save.py"
    script.write_text(f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())")
    notifier = Notifier(lambda: {"command": f"{sys.executable} {script}"}, "p")
    notifier.send("resumed", {"taskId": "aaaa0001"})
    await notifier.drain()
    assert json.loads(out.read_text())["text"] == "agent: scheduled task aaaa0001 resumed"


async def test_nothing_is_sent_when_notify_is_not_configured_or_not_http(receiver):
    for config in (None, {}, {"webhook": "file:///etc/passwd"}):
        notifier = Notifier(lambda config=config: config, "p")
        notifier.send("failed", FIELDS)
        await notifier.drain()
    assert receiver.bodies == []
