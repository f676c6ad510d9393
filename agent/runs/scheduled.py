"""One scheduled fire run unattended, with its policy: gate, run, retry, record.

The daemon (and any runner with nobody to ask) hands each fire to `ScheduledRunner.run()`:
a paused task or a spent daily budget records the fire as `paused` / `skipped` and runs nothing;
otherwise the prompt runs as one headless turn in a fresh conversation, limited by the task's
`maxTurns` and `maxTokensPerRun`; a transient failure (429, 5xx, 529, connection, after the SDK's own
retries) is tried again after an exponential, jittered wait, but never past the task's next slot (the
wait gives the caller's concurrency slot back); the whole run, attempts and waits, is stopped at its
time limit (`timeoutS`, `cron.runTimeoutS`, default 30 min) and recorded `timeout`; the run is recorded
with one transcript file, and the breaker and alerts are updated by the recorder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agent.cron.history import RunRecord
from agent.cron.policy import retry_delay_s, should_retry
from agent.engine.events import Event, PermissionDenied
from agent.runs.isolation import IsolationError
from agent.runs.recorder import RunRecorder, RunTracker, slot_end_ms
from agent.settings import project_state_dir
from agent.settings.private import write_private_text

__all__ = ["ScheduledRunner", "write_transcript"]

log = logging.getLogger(__name__)

TRANSCRIPTS = "transcripts"


def write_transcript(folder: Path, run_id: str, messages: list[dict[str, Any]]) -> str:
    """The conversation of one run, one JSON message per line: the evidence behind its status."""
    path = folder / f"{run_id}.jsonl"
    write_private_text(path, "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages))
    return str(path)


class _Run:
    """One run in progress: the turn running now (cancelled at the token limit or the time limit)."""

    def __init__(self) -> None:
        self.current: asyncio.Future | None = None
        self.timed_out = False


class ScheduledRunner:
    def __init__(self, session: Any, recorder: RunRecorder, *, say: Callable[[str], None] = log.info,
                 sleep: Callable[[float], Any] = asyncio.sleep, rand: Callable[[], float] = random.random,
                 builtin_commands: Iterable[str] = ()) -> None:
        self.session = session
        self.builtin_commands = frozenset(builtin_commands)  # a scheduled `/compact` fails, saying why
        self.recorder = recorder
        self.say = say
        self._sleep = sleep
        self._rand = rand
        self.transcripts = project_state_dir(session.project_dir, recorder.env) / TRANSCRIPTS

    async def run(self, fired: Any, *, record: RunRecord | None = None, slot: Any = None) -> RunRecord:
        """Run one fire to its record. `record`: its `queued` record, carried on; `slot`: the concurrency
        slot the caller holds (`RunSlots`), given back while a retry waits."""
        task = fired.task
        blocked = await self.recorder.gate(task)
        if blocked is not None:
            status, reason = blocked
            self.say(f"task {task.id} not run ({status}): {reason}")
            return await self.recorder.record_blocked(task, fired.due_ms, status, reason, record)
        self.say(f"running scheduled task {task.id} ({task.cron}): {task.prompt}")
        run = _Run()
        tracker = await self.recorder.start(task, scheduled_ms=fired.due_ms, emit=self._log_denial(task.id),
                                            on_limit=lambda reason: self._stop(run, reason), record=record)
        try:
            await self.recorder.isolate(tracker, task)
        except IsolationError as exc:  # never run it in the user's checkout instead
            record = await self.recorder.finish(tracker, error=str(exc))
            self._report(record)
            return record
        deadline = asyncio.get_running_loop().time() + tracker.policy.timeout_s
        timer = asyncio.get_running_loop().call_at(deadline, self._time_out, run, tracker)
        try:
            return await self._attempts(fired, tracker, run, slot, deadline)
        finally:
            timer.cancel()

    async def _attempts(self, fired: Any, tracker: RunTracker, run: _Run, slot: Any, deadline: float) -> RunRecord:
        task = fired.task
        slot_end = slot_end_ms(self.session.cron, fired)
        attempt = 1
        while True:
            tracker.record.attempts = attempt
            turn, conversation, error, cancelled = await self._attempt(task, tracker, run)
            kind = getattr(turn, "error_kind", None) if turn is not None else None
            left_s = deadline - asyncio.get_running_loop().time()
            if cancelled or run.timed_out or tracker.limit_error or not should_retry(
                    attempt, kind, tracker.policy, now_ms=self.recorder.now_ms(),
                    delay_s=(delay := retry_delay_s(attempt, tracker.policy.backoff_s, self._rand())),
                    slot_end_ms=slot_end) or delay >= left_s:
                break
            if turn is not None:
                tracker.add_usage(turn)
            self.say(f"task {task.id} attempt {attempt} failed ({turn.error if turn else error}); "
                     f"retrying in {delay:.1f}s")
            try:
                await self._wait(delay, slot)
            except asyncio.CancelledError:
                await self.recorder.finish(tracker, None, cancelled=True, error="interrupted while waiting to retry")
                raise
            attempt += 1
        if run.timed_out:
            error, cancelled = self._timeout_error(tracker), False
        transcript = await self._save_transcript(tracker, conversation)
        record = await self.recorder.finish(tracker, turn, cancelled=cancelled, error=error, transcript=transcript,
                                            timed_out=run.timed_out)
        self._report(record)
        if cancelled and not tracker.limit_error:
            raise asyncio.CancelledError
        return record

    async def _wait(self, delay_s: float, slot: Any) -> None:
        """The wait before a retry, holding no concurrency slot: other tasks may start meanwhile."""
        if slot is None:
            await self._sleep(delay_s)
            return
        async with slot.released():
            await self._sleep(delay_s)

    async def _attempt(self, task: Any, tracker: RunTracker, run: _Run) -> tuple[Any, Any, str | None, bool]:
        """One try: (turn, conversation, error without a turn, cancelled)."""
        from agent.engine.llm import LLMError

        try:  # the run's own transcript (write_transcript) is its record: no session file besides
            conversation = self.session.new_conversation(emit=tracker.emit, record=False)
        except LLMError as exc:
            return None, None, exc.message, False
        if tracker.policy.max_turns is not None:
            conversation.max_turns = tracker.policy.max_turns
        ttl = self._cache_ttl(task)
        conversation.cache_ttl = lambda: ttl  # this task's runs share the prefix: keep it as long as they need
        if tracker.isolated is not None:
            try:
                tracker.isolated.root(conversation)
            except IsolationError as exc:
                return None, conversation, str(exc), False
        from agent.engine.custom_commands import CommandNotFound, load_commands, run_prompt

        try:
            commands = load_commands(self.session.project_dir, self.session.env, self.builtin_commands)
            commands.expand(task.prompt)  # a missing command fails the run here, before any request
        except CommandNotFound as exc:
            return None, conversation, f"{exc}; nothing was sent to the model", False
        run.current = asyncio.ensure_future(run_prompt(conversation, self.session, task.prompt,
                                                       commands=commands, scheduled_task=task,
                                                       run_id=tracker.record.run_id))
        try:
            return await asyncio.shield(run.current), conversation, None, False
        except asyncio.CancelledError:
            if not run.current.done():  # we were cancelled, not the turn: stop it too
                run.current.cancel()
                await asyncio.gather(run.current, return_exceptions=True)
            if tracker.limit_error:
                return None, conversation, tracker.limit_error, False
            if run.timed_out:
                return None, conversation, self._timeout_error(tracker), False
            return None, conversation, "interrupted: the daemon was stopped mid-run", True
        finally:
            run.current = None

    def _cache_ttl(self, task: Any) -> str | None:
        """"1h" for a task that fires every 5 to 60 minutes: its next run reads the tools, the system
        prompt and its own wrapped prompt from the cache the last one wrote."""
        from agent.cron.gaps import shortest_interval_ms
        from agent.cron.policy import prompt_cache_ttl
        from agent.cron.zone import local_zone

        if not getattr(task, "recurring", False):
            return None
        return prompt_cache_ttl([shortest_interval_ms(task.cron, self.recorder.now_ms(), local_zone())])

    def _stop(self, run: _Run, reason: str) -> None:
        if run.current is not None and not run.current.done():
            self.say(f"stopping the run: {reason}")
            run.current.cancel()

    def _time_out(self, run: _Run, tracker: RunTracker) -> None:
        run.timed_out = True
        self._stop(run, self._timeout_error(tracker))

    @staticmethod
    def _timeout_error(tracker: RunTracker) -> str:
        return (f"stopped: the run went past its time limit of {tracker.policy.timeout_s:g} s "
                "(timeoutS of the task, cron.runTimeoutS in settings)")

    async def _save_transcript(self, tracker: RunTracker, conversation: Any) -> str | None:
        if conversation is None or not conversation.history:
            return None
        try:
            return await asyncio.to_thread(write_transcript, self.transcripts, tracker.record.run_id,
                                           list(conversation.history))
        except OSError as exc:
            log.warning("transcript of run %s not saved: %s", tracker.record.run_id, exc)
            return None

    def _log_denial(self, task_id: str) -> Callable[[Event], None]:
        def emit(event: Event) -> None:
            if isinstance(event, PermissionDenied):
                self.say(f"task {task_id}: {event.name} denied ({event.reason}); allow it with the rule "
                         f"{event.rule or event.name} in permissions.allow")
        return emit

    def _report(self, record: RunRecord) -> None:
        if record.result:
            self.say(f"task {record.task_id} result:\n{record.result}")
        cost = "unknown cost" if record.cost_usd is None else f"${record.cost_usd:.4f}"
        requests = f"{record.requests} request{'s' if record.requests != 1 else ''}"
        outcome = "done" if record.status == "ok" else f"{record.status}: {record.error or 'no answer'}"
        if record.status not in ("ok", "interrupted") or record.error:
            outcome = f"failed ({record.status}): {record.error or 'no answer'}"
        self.say(f"task {record.task_id} {outcome} ({requests}, {cost}, run {record.run_id})")
        if record.branch:
            changes = f"commit {record.commit_id[:12]}" if record.commit_id else "no changes"
            self.say(f"task {record.task_id} run {record.run_id}: branch {record.branch} ({changes})")
