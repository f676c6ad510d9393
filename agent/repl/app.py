"""The interactive REPL: what a person sees when they type `agent`.

One asyncio loop runs the prompt, the queue processor, the scheduler tick and the model stream. The
path to the first prompt imports only prompt_toolkit and the standard library; the session (pydantic,
tools, stores), rich, the scheduler and the SDK load in a worker thread once the prompt is drawn, so
the prompt appears at once and the first reply is not delayed by the imports.

Everything the user or the scheduler wants run goes on the `CommandQueue` (typed prompts at `next`,
scheduled fires at `later`), and the queue processor runs one item at a time whenever no turn runs,
also while the user sits at an idle prompt. The scheduler's `is_busy()` is true while a turn runs or
the queue holds anything, so a fire never interrupts a turn and a blocked session gets one fire.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from prompt_toolkit.patch_stdout import patch_stdout

from agent import __version__
from agent.engine.queue import CommandQueue, Priority, QueuedPrompt
from agent.permissions.answers import PermissionAnswer
from agent.repl.commands import CommandContext, SessionStats, default_registry, task_id_of
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
from agent.repl.question import QuestionBox, permission_options, permission_title
from agent.repl.reflow import keep_clean_on_resize
from agent.repl.render import Renderer, shorten, terminal_has_hyperlinks
from agent.repl.startup import build_session, route_logging
from agent.repl.tool_output import printable
from agent.settings import state_dir

if TYPE_CHECKING:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.buffer import Buffer

    from agent.cron.scheduler import CronScheduler, FiredTask
    from agent.cron.task import CronTask
    from agent.engine.conversation import Conversation
    from agent.engine.custom_commands import CommandSet
    from agent.engine.events import Event
    from agent.engine.session import AgentSession
    from agent.engine.transcript import LoadedTranscript
    from agent.repl.scheduled_runs import ChatScheduledRuns
    from agent.runs.recorder import RunRecorder

log = logging.getLogger(__name__)

UNATTENDED_ANSWER_S = 60.0  # a question in a scheduled turn unanswered this long: nobody is at the terminal


def unattended_answer_s(env: Mapping[str, str]) -> float:
    """The time limit of a scheduled run's question; AGENT_UNATTENDED_ANSWER_S (seconds) is for tests."""
    try:
        value = float(env.get("AGENT_UNATTENDED_ANSWER_S", ""))
    except ValueError:
        return UNATTENDED_ANSWER_S
    return value if 0 < value < 86_400 else UNATTENDED_ANSWER_S
CTRL_D_CONFIRM_S = 5.0  # after Ctrl-D warned that session tasks will stop, a second one within this exits


