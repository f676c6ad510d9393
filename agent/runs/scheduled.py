"""One scheduled fire run unattended, with its policy: gate, run, retry, record.

The daemon (and any runner with nobody to ask) hands each fire to `ScheduledRunner.run()`:
a paused task or a spent daily budget records the fire as `paused` / `skipped` and runs nothing;
otherwise the prompt runs as one headless turn in a fresh conversation, limited by the task's
`maxTurns` and `maxTokensPerRun`; a transient failure (429, 5xx, 529, connection, after the SDK's own
retries) is tried again after an exponential, jittered wait, but never past the task's next slot; the
run is recorded with its transcript, and the breaker and alerts are updated by the recorder.
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
        self.current: asyncio.Task | None = None  # the turn running now (the daemon cancels it at stop)
        self.transcripts = project_state_dir(session.project_dir, recorder.env) / TRANSCRIPTS

    async def run(self, fired: Any) -> RunRecord:
        task = fired.task
        blocked = await self.recorder.gate(task)
        if blocked is not None:
            status, reason = blocked
            self.say(f"task {task.id} not run ({status}): {reason}")
            return await self.recorder.record_blocked(task, fired.due_ms, status, reason)
        self.say(f"running scheduled task {task.id} ({task.cron}): {task.prompt}")
        tracker = await self.recorder.start(task, scheduled_ms=fired.due_ms, emit=self._log_denial(task.id),
                                            on_limit=self._stop_current)
        try:
            await self.recorder.isolate(tracker, task)
        except IsolationError as exc:  # never run it in the user's checkout instead
            record = await self.recorder.finish(tracker, error=str(exc))
            self._report(record)
            return record
        slot_end = slot_end_ms(self.session.cron, fired)
        attempt = 1
        while True:
            tracker.record.attempts = attempt
            turn, conversation, error, cancelled = await self._attempt(task, tracker)
            kind = getattr(turn, "error_kind", None) if turn is not None else None
            if cancelled or tracker.limit_error or not should_retry(
                    attempt, kind, tracker.policy, now_ms=self.recorder.now_ms(),
                    delay_s=(delay := retry_delay_s(attempt, tracker.policy.backoff_s, self._rand())),
                    slot_end_ms=slot_end):
                break
            if turn is not None:
                tracker.add_usage(turn)
            self.say(f"task {task.id} attempt {attempt} failed ({turn.error if turn else error}); "
                     f"retrying in {delay:.1f}s")
            try:
                await self._sleep(delay)
            except asyncio.CancelledError:
                await self.recorder.finish(tracker, None, cancelled=True, error="interrupted while waiting to retry")
                raise
            attempt += 1
        transcript = await self._save_transcript(tracker, conversation)
        record = await self.recorder.finish(tracker, turn, cancelled=cancelled, error=error, transcript=transcript)
        self._report(record)
        if cancelled and not tracker.limit_error:
            raise asyncio.CancelledError
        return record

    async def _attempt(self, task: Any, tracker: RunTracker) -> tuple[Any, Any, str | None, bool]:
        """One try: (turn, conversation, error without a turn, cancelled)."""
        from agent.engine.llm import LLMError

        try:
            conversation = self.session.new_conversation(emit=tracker.emit)
        except LLMError as exc:
            return None, None, exc.message, False
        if tracker.policy.max_turns is not None:
            conversation.max_turns = tracker.policy.max_turns
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
        self.current = asyncio.ensure_future(run_prompt(conversation, self.session, task.prompt,
                                                        commands=commands, scheduled_task=task,
                                                        run_id=tracker.record.run_id))
        try:
            return await asyncio.shield(self.current), conversation, None, False
        except asyncio.CancelledError:
            if not self.current.done():  # we were cancelled, not the turn: stop it too
                self.current.cancel()
                await asyncio.gather(self.current, return_exceptions=True)
            if tracker.limit_error:
                return None, conversation, tracker.limit_error, False
            return None, conversation, "interrupted: the daemon was stopped mid-run", True
        finally:
            self.current = None

    def _stop_current(self, reason: str) -> None:
        if self.current is not None and not self.current.done():
            self.say(f"stopping the run: {reason}")
            self.current.cancel()

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
