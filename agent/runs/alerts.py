"""Which alerts to send after a run, so that an operator can live with them.

- `failed`: the first failure of a task alerts at once; repeats alert at most once per
  `cron.notify.repeatMinutes` (default 60), with the number of failures since the last alert.
- `recovered`: the first successful run after failures (and the repeat counter starts again).
- `paused`: the breaker opened (always alerted: it happens once until resumed).
- `stalled`: a follower (`after`) whose upstream is failing or paused cannot fire; alerted with the
  same repeat limit, per follower.
- `budget`: once a (local) day, when the daily budget of scheduled runs is spent.

The de-duplication state is kept in the history database (`meta`), so separate processes (a daemon
restart, each `agent cron run` of an exported job) share it. Every method runs in a worker thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from agent.cron.history import RunHistory, RunRecord
from agent.runs.notify import Notifier, repeat_minutes

__all__ = ["AlertPolicy"]

log = logging.getLogger(__name__)


class AlertPolicy:
    def __init__(self, notifier: Notifier | None, followers: Callable[[str], list[str]] | None = None) -> None:
        self.notifier = notifier
        self._followers = followers

    def after_run(self, db: RunHistory | None, record: RunRecord, *, failures_before: int, failures: int,
                  opened: bool, now_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """The alerts this finished run calls for (sent by the caller, on its loop)."""
        alerts: list[tuple[str, dict[str, Any]]] = []
        fields = {"taskId": record.task_id, "prompt": record.prompt, "status": record.status,
                  "error": record.error, "runId": record.run_id}
        failed = failures > failures_before
        if failed:
            due = self._repeat_due(db, f"alert:failed:{record.task_id}", now_ms)
            if due is not None:
                alerts.append(("failed", {**fields, "failures": failures, "sinceLastAlert": due,
                                          "repeatMinutes": self._repeat_minutes()}))
        if opened:
            alerts.append(("paused", fields))
        if record.status == "ok" and failures_before > 0:
            alerts.append(("recovered", {**fields, "failures": failures_before}))
            self._forget(db, f"alert:failed:{record.task_id}")
            for follower in self._follower_ids(record.task_id):
                self._forget(db, f"alert:stalled:{follower}")
        if failed or opened:
            state = (f"paused after {failures} failed runs" if opened
                     else f"failing ({failures} failed run(s) in a row)")
            for follower in self._follower_ids(record.task_id):
                if self._repeat_due(db, f"alert:stalled:{follower}", now_ms) is not None:
                    alerts.append(("stalled", {"taskId": follower, "upstream": record.task_id,
                                               "upstreamState": state, "upstreamRunId": record.run_id}))
        return alerts

    # -- the repeat limit -------------------------------------------------------------------------------

    def _repeat_minutes(self) -> float:
        config = getattr(self.notifier, "config", None)
        return repeat_minutes(config() if callable(config) else None)

    def _repeat_due(self, db: RunHistory | None, key: str, now_ms: int) -> int | None:
        """How many events this alert stands for (1: the first), or None while within repeatMinutes."""
        if db is None:
            return 1
        state = _load(db.meta(key))
        if state is None or now_ms - state["at"] >= self._repeat_minutes() * 60_000:
            count = 1 if state is None else state["suppressed"] + 1
            db.set_meta(key, json.dumps({"at": now_ms, "suppressed": 0}))
            return count
        db.set_meta(key, json.dumps({"at": state["at"], "suppressed": state["suppressed"] + 1}))
        return None

    @staticmethod
    def _forget(db: RunHistory | None, key: str) -> None:
        if db is not None:
            db.delete_meta(key)

    def _follower_ids(self, task_id: str) -> list[str]:
        if self._followers is None:
            return []
        try:
            return self._followers(task_id)
        except Exception as exc:  # the tasks file is unreadable: no stall alerts, the run itself is fine
            log.warning("followers of %s not read: %s", task_id, exc)
            return []


def _load(raw: str | None) -> dict[str, int] | None:
    try:
        state = json.loads(raw) if raw else None
        return {"at": int(state["at"]), "suppressed": int(state["suppressed"])} if state else None
    except (ValueError, KeyError, TypeError):
        return None
