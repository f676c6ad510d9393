"""The interactive REPL: what a person sees when they type `agent`.

One asyncio loop runs the prompt, the queue processor, the scheduler tick and the model stream. The
path to the first prompt imports only prompt_toolkit and the standard library; the session (pydantic,
tools, stores), rich, the scheduler and the SDK load in a worker thread once the prompt is drawn, so
the prompt appears at once and the first reply is not delayed by the imports.

Everything the user or the scheduler wants run goes on the `CommandQueue` (typed prompts at `next`,
scheduled fires at `later`), and the queue processor runs one item at a time whenever no turn runs,
also while the user sits at an idle prompt. The scheduler's `is_busy()` is true while a turn runs or
the queue holds anything, so a fire never interrupts a turn and a blocked session gets one fire.

`Repl` is the one object the prompt, the keys and the commands talk to; it reads what was typed and
hands the rest to its collaborators: start-up (`loading`), the queue processor (`turns`), the
conversation (`chat_conversation`) and the questions a turn asks (`asking`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from agent import __version__
from agent.engine.queue import CommandQueue, Priority, QueuedPrompt
from agent.repl.asking import UNATTENDED_ANSWER_S, PermissionAsker
from agent.repl.chat_conversation import ChatConversation
from agent.repl.commands import CommandContext, SessionStats, default_registry
from agent.repl.commands.custom import CustomCommands
from agent.repl.commands.memory import is_memory_note, remember
from agent.repl.commands.status import cost_line, session_tasks_warning
from agent.repl.prompt import (
    EXIT_CONFIRM_S,
    TerminalSink,
    build_prompt_session,
    hint_fragments,
    is_command_line,
    make_history,
    terminal_supports_color,
    toolbar_fragments,
)
from agent.repl.question import QuestionBox
from agent.repl.reflow import keep_clean_on_resize
from agent.repl.render import Renderer, terminal_has_hyperlinks
from agent.repl.turns import TurnRunner

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.buffer import Buffer

    from agent.cron.scheduler import CronScheduler, FiredTask
    from agent.engine.conversation import Conversation
    from agent.engine.custom_commands import CommandSet
    from agent.engine.events import Event
    from agent.engine.session import AgentSession
    from agent.repl.scheduled_runs import ChatScheduledRuns
    from agent.runs.recorder import RunRecorder

log = logging.getLogger(__name__)

CTRL_D_CONFIRM_S = 5.0  # after Ctrl-D warned that session tasks will stop, a second one within this exits


class Repl:
    """The chat: the host the prompt, its keys and the commands talk to (`PromptHost`, `ReplHost`)."""

    def __init__(self, args: argparse.Namespace, project: Path, *, out: TextIO,
                 env: dict[str, str] | None = None, unattended_answer_s: float = UNATTENDED_ANSWER_S,
                 session_id: str | None = None, resume_from: Path | None = None) -> None:
        self.args, self.project = args, project
        self.env = dict(os.environ if env is None else env)
        self.unattended_answer_s = unattended_answer_s
        self.queue = CommandQueue()
        self.registry = default_registry(custom=self.custom_command_rows)
        self.custom = CustomCommands(project, self.env, self.registry.all_names, lambda w: self.renderer.warn(w))
        self.stats = SessionStats()
        self.renderer = Renderer(TerminalSink(out), color=terminal_supports_color(out, self.env),
                                 hyperlinks=terminal_has_hyperlinks(self.env),
                                 width=self._width, invalidate=self.invalidate)
        self.questions = QuestionBox(self._buffer, self.invalidate)
        self.prompt: PromptSession | None = None
        self.session: AgentSession | None = None
        self.scheduler: CronScheduler | None = None
        self.model_name: str | None = None
        self.recorder: RunRecorder | None = None  # run history of scheduled fires, made with the scheduler
        self.runs: ChatScheduledRuns | None = None
        self._ready = asyncio.Event()  # session, scheduler and model client (or its error) are there
        self.turns = TurnRunner(self, self._ready)
        self.asker = PermissionAsker(self, self.turns.scheduled_item)
        self.chat = ChatConversation(args, self.renderer, session=lambda: self.session, emit=self._emit,
                                     ask=self.asker.ask, session_id=session_id, resume_from=resume_from,
                                     durable=lambda: self.scheduler is not None and self.scheduler.is_owner)
        self._tasks: list[asyncio.Task] = []
        self._exit_requested = False
        self.last_ctrl_c = 0.0
        self._clock_text: object = None  # the toolbar and hint as the idle refresh last saw them
        self._ctrl_d_warned = -CTRL_D_CONFIRM_S  # when Ctrl-D last warned that session tasks will stop
        self.reported_problems: set[str] = set()  # already shown: log records repeating them are dropped

    # -- the main loop ----------------------------------------------------------------------------

    async def run(self) -> int:
        self.prompt = build_prompt_session(self, make_history(self.env))
        self.prompt.app.after_render += self._start_loading  # once the prompt is on the screen
        keep_clean_on_resize(self.prompt.app, self.env)
        self._banner(clear=self.chat.resume_from is not None)  # agent -c / -r: a clean screen, then where you were
        self._queue_first_message(getattr(self.args, "prompt", None))
        self._tasks += [asyncio.create_task(self.turns.process_queue(), name="repl-queue"),
                        asyncio.create_task(self._refresh_ui(), name="repl-refresh")]
        try:
            while not self._exit_requested:
                try:
                    text = await self.prompt.prompt_async(set_exception_handler=False)
                except EOFError:
                    break
                except KeyboardInterrupt:
                    continue
                try:
                    await self._submit(text)
                except Exception as exc:  # a bug in one command must not end the session
                    log.exception("handling input failed")
                    self.renderer.error(f"That failed unexpectedly: {type(exc).__name__}: {exc}")
        finally:
            await self._shutdown()
        return 0

    def _banner(self, *, clear: bool = False) -> None:
        """The first line; with `clear`, on a clean screen (a resumed session is drawn below it)."""
        banner = f"agent {__version__} · {self.project} · /help for commands, Ctrl-D to exit"
        if not clear:
            self.renderer.dim_line(banner)
            return
        from agent.repl.resume_view import CLEAR_SCREEN

        self.renderer.write(CLEAR_SCREEN + (f"\x1b[2m{banner}\x1b[0m" if self.renderer.color else banner))

    def _queue_first_message(self, text: str | None) -> None:
        """`agent "fix the test"`: the message is echoed as if typed and runs once the session is up."""
        if text is None or not text.strip():
            return
        echo = "> " + text.replace("\n", "\n  ")
        self.renderer.write(f"\x1b[1m{echo}\x1b[0m" if self.renderer.color else echo)  # rich is not loaded yet
        self.queue.put(QueuedPrompt(text, Priority.NEXT, source="user"))

    async def _submit(self, text: str) -> None:
        if not text.strip():
            return
        if is_command_line(text):
            await self._run_command(text.strip())
            return
        if is_memory_note(text):  # `# note`: asked inside the prompt, so it runs beside it
            self.spawn(remember(text, self.project, self.env, self.questions, self.renderer), name="repl-memory")
            return
        if text.lstrip().startswith("!"):  # `!command`: the user runs it (agent.repl.shell_escape)
            echo = self.is_busy()  # queued: show the line again when it runs
            self.queue_prompt(text, job=lambda: self._shell_escape(text, echo=echo))
            return
        self.queue_prompt(text)

    def queue_prompt(self, text: str, job: Callable[[], Awaitable[Any]] | None = None) -> None:
        busy = self.is_busy()
        source = "command" if job is not None else "queued" if busy else "user"
        self.queue.put(QueuedPrompt(text, Priority.NEXT, source=source, task=job))
        if busy:
            self.renderer.info("Queued: runs when the current turn ends.")

    async def _shell_escape(self, text: str, *, echo: bool) -> None:
        from agent.repl.shell_escape import run_shell_escape

        if echo:
            self.renderer.user_prompt(text)
        await run_shell_escape(text, self.project, self.renderer, self.conversation)

    async def _run_command(self, line: str) -> None:
        command, name, args = self.registry.resolve(line)
        custom = self.custom_commands()  # also shows, once, a file that a built-in shadows
        if command is None and (custom.get(name) is not None or name.startswith("mcp__")):
            self.queue_prompt(line)  # expanded when it runs, as scheduled ones are
            return
        if command is None:
            self.renderer.error(self.registry.unknown_message(name))
            return
        if command.needs_session:
            if not self._ready.is_set():
                # Typed while the session starts: queued behind what was typed before it, so commands
                # and messages run in the order typed (the hint line says "Starting up…" meanwhile).
                self.queue.put(QueuedPrompt(line, Priority.NEXT, source="command",
                                            task=lambda: self._run_command(line)))
                return
            if self.session is None:
                self.renderer.error("The session could not start; only /help and /exit work. See above.")
                return
        # /help and /exit do not need the session, which may still be loading (None) when they run
        await command.handler(CommandContext(self.session, self.renderer, self.queue, self), args)  # type: ignore[arg-type]

    async def _shutdown(self) -> None:
        self._exit_requested = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.renderer.dim_line(cost_line(self.stats))  # on the screen once the awaits below let it flush
        if self.scheduler is not None:
            await self.scheduler.stop()  # releases the lock, joins the watcher thread
        if self.runs is not None:
            await self.runs.close()  # a run waiting to retry is recorded as interrupted
        conversation = self.chat.current
        if conversation is not None:
            with contextlib.suppress(Exception):
                await conversation.end_session("prompt_input_exit")
        if conversation is not None and conversation.transcript is not None:
            conversation.transcript.sync(conversation.history)  # session tasks changed since
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.aclose()

    # -- start-up, the scheduler's callbacks and what the collaborators share ------------------------

    def _start_loading(self, app: Any) -> None:
        from agent.repl.loading import load_chat

        app.after_render -= self._start_loading
        self.spawn(load_chat(self, self._ready), name="repl-load")

    def on_fire(self, fired: FiredTask) -> None:
        self.queue.put(QueuedPrompt(fired.task.prompt, Priority.LATER, source="cron", task=fired))
        self.invalidate()

    def is_busy(self) -> bool:
        return self.turns.turn is not None or bool(self.queue)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def turn_running(self) -> bool:
        return self.turns.turn is not None

    def stop_turn(self) -> None:
        self.turns.stop()

    def spawn(self, job: Coroutine[Any, Any, Any], name: str | None = None) -> None:
        """Runs `job` beside the prompt; it is cancelled when the chat ends."""
        self._tasks.append(asyncio.create_task(job, name=name))

    def conversation(self) -> Conversation | None:
        return self.chat.get()

    @property
    def session_id(self) -> str | None:
        """The saved session this chat writes (/resume leaves it out of its list)."""
        return self.chat.session_id

    def _emit(self, event: Event) -> None:
        if self.runs is not None:
            self.runs.emit(event)
        self.stats.record(event)
        self.renderer.handle(event)

    async def delete_scheduled_task(self, task_id: str) -> bool:
        """What `/cron delete <id>` does: the schedule goes, with any of its runs still waiting."""
        from agent.cron import TaskFileError
        from agent.repl.commands.schedule import delete_task

        if self.session is None:
            return False
        await delete_task(CommandContext(self.session, self.renderer, self.queue, self), task_id)  # type: ignore[arg-type]
        try:
            return self.session.cron.get(task_id) is None
        except TaskFileError:
            return False

    # -- ReplHost (what commands may use) ------------------------------------------------------------

    def between_turns(self, label: str, job: Callable[[], Awaitable[None]]) -> None:
        self.queue.put(QueuedPrompt(f"/{label}", Priority.NOW, source="command", task=job))

    async def resume_session(self, session_id: str, path: Path) -> None:
        """/resume: this chat continues the saved session at `path`; the screen shows where it was."""
        await self.chat.resume(session_id, path, clear_screen=lambda: self._banner(clear=True))

    def switch_model(self, model: str) -> None:
        from agent.engine.llm import LLMError

        assert self.session is not None
        self.session.set_model(model)
        self.model_name = self.session.model
        conversation = self.chat.current
        if conversation is not None:
            old = conversation.llm
            try:
                conversation.llm = self.session.llm()
            except LLMError as exc:
                self.renderer.error(exc.message)
                return
            self.spawn(old.aclose())

    def request_exit(self) -> None:
        self._exit_requested = True
        app = self.prompt.app if self.prompt is not None else None
        if app is not None and app.is_running and not app.is_done:
            app.exit(exception=EOFError)

    def schedule_changed(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wake()
        self.invalidate()

    def command_summaries(self) -> list[tuple[str, str]]:
        return [(c.name, c.summary) for c in self.registry.commands] + [
            (name, summary) for name, summary in self.custom_command_rows(signature=False)]

    def custom_commands(self, *, warn: bool = True) -> CommandSet:
        return self.custom.load(warn=warn)

    def custom_command_rows(self, signature: bool = True) -> list[tuple[str, str]]:
        return self.custom.rows(signature)

    # -- keys and screen ------------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Esc: cancel the running turn (or `!command`), nothing else."""
        self.turns.stop()
        self.invalidate()

    def permission_mode(self) -> str | None:
        return self.session.policy.mode.value if self.session is not None else None

    def set_permission_mode(self, mode: str) -> bool:
        """Shift-Tab: what `/permissions <mode>` does; the next tool call is judged in the new mode."""
        from agent.permissions.rules import PermissionMode

        if self.session is None:
            return False
        self.session.policy.mode = PermissionMode(mode)
        return True

    def on_ctrl_c(self, buffer: Buffer) -> None:
        """Cancel the running turn; else clear the line; else exit on the second press."""
        turn = self.turns.turn
        if turn is not None and not turn.done():
            turn.cancel()
        elif buffer.text:
            buffer.reset()
        elif time.monotonic() - self.last_ctrl_c < EXIT_CONFIRM_S:
            self.request_exit()
        else:
            self.last_ctrl_c = time.monotonic()
        self.invalidate()

    def may_exit_on_ctrl_d(self) -> bool:
        """Ctrl-D on an empty line: False, after saying what would stop, the first time while
        session-only tasks exist; a second Ctrl-D within CTRL_D_CONFIRM_S exits."""
        store = self.session.session_store if self.session is not None else None
        warning = session_tasks_warning(store.load().tasks) if store is not None else None
        now = time.monotonic()
        if warning is None or now - self._ctrl_d_warned < CTRL_D_CONFIRM_S:
            return True
        self._ctrl_d_warned = now
        self.renderer.warn(f"{warning}. Press Ctrl-D again to exit")
        return False

    async def _refresh_ui(self) -> None:
        """Redraw for the spinner (10x/s while a turn runs) and, when idle, for what the clock alone
        changes (the toolbar countdown, hints that expire): checked once a second, redrawn only when
        that text changed, as a redraw costs more CPU than everything else an idle chat does."""
        while True:
            await asyncio.sleep(0.1 if self.turn_running else 1.0)
            if self.turn_running or self._clock_text_changed():
                self.invalidate()

    def _clock_text_changed(self) -> bool:
        shown = (toolbar_fragments(self), hint_fragments(self))
        changed, self._clock_text = shown != self._clock_text, shown
        return changed

    def invalidate(self) -> None:
        app = self.prompt.app if self.prompt is not None else None
        if app is not None and app.is_running:
            app.invalidate()

    def _buffer(self) -> Buffer | None:
        return self.prompt.default_buffer if self.prompt is not None else None

    def _width(self) -> int:
        app = self.prompt.app if self.prompt is not None else None
        if app is not None and app.is_running:
            return app.output.get_size().columns
        return shutil.get_terminal_size().columns


__all__ = ["Repl"]
