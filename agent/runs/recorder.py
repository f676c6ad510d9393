"""Recording scheduled runs: the one object every runner (chat, daemon, `-p` stream-json) calls.

    recorder = RunRecorder(project, env, source="daemon", cron_settings=lambda: settings.get("cron"))
    blocked = await recorder.gate(task)              # ("paused" | "skipped", reason) or None
    tracker = await recorder.start(task, scheduled_ms=fired.due_ms)
    isolated = await recorder.isolate(tracker, task) # a git worktree for `isolation: "worktree"` tasks
    turn = await conversation.run_turn(...)          # with emit=tracker.emit; inside isolated.rooted(...)
    await recorder.finish(tracker, turn)             # status, breaker, alerts; commits an isolated run

Writes go through `asyncio.to_thread` and a failure to record is logged, never raised: the history is
evidence about the runs, not a reason to stop them. Policy (status, breaker, budgets) comes from the
pure functions in `agent.cron.policy`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from agent.cron.gaps import Gap
from agent.cron.history import RunHistory, RunRecord, TaskState, new_run_id
from agent.cron.orphans import settle_orphans, this_process_start
from agent.cron.policy import (
    RunPolicy,
    breaker_should_open,
    budget_block_reason,
    failures_after_run,
    resolve_policy,
    run_status,
)
from agent.cron.service import wall_clock_ms
from agent.cron.status import find_project_gaps
from agent.cron.zone import local_zone
from agent.engine.events import Event, PermissionDenied, UsageReport
from agent.runs.alerts import AlertPolicy
from agent.runs.notify import Notifier

__all__ = ["RESULT_LINES", "RunRecorder", "RunTracker", "first_lines"]

log = logging.getLogger(__name__)

RESULT_LINES = 20
RESULT_CHARS = 4000
GAP_ALERTS = 20  # per check, so a week of downtime is not a thousand messages


def followers_of(tasks: list[Any], task_id: str) -> list[str]:
    """The ids of the tasks that follow `task_id` (`after`); malformed `after` fields are left out."""
    from agent.cron.chains import ChainError, after_of

    found = []
    for task in tasks:
        try:
            if task_id in after_of(task):
                found.append(task.id)
        except ChainError:
            continue
    return found


def first_lines(text: str, lines: int = RESULT_LINES, chars: int = RESULT_CHARS) -> str:
    kept = "\n".join(text.strip().splitlines()[:lines])[:chars]
    return kept + ("\n…" if len(kept) < len(text.strip()) else "")


def local_midnight_ms(now_ms: int, tz: tzinfo | None = None) -> int:
    """When the local day of `now_ms` began (the daily budget's window). The zone's rules, not the
    current offset: on a DST change day midnight had the other offset, an hour away."""
    now = datetime.fromtimestamp(now_ms / 1000, tz or local_zone())
    return int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1000)


def local_day(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000).astimezone().strftime("%Y-%m-%d")


def _blocked(record: RunRecord, status: str, reason: str) -> RunRecord:
    """The record of a fire that did not run: ended as it started, with no attempt."""
    record.status, record.error, record.ended_at, record.attempts = status, reason, record.started_at, 0
    return record


def slot_end_ms(cron: Any, fired: Any) -> int | None:
    """When the fired task's next slot comes (a retry must start before it); None for a one-shot."""
    task = fired.task
    if not task.recurring:
        return None
    return cron.next_fire_ms(task.with_last_fired(fired.fired_ms), fired.fired_ms)


class RunTracker:
    """One run in progress: its record, plus an `emit` that collects denials and watches tokens."""

    def __init__(self, record: RunRecord, policy: RunPolicy, inner: Callable[[Event], None] | None = None,
                 on_limit: Callable[[str], None] | None = None) -> None:
        self.record = record
        self.policy = policy
        self.limit_error: str | None = None
        self.timed_out = False  # the run's wall-clock limit stopped it (a live fire; the daemon keeps its own)
        self.isolated: Any = None  # an IsolatedRun when the task runs in its own worktree (see isolate)
        self._inner = inner
        self._on_limit = on_limit

    def add_usage(self, turn: Any) -> None:
        """Count one attempt's requests, tokens and cost (a retried run adds up its attempts)."""
        record = self.record
        record.requests += turn.num_requests
        record.input_tokens += turn.usage.input_tokens
        record.output_tokens += turn.usage.output_tokens
        cost = turn.cost_usd
        record.cost_usd = cost if record.cost_usd is None else (None if cost is None else record.cost_usd + cost)

    def emit(self, event: Event) -> None:
        if isinstance(event, PermissionDenied):
            denial = {"tool": event.name, "reason": event.reason, "rule": event.rule}
            if event.domain:  # a sandboxed command's connection refused: which host
                denial["domain"] = event.domain
            self.record.denials.append({**denial, "noAnswer": True} if event.no_answer else denial)
        elif isinstance(event, UsageReport):
            used = event.turn_usage.input_tokens + event.turn_usage.output_tokens
            limit = self.policy.max_tokens_per_run
            if limit is not None and used > limit and self.limit_error is None:
                self.limit_error = f"stopped: {used:,} tokens exceed this task's maxTokensPerRun ({limit:,})"
                if self._on_limit is not None:
                    self._on_limit(self.limit_error)
        if self._inner is not None:
            self._inner(event)


class RunRecorder:
    def __init__(self, project_dir: Path, env: Mapping[str, str], *, source: str,
                 cron_settings: Callable[[], Any] = dict, notifier: Notifier | None = None,
                 clock: Callable[[], int] = wall_clock_ms, history: RunHistory | None = None,
                 followers: Callable[[str], list[str]] | None = None) -> None:
        self.project_dir = project_dir
        self.env = dict(env)
        self.source = source
        self.notifier = notifier
        self.alerts = AlertPolicy(notifier, followers)
        self._cron_settings = cron_settings
        self._clock = clock
        self._history = history
        self._open_failed = False
        self.sandbox: Any = None  # the session's SandboxRunner (for_session), checked before each run
        self._proc_start: str | None = None  # this process's start token, read once

    @classmethod
    def for_session(cls, session: Any, *, source: str) -> RunRecorder:
        """A recorder whose policy and alerts follow `session.settings` (re-read on reload)."""
        def cron_settings() -> Any:
            cron = session.settings.get("cron")
            return cron if isinstance(cron, Mapping) else {}

        def notify() -> Any:
            return cron_settings().get("notify")

        def followers(task_id: str) -> list[str]:
            return followers_of(session.file_store.load().tasks, task_id)

        recorder = cls(session.project_dir, session.env, source=source, cron_settings=cron_settings,
                       notifier=Notifier(notify, str(session.project_dir)), followers=followers)
        recorder.sandbox = getattr(session, "sandbox", None)
        return recorder

    # -- the database, opened on first use ------------------------------------------------------------

    def history(self) -> RunHistory | None:
        if self._history is None and not self._open_failed:
            try:
                self._history = RunHistory.for_project(self.project_dir, self.env)
            except Exception as exc:  # a broken history must never stop a run
                self._open_failed = True
                log.warning("run history unavailable (%s); runs are not recorded", exc)
        return self._history

    async def query(self, method: str, *args: Any, default: Any = None, **kwargs: Any) -> Any:
        """Call a RunHistory method in a worker thread; a failure is logged and gives `default`."""
        def call() -> Any:
            db = self.history()
            return default if db is None else getattr(db, method)(*args, **kwargs)
        try:
            return await asyncio.to_thread(call)
        except Exception as exc:  # recording is evidence, not a reason to stop
            log.warning("run history: %s failed: %s", method, exc)
            return default

    async def settle_orphans(self) -> list[RunRecord]:
        """Close records left open by processes that are gone (`interrupted`): before any history view."""
        def settle() -> list[RunRecord]:
            db = self.history()
            return [] if db is None else settle_orphans(db, self._clock())
        try:
            return await asyncio.to_thread(settle)
        except Exception as exc:  # a view must still show what it can
            log.warning("settling interrupted runs failed: %s", exc)
            return []

    def now_ms(self) -> int:
        return self._clock()

    def cron_settings(self) -> Any:
        return self._cron_settings()

    def policy(self, task: Any) -> RunPolicy:
        return resolve_policy(self._cron_settings(), getattr(task, "model_extra", None) or {})

    # -- before a run ---------------------------------------------------------------------------------

    async def gate(self, task: Any) -> tuple[str, str] | None:
        """Why this fire must not run: ("paused", ...) with the circuit open, ("skipped", ...) past the
        daily budget; None when it may run. Only scheduled runs are gated, never typed turns."""
        state: TaskState = await self.query("state", task.id, default=TaskState(task.id))
        if state.paused:
            return "paused", (f"paused after {state.consecutive_failures} failed runs "
                              f"(last error: {state.last_error}); resume with: agent cron resume {task.id}")
        budget = self.policy(task).budget
        if budget.daily_tokens is None and budget.daily_cost_usd is None:
            return None
        tokens, cost = await self.query("usage_since", local_midnight_ms(self._clock()), default=(0, 0.0))
        reason = budget_block_reason(tokens, cost, budget)
        if reason is None:
            return None
        if await self.query("claim_meta", f"alert:budget:{local_day(self._clock())}", str(self._clock()),
                            default=False):
            self._send("budget", {"taskId": task.id, "reason": reason, "status": "skipped"})
        return "skipped", reason

    def new_record(self, task: Any, scheduled_ms: int | None, status: str = "running") -> RunRecord:
        if self._proc_start is None:
            self._proc_start = this_process_start() or ""
        return RunRecord(run_id=new_run_id(), task_id=task.id, prompt=task.prompt, cron=task.cron, status=status,
                         scheduled_at=scheduled_ms, started_at=self._clock(), pid=os.getpid(),
                         host=socket.gethostname(), source=self.source, proc_start=self._proc_start or None)

    async def queue(self, fires: list[Any]) -> dict[tuple[str, int], RunRecord]:
        """Record committed fires as `queued`, all in one write, before any is delivered: a crash after
        this leaves a record that the next reader closes as `interrupted`, never a silent hole.
        Keyed by (task id, fired_ms); `start` and `record_blocked` carry the record on. A fire the
        scheduler itself skipped (`fired.skipped`: a paced slot overtaken by the next) is recorded
        `skipped` with its reason in the same write, and not returned: it is never delivered."""
        records = {(f.task.id, f.fired_ms): self.new_record(f.task, f.due_ms, "queued")
                   for f in fires if not getattr(f, "skipped", None)}
        skipped = [_blocked(self.new_record(f.task, f.due_ms), "skipped", f.skipped)
                   for f in fires if getattr(f, "skipped", None)]
        await self.query("save_many", [*records.values(), *skipped])
        return records

    async def start(self, task: Any, *, scheduled_ms: int | None, emit: Callable[[Event], None] | None = None,
                    on_limit: Callable[[str], None] | None = None, record: RunRecord | None = None) -> RunTracker:
        if record is None:
            record = self.new_record(task, scheduled_ms)
        else:  # the queued record of this fire starts now
            record.status, record.started_at = "running", self._clock()
        tracker = RunTracker(record, self.policy(task), emit, on_limit)
        await self.query("save", tracker.record)
        return tracker

    async def isolate(self, tracker: RunTracker, task: Any) -> Any:
        """Give the run its own git worktree when the task asks for one (`isolation: "worktree"`): the
        IsolatedRun, else None. Raises IsolationError when it cannot; `finish` commits and cleans up."""
        from agent.runs.isolation import IsolatedRun, IsolationError

        if self.sandbox is not None:  # sandbox.failIfUnavailable: a scheduled run without one does not start
            try:
                await asyncio.to_thread(self.sandbox.require, scheduled=True)
            except RuntimeError as exc:
                raise IsolationError(f"task {task.id} not run: {exc}") from None
        run = await IsolatedRun.open(self.project_dir, self.env, task, tracker.record.run_id)
        if run is not None:
            tracker.isolated = run
            tracker.record.branch = run.branch
            await self.query("save", tracker.record)
        return run

    async def record_blocked(self, task: Any, scheduled_ms: int | None, status: str, reason: str,
                             record: RunRecord | None = None) -> RunRecord:
        """A fire that did not run (paused, over budget, overlapping, late, missed one-shot): recorded
        with its reason (closing its queued record when it has one)."""
        record = record or self.new_record(task, scheduled_ms)
        record.started_at = self._clock()
        await self.query("save", _blocked(record, status, reason))
        return record

    # -- after a run ----------------------------------------------------------------------------------

    async def finish(self, tracker: RunTracker, turn: Any = None, *, cancelled: bool = False,
                     error: str | None = None, transcript: str | None = None, timed_out: bool = False) -> RunRecord:
        """Record the end of a run, count it for the breaker, alert on failure and on a pause."""
        record = tracker.record
        record.ended_at = self._clock()
        record.transcript = transcript
        if turn is not None:
            tracker.add_usage(turn)
            record.result = first_lines(turn.result_text or "") or None
        error = tracker.limit_error or error or (turn.error if turn is not None and turn.is_error else None)
        record.error = error
        record.status = run_status(is_error=error is not None and not cancelled, cancelled=cancelled,
                                   denials=len(record.denials),
                                   result_text=(turn.result_text or "") if turn is not None else "",
                                   unanswered=sum(1 for d in record.denials if d.get("noAnswer")))
        if timed_out:
            record.status = "timeout"
        if record.status in ("denied", "no-answer") and record.denials and record.error is None:
            rules = ", ".join(sorted({d["rule"] or d["tool"] for d in record.denials}))
            what = ("permission denied" if record.status == "denied"
                    else "a permission question had no answer (nobody was at the terminal)")
            record.error = f"{what}; allow with: {rules}"
        if tracker.isolated is not None:
            ended = await tracker.isolated.end(record.status)
            record.branch, record.commit_id = ended.branch, ended.commit
            if ended.problem:
                record.error = f"{record.error}; {ended.problem}" if record.error else ended.problem
        await self.query("save", record)
        await self._count_for_breaker(record, tracker.policy)
        return record

    async def _count_for_breaker(self, record: RunRecord, policy: RunPolicy) -> None:
        state: TaskState = await self.query("state", record.task_id, default=TaskState(record.task_id))
        failures = failures_after_run(state.consecutive_failures, record.status)
        failed = failures > state.consecutive_failures
        opened = failed and not state.paused and breaker_should_open(failures, policy)
        new = TaskState(record.task_id, state.paused or opened, record.ended_at if opened else state.paused_at,
                        record.error if failed else state.last_error, failures)
        if new != state:
            await self.query("set_state", new, self._clock())
        if opened:
            log.warning("task %s paused after %d failed runs in a row", record.task_id, failures)
        if failed or opened or (record.status == "ok" and state.consecutive_failures):
            def decide() -> list:
                return self.alerts.after_run(self.history(), record, failures_before=state.consecutive_failures,
                                             failures=failures, opened=opened, now_ms=self._clock())
            try:
                for kind, fields in await asyncio.to_thread(decide):
                    self._send(kind, fields)
            except Exception as exc:  # alerts are advice: the record stands
                log.warning("alerts for run %s not decided: %s", record.run_id, exc)

    async def resume(self, task_id: str) -> bool:
        """Close the circuit; False when the task was not paused."""
        state: TaskState = await self.query("state", task_id, default=TaskState(task_id))
        if not state.paused:
            return False
        await self.query("set_state", TaskState(task_id, last_error=state.last_error), self._clock())
        if self.notifier is not None:
            self.notifier.send("resumed", {"taskId": task_id})
        return True

    async def check_gaps(self, tasks: list[Any], tz: Any, *, max_alerts: int = GAP_ALERTS) -> list[Gap]:
        """Expected fires with no record that were not reported before: each is alerted once."""
        def new_gaps() -> list[Gap]:
            db = self.history()
            if db is None:
                return []
            now = self._clock()
            return [g for g in find_project_gaps(tasks, db, now, tz) if db.note_gap(g.task_id, g.slot_ms, now)]

        try:
            gaps = await asyncio.to_thread(new_gaps)
        except Exception as exc:  # the check is advice, never a reason to stop serving
            log.warning("gap check failed: %s", exc)
            return []
        for gap in gaps[:max_alerts]:
            if self.notifier is not None:
                self.notifier.send("gap", {"taskId": gap.task_id, "expectedAt": gap.slot_ms, "reason": gap.reason,
                                           "status": "gap"})
        if len(gaps) > max_alerts:
            log.warning("%d more gaps not alerted; see agent cron status", len(gaps) - max_alerts)
        return gaps

    def _send(self, kind: str, fields: dict[str, Any]) -> None:
        if self.notifier is not None:
            self.notifier.send(kind, fields)
