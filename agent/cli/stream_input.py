"""`agent -p --input-format stream-json --output-format stream-json`: a long-lived headless session.

Each stdin line is a user message, `{"type": "user", "message": {"role": "user", "content": ...}}`, and
runs as one turn (with its own `result` line) while stdin stays open. The scheduler runs meanwhile, so
durable tasks that fall due fire between messages, never during one; this is how Claude Code's SDK drives
a session. Each fire is gated, recorded in the run history and retried as in the chat (`LiveFireRuns`).
When stdin closes, the turns already queued finish, a fire waiting to retry is recorded interrupted, and
the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
from typing import Any, TextIO

from agent.cli.common import EXIT_FAILURE, EXIT_OK, resume_gc
from agent.cli.stream_json import RunOutcome
from agent.cli.text_input import clean_text, text_lines
from agent.engine.queue import CommandQueue, Priority, QueuedPrompt
from agent.runs.live_fires import LiveFireRuns
from agent.runs.recorder import RunRecorder

HeadlessRun = Any  # agent.cli.headless.HeadlessRun (which imports this module: no import back)
log = logging.getLogger(__name__)

END = object()  # stdin closed


class FireNotRun(RuntimeError):
    """A fired prompt failed before reaching the model (no key, unknown command); its message says why."""


class BadMessage(ValueError):
    """A stdin line that is not a user message."""


def message_text(line: str) -> str:
    """The prompt in one stdin line; raises BadMessage saying what is wrong."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadMessage(f"not JSON ({exc.msg})") from None
    except RecursionError:
        raise BadMessage("JSON nested too deeply to read") from None
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("type") != "user" or not isinstance(message, dict) \
            or message.get("role", "user") != "user":
        raise BadMessage('expected {"type": "user", "message": {"role": "user", "content": ...}}')
    content = message.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "\n\n".join(b["text"] for b in content
                             if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))
    else:
        raise BadMessage("message.content must be a string or a list of content blocks")
    if not text.strip():
        raise BadMessage("the message has no text")
    return clean_text(text)  # a "\ud800" escape is not text: carried through as U+FFFD


def _read_lines(stdin: TextIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
    """In a daemon thread (a blocked read must never keep the process alive): post each line."""
    try:
        for line in text_lines(stdin):
            loop.call_soon_threadsafe(queue.put_nowait, line)
    except (OSError, ValueError) as exc:  # stdin closed under us
        log.debug("stdin read stopped: %s", exc)
    finally:
        loop.call_soon_threadsafe(queue.put_nowait, END)


async def serve_stream_input(run: HeadlessRun, stdin: TextIO) -> int:
    from agent.cron.scheduler import CronScheduler

    session = run.session
    lines: asyncio.Queue[Any] = asyncio.Queue()
    work = CommandQueue()
    state: dict[str, Any] = {"busy": False, "failed": False, "current": None}

    def on_fire(fired: Any) -> None:
        work.put(QueuedPrompt(fired.task.prompt, Priority.LATER, source="cron", task=fired))

    def on_missed(tasks: list[Any]) -> None:
        for task in tasks:
            print(f"agent: missed one-shot {task.id} ({task.cron}) was due while nothing ran; not run. "
                  f"Its prompt: {task.prompt!r}", file=sys.stderr, flush=True)

    scheduler = CronScheduler(session.project_dir, on_fire, lambda: state["busy"] or bool(work),
                              session_store=session.session_store, file_store=session.file_store,
                              on_missed=on_missed, on_commit=lambda fired: fires.queue(fired))
    fires = LiveFireRuns(RunRecorder.for_session(session, source="stream-json"), session.cron,
                         retry_later=on_fire, stop_turn=lambda _task, _reason: _stop(state),
                         on_blocked=lambda task, why: log.warning("task %s not run: %s", task.id, why))
    run.listeners.append(fires.emit)
    resume_gc()  # the SDK is loaded: start-up is over, though no message may come for hours
    threading.Thread(target=_read_lines, args=(stdin, asyncio.get_running_loop(), lines), daemon=True).start()
    await scheduler.start()
    try:
        await _serve(run, lines, work, state, scheduler, fires)
    finally:
        await scheduler.stop()
        await fires.close()
        await session.aclose()
    return EXIT_FAILURE if state["failed"] else EXIT_OK


async def _serve(run: HeadlessRun, lines: asyncio.Queue, work: CommandQueue, state: dict[str, Any],
                 scheduler: Any, fires: LiveFireRuns) -> None:
    """Feed stdin lines into the work queue and run its items one at a time, until stdin closes."""
    stdin_open, number = True, 0  # number: of the message, for error messages
    while stdin_open or work:
        next_line = asyncio.ensure_future(lines.get()) if stdin_open else None
        next_item = asyncio.ensure_future(work.get())
        waiting = {f for f in (next_line, next_item) if f is not None}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for future in waiting - done:
            future.cancel()
        if next_line is not None and next_line in done:
            line = next_line.result()
            if line is END:
                stdin_open = False
            elif line.strip():
                number += 1
                _queue_line(run, work, line, number, state)
        if next_item in done:
            await _run_item(run, next_item.result(), state, fires)
            scheduler.wake()


def _queue_line(run: HeadlessRun, work: CommandQueue, line: str, number: int, state: dict[str, Any]) -> None:
    try:
        work.put(QueuedPrompt(message_text(line), Priority.NEXT, source="user"))
    except BadMessage as exc:
        state["failed"] = True
        run.writer.result(RunOutcome.failure(f"stdin line {number}: {exc}"))


def _conversation_or_none(run: HeadlessRun) -> Any:
    """The session's conversation; None when it cannot be made (the turn then says why)."""
    try:
        return run.ensure_conversation()
    except Exception:  # no key, say: the fired turn fails with that message and is recorded so
        return None


def _stop(state: dict[str, Any]) -> None:
    """A fired run went past its token limit: stop its turn."""
    current = state.get("current")
    if current is not None and not current.done():
        current.cancel()


async def _run_item(run: HeadlessRun, item: QueuedPrompt, state: dict[str, Any], fires: LiveFireRuns) -> None:
    state["busy"] = True
    run.write_init()  # Claude Code starts each turn, typed or fired, with a system/init line
    try:
        if item.source != "cron":
            outcome = await run.turn(item.text)
            state["failed"] = state["failed"] or outcome.is_error
            return
        fired = item.task

        async def start_turn(run_id: str) -> Any:
            state["current"] = asyncio.ensure_future(
                run.recorded_turn(item.text, scheduled_task=fired.task, run_id=run_id))
            outcome, turn = await state["current"]
            if turn is None:
                raise FireNotRun(outcome.result)
            return turn

        with contextlib.suppress(FireNotRun):
            await fires.run(fired, _conversation_or_none(run), start_turn)
    finally:
        state["busy"] = False
        state["current"] = None

__all__ = ["BadMessage", "message_text", "serve_stream_input"]