class Repl:
    def __init__(self, args: argparse.Namespace, project: Path, *, out: TextIO,
                 env: dict[str, str] | None = None, unattended_answer_s: float = UNATTENDED_ANSWER_S,
                 session_id: str | None = None, resume_from: Path | None = None) -> None:
        self.args, self.project = args, project
        self.session_id, self.resume_from = session_id, resume_from  # saved sessions (agent -c / -r)
        self._resumed: LoadedTranscript | None = None
        self._resumed_line = ""  # "Resumed session … (N messages)", shown under the history
        self.env = dict(os.environ if env is None else env)
        self.unattended_answer_s = unattended_answer_s
        self.queue = CommandQueue()
        self.registry = default_registry(custom=self.custom_command_rows)
        self.custom = CustomCommands(project, self.env, self.registry.all_names, lambda w: self.renderer.warn(w))
        self.stats = SessionStats()
        self.renderer = Renderer(TerminalSink(out), color=terminal_supports_color(out, self.env),
                                 hyperlinks=terminal_has_hyperlinks(self.env),
                                 width=self._width, invalidate=self._invalidate)
        self.questions = QuestionBox(self._buffer, self._invalidate)
        self.prompt: PromptSession | None = None
        self.session: AgentSession | None = None
        self.scheduler: CronScheduler | None = None
        self.model_name: str | None = None
        self._conversation: Conversation | None = None
        self.recorder: RunRecorder | None = None  # run history of scheduled fires, made with the scheduler
        self.runs: ChatScheduledRuns | None = None
        self._ready = asyncio.Event()  # session, scheduler and model client (or its error) are there
        self._turn: asyncio.Task | None = None
        self._current: QueuedPrompt | None = None
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
        self._banner(clear=self.resume_from is not None)  # agent -c / -r: a clean screen, then where you were
        self._queue_first_message(getattr(self.args, "prompt", None))
        self._tasks += [asyncio.create_task(self._process_queue(), name="repl-queue"),
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
            self._tasks.append(asyncio.create_task(remember(text, self.project, self.env, self.questions,
                                                            self.renderer), name="repl-memory"))
            return
        if text.lstrip().startswith("!"):  # `!command`: the user runs it (agent.repl.shell_escape)
            echo = self.is_busy()  # queued: show the line again when it runs
            self._queue_prompt(text, job=lambda: self._shell_escape(text, echo=echo))
            return
        self._queue_prompt(text)

    def _queue_prompt(self, text: str, job: Callable[[], Awaitable[Any]] | None = None) -> None:
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
            self._queue_prompt(line)  # expanded when it runs, as scheduled ones are
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
        if self._conversation is not None:
            with contextlib.suppress(Exception):
                await self._conversation.end_session("prompt_input_exit")
        if self._conversation is not None and self._conversation.transcript is not None:
            self._conversation.transcript.sync(self._conversation.history)  # session tasks changed since
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.aclose()

    # -- loading after the first draw ---------------------------------------------------------------

    def _start_loading(self, app: Any) -> None:
        app.after_render -= self._start_loading
        self._tasks.append(asyncio.create_task(self._load(), name="repl-load"))

    async def _load(self) -> None:
        from agent.repl.trust_question import ask_workspace_trust

        try:
            await ask_workspace_trust(self.project, self.questions, self.renderer)  # before anything is honoured
            self.session, problem = await asyncio.to_thread(build_session, self.args, self.project,
                                                             self.reported_problems)
            if self.session is not None:  # a sandboxed command's new host is asked about here
                self.session.network.set_asker(self._network_question(), asyncio.get_running_loop())
            if problem:
                self.renderer.error(problem)
            self.session.hook_notify = self.renderer.warn
            self._route_mcp_reports()
            for warning in self.session.warnings(untrusted_keys=False):  # the question covered the rest
                self.renderer.warn(warning)
            if self.resume_from is not None:
                problem = await asyncio.to_thread(self._load_resumed)
                self._show_resumed(self._resumed)
                if problem:
                    self.renderer.warn(problem)
            await self._start_scheduler()
            self.custom_commands()  # problems with .claude/commands files, shown once
            problem = await asyncio.to_thread(self._load_model_client)
            if problem:
                self.renderer.error(problem)
            if self.session.mcp.awaiting:  # after start-up: the prompt does not wait for the answers
                from agent.repl.mcp_question import ask_mcp_approvals

                self._tasks.append(asyncio.create_task(
                    ask_mcp_approvals(self.session, self.questions, self.renderer), name="mcp-approval"))
        except Exception as exc:  # unexpected: say it in one line and keep what did start
            log.debug("start-up failed", exc_info=True)
            self.renderer.error(f"Start-up failed: {type(exc).__name__}: {exc}")
        finally:
            self._ready.set()
            self._invalidate()

    def _route_mcp_reports(self) -> None:
        """MCP servers report (died, restarting, reconnected) from their own thread: drawn on this loop."""
        assert self.session is not None
        loop = asyncio.get_running_loop()

        def report(line: str) -> None:
            loop.call_soon_threadsafe(self.renderer.warn, line)
        self.session.mcp.report = report
        for state in self.session.mcp.states.values():
            if state.status == "failed" and state.spec.problem:
                self.renderer.warn(state.spec.problem)
        for line in self.session.mcp.problems:
            self.renderer.warn(line)

    def _load_model_client(self) -> str | None:
        """In a worker thread: import the SDK and make the conversation. The error text, if any."""
        from agent.engine.llm import LLMError

        assert self.session is not None
        self.model_name = self.session.model
        try:
            self._conversation = self._new_conversation()
        except LLMError as exc:
            return f"{exc.message}, then restart agent. Slash commands work meanwhile."
        return None

    def _new_conversation(self) -> Conversation:
        from agent.engine.transcript import new_session_id, resume_into

        assert self.session is not None
        self.session_id = self.session_id or new_session_id()
        conversation = self.session.new_conversation(emit=self._emit, asker=self._ask, session_id=self.session_id)
        session = self.session
        conversation.cache_ttl = lambda: session.prompt_cache_ttl(
            durable=self.scheduler is not None and self.scheduler.is_owner)  # /loop 10m: a 1-hour cache
        if self._resumed is not None:
            resume_into(conversation, self._resumed, fork=bool(getattr(self.args, "fork_session", False)))
            conversation.session_source = "resume"
            self._resumed = None
        return conversation

    def _load_resumed(self) -> str | None:
        """In a worker thread: read the transcript to resume; its session tasks come back."""
        from agent.repl.resume import load_resumed

        assert self.session is not None and self.resume_from is not None
        self._resumed, problem, self._resumed_line = load_resumed(self.session, self.resume_from)
        return problem

    def _show_resumed(self, loaded: LoadedTranscript | None) -> None:
        """On the loop (the renderer is not thread-safe): the resumed conversation's last messages."""
        from agent.repl.resume_view import show_history

        if loaded is not None:
            show_history(self.renderer, loaded)
        if self._resumed_line:
            self.renderer.info(self._resumed_line)

    async def _start_scheduler(self) -> None:
        from agent.cron.scheduler import CronScheduler
        from agent.repl.scheduled_runs import ChatScheduledRuns
        from agent.runs.recorder import RunRecorder

        session = self.session
        assert session is not None
        recorder = RunRecorder.for_session(session, source="chat")
        runs = ChatScheduledRuns(recorder, self.renderer, self._stop_turn, session.cron, retry_later=self._on_fire)
        scheduler = CronScheduler(self.project, self._on_fire, self.is_busy, session_store=session.session_store,
                                  file_store=session.file_store, on_missed=self._on_missed,
                                  on_commit=runs.live.queue)  # each fire recorded `queued` as it is committed
        try:
            await scheduler.start()
        except Exception as exc:
            log.debug("scheduler failed to start", exc_info=True)
            self.renderer.error(f"The scheduler could not start ({exc}); scheduled tasks will not run.")
            return
        self.scheduler = scheduler
        self.recorder = recorder
        self.runs = runs

    # -- scheduler callbacks ------------------------------------------------------------------------

    def _on_fire(self, fired: FiredTask) -> None:
        self.queue.put(QueuedPrompt(fired.task.prompt, Priority.LATER, source="cron", task=fired))
        self._invalidate()

    def _on_missed(self, tasks: list[CronTask]) -> None:
        from agent.cron.missed import missed_notification
        from agent.cron.zone import local_zone

        count = f"{len(tasks)} one-shot tasks were" if len(tasks) > 1 else "A one-shot task was"
        self.renderer.warn(f"{count} due while no session ran ({', '.join(t.id for t in tasks)}); removed "
                           "from the schedule. Asking the model to check with you before running anything.")
        self.queue.put(QueuedPrompt(missed_notification(tasks, local_zone()), Priority.NEXT, source="missed"))

    def is_busy(self) -> bool:
        return self._turn is not None or bool(self.queue)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def turn_running(self) -> bool:
        return self._turn is not None

    # -- the queue processor and turns ----------------------------------------------------------------

    async def _process_queue(self) -> None:
        await self._ready.wait()
        while True:
            item = await self.queue.get()
            self._current = item
            turn = self._turn = asyncio.create_task(self._run_item(item), name="repl-turn")
            try:
                await asyncio.wait({turn})
            finally:
                if not turn.done():  # we are being cancelled (exit): end the turn with us
                    turn.cancel()
                    await asyncio.wait({turn})
                self._turn = self._current = None
                if self.scheduler is not None and not self.queue:
                    self.scheduler.wake()  # anything that fell due during the turn fires now
                self._invalidate()
            if not turn.cancelled() and turn.exception() is not None:
                exc = turn.exception()
                log.error("turn failed: %s: %s", type(exc).__name__, exc, exc_info=exc)

    async def _run_item(self, item: QueuedPrompt) -> None:
        if item.source == "command":
            await item.task()
            return
        conversation = self.conversation()
        if conversation is None:
            return
        fired = item.task if item.source == "cron" else None
        if item.source == "queued":
            self.renderer.user_prompt(item.text)
        from agent.engine.custom_commands import CommandNotFound, run_prompt
        from agent.repl.scheduled_runs import run_unrecorded

        assert self.session is not None  # a conversation exists only once the session does
        try:
            source = "user" if item.source == "queued" else item.source
            text = item.text
            if source == "user" and not is_command_line(text) and "@" in text:
                from agent.repl.attachments import attach_mentions

                text = await attach_mentions(text, self.session, self.renderer)

            transcript = getattr(conversation, "transcript", None)
            if source == "user" and transcript is not None:
                transcript.note_prompt(item.text)  # listed and resumed as typed, not expanded

            def turn(run_id: str | None = None) -> Awaitable[Any]:
                return run_prompt(conversation, self.session, text, commands=self.custom_commands(),
                                  scheduled_task=fired.task if fired is not None else None, source=source,
                                  run_id=run_id)

            if fired is not None:  # a fire gets the MCP servers too: wait for those still connecting (bounded)
                await asyncio.to_thread(self.session.mcp.wait_ready)
            if fired is not None and self.runs is not None:
                await self.runs.run(conversation, item.text, fired, turn)
            else:
                if fired is not None:
                    self.renderer.scheduled_header(fired.fired_ms, item.text)
                task = fired.task if fired is not None else item.task if item.source == "loop" else None
                await run_unrecorded(conversation, self.session, task, turn, self.renderer)
            if source == "user" and self.permission_mode() == "plan" and \
                    _ends_with_reply(getattr(conversation, "history", [])):
                self._tasks.append(asyncio.create_task(self._offer_to_proceed(), name="repl-plan"))
        except CommandNotFound as exc:
            task_id = task_id_of(item)
            run = f"This run of scheduled task {task_id} failed: " if task_id else ""
            self.renderer.error(f"{run}{exc}. Nothing was sent to the model.")
        except asyncio.CancelledError:
            task_id = task_id_of(item)
            if task_id:
                self.renderer.warn(f"Stopped this run of scheduled task {task_id}; the schedule itself is "
                                   f"still active. Stop it with /cron delete {task_id}")
            raise

    async def _offer_to_proceed(self) -> None:
        """Plan mode, as in Claude Code: after the plan, a question offers to carry it out."""
        from agent.repl.question import Option

        options = [Option("acceptEdits", "Yes, and auto-accept edits (acceptEdits mode)"),
                   Option("default", "Yes, and ask before each edit"),
                   Option("plan", "No, keep planning")]
        choice = await self.questions.ask("Ready to go ahead with this plan?", options)
        if choice is None or choice.answer not in ("acceptEdits", "default"):
            self.renderer.info("Still in plan mode: say what to change (Shift-Tab leaves it).")
            return
        self.set_permission_mode(choice.answer)
        self.renderer.info(f"Permission mode: {choice.answer}. Going ahead with the plan.")
        self._queue_prompt("Go ahead with the plan.")

    def _stop_turn(self) -> None:
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()

    def conversation(self) -> Conversation | None:
        if self._conversation is None and self.session is not None:
            from agent.engine.llm import LLMError

            try:
                self._conversation = self._new_conversation()
            except LLMError as exc:
                self.renderer.error(f"{exc.message}, then restart agent.")
        return self._conversation

    def _emit(self, event: Event) -> None:
        if self.runs is not None:
            self.runs.emit(event)
        self.stats.record(event)
        self.renderer.handle(event)

    async def _ask(self, tool: Any, args: Any, decision: Any) -> PermissionAnswer:
        """The permission question, as a menu in the prompt (see agent.repl.question)."""
        subject = tool.permission_subject(args) or tool.key_argument(args)
        rule = getattr(decision, "suggested_rule", None)
        scheduled = self._current if self._current is not None and self._current.source == "cron" else None
        task_id = task_id_of(scheduled) if scheduled is not None else None
        title, command = permission_title(tool.name, subject or "")
        asker = (f"Scheduled task {task_id or '?'} asks ({shorten(scheduled.text, 60)})"
                 if scheduled is not None else "")
        description = printable(str(getattr(args, "description", None) or "").strip())
        body = "" if getattr(decision, "conceal", False) else await self._change_body(tool, args)  # Read-denied
        self.renderer.waiting = True
        try:
            choice = await self.questions.ask(
                title, permission_options(rule, task_id), detail=printable(getattr(decision, "reason", "")), body=body,
                asker=asker, command=command, description=" ".join(description.split()),
                timeout=self.unattended_answer_s if scheduled is not None else None)
        finally:
            self.renderer.waiting = False
        if choice is None:  # the conversation tells the model (and the screen) that nobody answered
            return PermissionAnswer(False, unanswered=True)
        if choice.answer == "always" and rule and self.session is not None:
            self.session.policy.allow_for_session(rule)
        if choice.answer == "delete" and task_id:
            if await self._delete_scheduled_task(task_id):
                return PermissionAnswer(False, note=f"Stop this run: I deleted scheduled task {task_id}, so it "
                                                    "will not run again.")
            return PermissionAnswer(False)  # the deletion failed and said why on screen
        allowed = choice.answer in ("yes", "always")
        if allowed:  # a refusal is shown by the conversation's PermissionDenied event, with any note
            self.renderer.info(f"  {tool.name}: " + ("allowed once" if choice.answer == "yes"
                                                      else f"allowed for this session ({rule})"))
        return PermissionAnswer(allowed, note=choice.note, stop=choice.answer == "no")

    def _network_question(self) -> Any:
        from agent.repl.network_question import NetworkQuestion

        def scheduled() -> tuple[str, float] | None:
            item = self._current if self._current is not None and self._current.source == "cron" else None
            if item is None:
                return None
            return f"Scheduled task {task_id_of(item) or '?'} asks ({shorten(item.text, 60)})", self.unattended_answer_s

        return NetworkQuestion(self.questions, self.renderer, scheduled=scheduled)

    async def _delete_scheduled_task(self, task_id: str) -> bool:
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

    async def _change_body(self, tool: Any, args: Any) -> str:
        """An Edit or Write question's whole diff (ANSI, lines uncut: the question wraps them and pages
        what does not fit), shown between its title and its options; "" for other tools."""
        from agent.repl.diffs import question_body

        if tool.name not in ("Edit", "Write"):  # nothing to preview: ask at once
            return ""
        raw = args.model_dump() if hasattr(args, "model_dump") else dict(args or {})
        try:
            body = await asyncio.to_thread(question_body, tool.name, raw, self.project, color=self.renderer.color,
                                           width=None)
        except Exception:  # the question matters more than its diff
            log.exception("could not show the change for %s", tool.name)
            return ""
        return body.rstrip("\n")

    # -- ReplHost (what commands may use) ------------------------------------------------------------

    def between_turns(self, label: str, job: Callable[[], Awaitable[None]]) -> None:
        self.queue.put(QueuedPrompt(f"/{label}", Priority.NOW, source="command", task=job))

    async def resume_session(self, session_id: str, path: Path) -> None:
        """/resume: this chat continues the saved session at `path`; the screen shows where it was."""
        old = self._conversation
        self.session_id, self.resume_from = session_id, path
        problem = await asyncio.to_thread(self._load_resumed)
        loaded = self._resumed
        if loaded is None:
            self.renderer.error(problem or f"Cannot resume {path}.")
            return
        if old is not None and old.transcript is not None:
            old.transcript.sync(old.history)
        self._conversation = None
        self.conversation()  # the same model client; without one the history still shows
        self._banner(clear=True)
        self._show_resumed(loaded)
        if problem:
            self.renderer.warn(problem)

    def switch_model(self, model: str) -> None:
        from agent.engine.llm import LLMError

        assert self.session is not None
        self.session.set_model(model)
        self.model_name = self.session.model
        conversation = self._conversation
        if conversation is not None:
            old = conversation.llm
            try:
                conversation.llm = self.session.llm()
            except LLMError as exc:
                self.renderer.error(exc.message)
                return
            self._tasks.append(asyncio.create_task(old.aclose()))

    def request_exit(self) -> None:
        self._exit_requested = True
        app = self.prompt.app if self.prompt is not None else None
        if app is not None and app.is_running and not app.is_done:
            app.exit(exception=EOFError)

    def schedule_changed(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wake()
        self._invalidate()

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
        self._stop_turn()
        self._invalidate()

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
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()
        elif buffer.text:
            buffer.reset()
        elif time.monotonic() - self.last_ctrl_c < EXIT_CONFIRM_S:
            self.request_exit()
        else:
            self.last_ctrl_c = time.monotonic()
        self._invalidate()

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
            await asyncio.sleep(0.1 if self._turn is not None else 1.0)
            if self._turn is not None or self._clock_text_changed():
                self._invalidate()

    def _clock_text_changed(self) -> bool:
        shown = (toolbar_fragments(self), hint_fragments(self))
        changed, self._clock_text = shown != self._clock_text, shown
        return changed

    def _invalidate(self) -> None:
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


def _ends_with_reply(history: list[dict[str, Any]]) -> bool:
    """The turn ended with the model's text (a plan), not a refusal or an error."""
    if not history or history[-1].get("role") != "assistant":
        return False
    content = history[-1].get("content")
    return isinstance(content, list) and any(b.get("type") == "text" and str(b.get("text", "")).strip()
                                             for b in content if isinstance(b, dict))


def run_repl(args: argparse.Namespace, project: Path) -> int:
    """`agent` with no prompt: the chat in `project`, until /exit, Ctrl-D or Ctrl-C twice."""
    if not sys.stdin.isatty():
        print('agent: the chat needs a terminal; for piped input use agent -p "..."', file=sys.stderr)
        return 2
    out = sys.stdout

    from agent.engine.transcript import SessionChoiceError
    from agent.repl.resume import resolve_chat_session

    try:
        session_id, resume_from = resolve_chat_session(args, project, os.environ, out)
        if resume_from is not None and getattr(args, "fork_session", False):
            from agent.engine.transcript import new_session_id

            session_id = new_session_id()  # --fork-session: the resumed history goes on under a new id
    except SessionChoiceError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return 1

    async def main() -> int:
        repl = Repl(args, project, out=out, session_id=session_id, resume_from=resume_from,
                    unattended_answer_s=unattended_answer_s(os.environ))
        handlers = route_logging(repl.renderer, state_dir(repl.env), repl.reported_problems,
                                 verbose=bool(getattr(args, "verbose", False) or getattr(args, "debug", False)))
        try:
            return await repl.run()
        finally:
            for handler in handlers:
                logging.getLogger().removeHandler(handler)

    with patch_stdout(raw=True):  # stray writes to stdout/stderr still land above the prompt
        code = asyncio.run(main())
    # Everything is closed by now. With the SDK loaded, the interpreter's final garbage collection
    # takes about 0.6 s; freezing the heap skips it, so Ctrl-D feels instant.
    gc.freeze()
    return code


__all__ = ["Repl", "run_repl"]
