"""Alerts an operator can live with: repeats limited by repeatMinutes with a count, `recovered`, `stalled`,
`budget` once a day, and an HMAC-SHA256 signature a receiver can verify."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.cron.history import RunHistory
from agent.cron.task import CronTask
from agent.engine.conversation import TurnResult
from agent.engine.events import Usage
from agent.runs.notify import SIGNATURE_HEADER, Notifier
from agent.runs.recorder import RunRecorder

T0 = 1_790_000_000_000
MIN = 60_000


class Sent:
    def __init__(self, config: dict | None = None) -> None:
        self.sent: list[tuple[str, dict]] = []
        self._config = config or {"webhook": "http://127.0.0.1:9/unused"}

    def config(self) -> dict:
        return self._config

    def send(self, kind: str, fields: dict) -> None:
        self.sent.append((kind, dict(fields)))

    def kinds(self) -> list[str]:
        return [k for k, _ in self.sent]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def db(tmp_path: Path):
    history = RunHistory(tmp_path / "h.db")
    yield history
    history.close()


def task(task_id: str = "aaaa0001", **extra) -> CronTask:
    return CronTask(id=task_id, cron="* * * * *", prompt="check", createdAt=T0, recurring=True, **extra)


def recorder_for(db, clock, alerts, settings=None, followers=None) -> RunRecorder:
    cron = settings or {"breaker": {"failures": 0}}
    return RunRecorder(Path("/p"), {}, source="daemon", cron_settings=lambda: cron, notifier=alerts, clock=clock,
                       history=db, followers=followers)  # type: ignore[arg-type]


async def run(recorder: RunRecorder, ok: bool, the_task: CronTask | None = None):
    turn = (TurnResult(result_text="fine", num_requests=1, usage=Usage(10, 1), cost_usd=0.01) if ok else
            TurnResult(num_requests=1, usage=Usage(10, 0), cost_usd=0.01, is_error=True, error="boom"))
    tracker = await recorder.start(the_task or task(), scheduled_ms=recorder.now_ms())
    return await recorder.finish(tracker, turn)


async def test_repeated_failures_alert_first_then_at_most_once_per_repeat_minutes_with_the_count(db):
    clock, alerts = Clock(), Sent({"webhook": "http://x", "repeatMinutes": 60})
    recorder = recorder_for(db, clock, alerts)
    for minute in range(0, 61):  # a failing every-minute task for an hour and a minute
        clock.now = T0 + minute * MIN
        await run(recorder, ok=False)
    failed = [f for k, f in alerts.sent if k == "failed"]
    assert len(failed) == 2
    assert failed[0]["sinceLastAlert"] == 1 and failed[1]["sinceLastAlert"] == 60 and failed[1]["failures"] == 61


async def test_the_first_success_after_failures_alerts_recovered_and_a_new_failure_alerts_at_once(db):
    clock, alerts = Clock(), Sent()
    recorder = recorder_for(db, clock, alerts)
    await run(recorder, ok=False)
    clock.now += MIN
    await run(recorder, ok=False)
    clock.now += MIN
    await run(recorder, ok=True)
    clock.now += MIN
    await run(recorder, ok=True)  # already well: no second "recovered"
    clock.now += MIN
    await run(recorder, ok=False)
    assert alerts.kinds() == ["failed", "recovered", "failed"]
    assert alerts.sent[1][1]["failures"] == 2


async def test_a_follower_of_a_failing_or_paused_upstream_is_alerted_stalled(db):
    clock, alerts = Clock(), Sent()
    recorder = recorder_for(db, clock, alerts, {"breaker": {"failures": 2}},
                            followers=lambda task_id: ["bbbb0002"] if task_id == "aaaa0001" else [])
    await run(recorder, ok=False)
    clock.now += MIN
    await run(recorder, ok=False)  # the breaker opens: paused
    kinds = alerts.kinds()
    assert kinds == ["failed", "stalled", "paused"]
    stalled = alerts.sent[1][1]
    assert stalled["taskId"] == "bbbb0002" and stalled["upstream"] == "aaaa0001"
    assert "failing" in stalled["upstreamState"]


async def test_a_spent_daily_budget_alerts_once_a_day(db):
    clock, alerts = Clock(), Sent()
    recorder = recorder_for(db, clock, alerts, {"dailyTokenBudget": 5})
    await run(recorder, ok=True)  # 11 tokens: the budget is spent
    for _ in range(3):
        clock.now += MIN
        blocked = await recorder.gate(task())
        assert blocked is not None and blocked[0] == "skipped"
    assert alerts.kinds().count("budget") == 1
    clock.now += 86_400_000
    await run(recorder, ok=True)
    await recorder.gate(task())
    assert alerts.kinds().count("budget") == 2


class SigningReceiver:
    def __init__(self) -> None:
        self.got: list[tuple[bytes, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.got.append((raw, self.headers.get(SIGNATURE_HEADER)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def test_with_a_secret_the_webhook_carries_a_verifiable_hmac_sha256_signature():
    receiver = SigningReceiver()
    try:
        Notifier(lambda: {"webhook": receiver.url, "secret": "s3cret"}, "/p").send("failed", {"taskId": "a"})
        Notifier(lambda: {"webhook": receiver.url}, "/p").send("failed", {"taskId": "b"})
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    (body, header), (_, unsigned) = receiver.got
    # the receiver's check, as the README shows it
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, header)
    assert json.loads(body)["taskId"] == "a" and unsigned is None
