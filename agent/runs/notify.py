"""Alerts for unattended runs: `cron.notify` {"webhook": URL, "command": "...", "secret": "...",
"repeatMinutes": 60} in settings.

Called on a failed run (the recorder de-duplicates repeats), a pause, a resume, a recovery, a stall of a
follower, a spent daily budget and a gap. With `secret`, each webhook POST carries the header
`X-Agent-Signature-256: sha256=<hex HMAC-SHA256 of the exact body bytes>` (GitHub's scheme), so a
receiver can check that the alert came from whoever holds the secret. The body is JSON that Slack's
incoming webhooks and generic receivers accept: `text` (one line for a human) plus structured fields. Delivery runs in a
worker thread with a short timeout and one retry, and never delays firing: `send()` returns at once.
A receiver that keeps failing is logged once, not on every run.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import shlex
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["SIGNATURE_HEADER", "Notifier", "alert_body", "repeat_minutes", "signature"]

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
RETRY_AFTER_S = 1.0
COMMAND_TIMEOUT_S = 30.0


def alert_body(kind: str, fields: Mapping[str, Any], *, project: str, now_ms: int) -> dict[str, Any]:
    """`text` for people and chat apps, then the fields for scripts."""
    task = fields.get("taskId", "?")
    texts = {
        "failed": f"agent: scheduled task {task} failed: {fields.get('error') or fields.get('status')}",
        "paused": f"agent: scheduled task {task} paused after repeated failures: {fields.get('error')}",
        "resumed": f"agent: scheduled task {task} resumed",
        "gap": f"agent: scheduled task {task} did not run when due ({fields.get('reason')})",
        "recovered": f"agent: scheduled task {task} recovered: a run succeeded after "
                     f"{fields.get('failures')} failed run(s)",
        "stalled": f"agent: scheduled task {task} is stalled: it follows {fields.get('upstream')}, which is "
                   f"{fields.get('upstreamState')}",
        "budget": f"agent: the daily budget of scheduled runs is spent ({fields.get('reason')}); "
                  "fires are skipped until midnight",
    }
    if kind == "failed" and (fields.get("failures") or 0) > 1:
        texts["failed"] += f" ({fields['failures']} failures in a row; repeats alerted at most every " \
                           f"{fields.get('repeatMinutes')} min)"
    return {"text": texts.get(kind, f"agent: {kind} for task {task}"), "event": kind, **fields,
            "host": socket.gethostname(), "project": project, "time": now_ms}


DEFAULT_REPEAT_MINUTES = 60


def repeat_minutes(config: Any) -> float:
    """`cron.notify.repeatMinutes`: the least time between two alerts of one task's repeated failures."""
    value = config.get("repeatMinutes") if isinstance(config, Mapping) else None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return float(value) if ok else DEFAULT_REPEAT_MINUTES


class Notifier:
    """Sends alerts as configured by `config()` (read on every alert, so a settings reload applies)."""

    def __init__(self, config: Callable[[], Any], project: str, *,
                 clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        self._config = config
        self._project = project
        self._clock = clock
        self._failing: set[str] = set()
        self._pending: set[asyncio.Task] = set()

    def config(self) -> Any:
        return self._config()

    def send(self, kind: str, fields: Mapping[str, Any]) -> None:
        """Queue one alert in the background; nothing to do when nothing is configured."""
        config = self._config()
        if not isinstance(config, Mapping) or not (config.get("webhook") or config.get("command")):
            return
        body = alert_body(kind, fields, project=self._project, now_ms=self._clock())
        try:
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(self.deliver, dict(config), body))
        except RuntimeError:  # no loop (a plain CLI command): deliver here, it is short
            self.deliver(dict(config), body)
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self, timeout_s: float = TIMEOUT_S * 2 + RETRY_AFTER_S) -> None:
        """Wait a little for alerts still on their way (at shutdown)."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)

    def deliver(self, config: Mapping[str, Any], body: dict[str, Any]) -> None:
        """In a worker thread: POST to the webhook (one retry), run the command. Never raises."""
        url = config.get("webhook")
        if isinstance(url, str) and url:
            secret = config.get("secret")
            self._report("webhook", _post_with_retry(url, body, secret if isinstance(secret, str) else None))
        command = config.get("command")
        if isinstance(command, str) and command.strip():
            self._report("command", _run_command(command, body))

    def _report(self, channel: str, problem: str | None) -> None:
        if problem is None:
            self._failing.discard(channel)
        elif channel not in self._failing:
            self._failing.add(channel)
            log.warning("cron.notify %s failed: %s (further failures are not logged until it works again)",
                        channel, problem)


SIGNATURE_HEADER = "X-Agent-Signature-256"


def signature(secret: str, data: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the body bytes with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def _post_with_retry(url: str, body: dict[str, Any], secret: str | None = None) -> str | None:
    if not url.startswith(("https://", "http://")):
        return f"{url!r} is not an http(s) URL"
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "agent"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, data)
    problem: str | None = None
    for attempt in range(2):
        if attempt:
            time.sleep(RETRY_AFTER_S)
        request = urllib.request.Request(url, data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # scheme checked above
                response.read(4096)
            return None
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code} from {url}"
        except (urllib.error.URLError, OSError) as exc:
            problem = f"{url} unreachable ({getattr(exc, 'reason', exc)})"
    return problem


def _run_command(command: str, body: dict[str, Any]) -> str | None:
    """The command gets the JSON body on stdin; it is split into words, never given to a shell."""
    try:
        argv = shlex.split(command)
        done = subprocess.run(argv, input=json.dumps(body, ensure_ascii=False), text=True, capture_output=True,
                              timeout=COMMAND_TIMEOUT_S, check=False)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        return f"{command!r} could not run ({exc})"
    return None if done.returncode == 0 else f"{command!r} exited with status {done.returncode}"
