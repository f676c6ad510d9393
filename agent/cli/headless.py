"""`agent -p`: one full turn with tools, no terminal UI, then exit.

Output follows Claude Code's `-p` (see `stream_json`): `text` prints the final answer; `json` prints
one result object at the end; `stream-json` prints Claude Code's message stream, one JSON object per
line. The result object is printed on every failure too (no key, 401, unreachable API, max turns), with
`is_error: true`. Nobody can answer permission questions here, so what settings and flags do not allow
is denied and the model is told why. Exit status: 0 success, 1 the model call or the turn failed, 2 bad
usage.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from agent import __version__
from agent.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, builtin_names, resume_gc
from agent.cli.result_object import ModelLimits
from agent.cli.stream_json import OutputWriter, RunOutcome
from agent.cli.text_input import read_text
from agent.engine.custom_commands import CommandNotFound, CommandSet, load_commands, parse_command_line, run_prompt
from agent.engine.session import AgentSession, SessionOptions
from agent.engine.transcript import (
    SessionChoiceError,
    choose_session,
    new_session_id,
    read_transcript,
    restore_session_tasks,
    resume_into,
)
from agent.permissions.rules import PermissionConfigError
from agent.permissions.sandbox.runner import SandboxUnavailable
from agent.settings import SettingsError, SettingsRuleError

log = logging.getLogger(__name__)


def read_prompt(args: argparse.Namespace, stdin: TextIO) -> str:
    """The prompt argument, with piped stdin appended (as `git diff | agent -p "review"` expects)."""
    parts = [args.prompt] if args.prompt else []
    if not stdin.isatty():
        piped = read_text(stdin)
        if piped.strip():
            parts.append(piped)
    prompt = "\n\n".join(parts).strip()
    if not prompt:
        raise UsageError('agent: -p needs a prompt: agent -p "..." or pipe text on stdin')
    return prompt


def check_flags(args: argparse.Namespace) -> None:
    if args.max_turns is not None and args.max_turns < 1:
        raise UsageError("agent: --max-turns must be at least 1")
    streaming_in = getattr(args, "input_format", "text") == "stream-json"
    if streaming_in and args.output_format != "stream-json":
        raise UsageError("agent: --input-format stream-json needs --output-format stream-json")
    if getattr(args, "include_partial_messages", False) and args.output_format != "stream-json":
        raise UsageError("agent: --include-partial-messages needs --output-format stream-json")
    if streaming_in and args.prompt:
        raise UsageError("agent: with --input-format stream-json the prompts come from stdin, not an argument")


def run_headless(args: argparse.Namespace, project: Path) -> int:
    # Claude Code requires --verbose for stream-json; there it means "the full stream", not debug logs.
    debug = (args.verbose and args.output_format != "stream-json") or getattr(args, "debug", False)
    logging.basicConfig(level=logging.DEBUG if debug else logging.ERROR,
                        format="agent: %(message)s", stream=sys.stderr)
    for stream in (sys.stdout, sys.stderr):  # a stray surrogate prints as "?", never a traceback
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="replace")  # type: ignore[union-attr]
    check_flags(args)
    streaming_in = getattr(args, "input_format", "text") == "stream-json"
    prompt = None if streaming_in else read_prompt(args, sys.stdin)
    if getattr(args, "resume", None) == "":
        raise UsageError("agent: -p --resume needs a session id (agent --resume without -p lists them)")
    started = time.monotonic()
    writer = OutputWriter(args.output_format, getattr(args, "session_id", None) or str(uuid.uuid4()),
                          verbose=args.verbose)
    try:
        options = SessionOptions.from_args(args, headless=True)
        options.kept_open = streaming_in  # stdin stays open: session-only tasks fire in this process
        session = AgentSession(project, options)
        session.sandbox.require(scheduled=False)  # sandbox.failIfUnavailable: no sandbox, no run
        writer.session_id, resume_from = choose_session(
            project, session.env, continue_latest=bool(getattr(args, "continue_session", False)),
            resume=getattr(args, "resume", None), session_id=getattr(args, "session_id", None))
        if getattr(args, "fork_session", False):  # the resumed history goes on under a new id
            writer.session_id = new_session_id()
    except (SettingsError, SessionChoiceError, PermissionConfigError, SandboxUnavailable) as exc:
        writer.result(RunOutcome.failure(str(exc), _ms_since(started)))
        bad_rule = isinstance(exc, (PermissionConfigError, SettingsRuleError))  # a typo: exit 2, as bad flags
        return EXIT_USAGE if bad_rule else EXIT_FAILURE
    print_warnings(session.warnings())
    session.mcp.report = lambda line: print_warnings([line])
    print_warnings(wait_for_mcp(session))
    run = HeadlessRun(session, writer, include_partial=bool(getattr(args, "include_partial_messages", False)),
                      resume_from=resume_from)
    run.replay_user_messages = bool(getattr(args, "replay_user_messages", False))
    run.fork = bool(getattr(args, "fork_session", False))
    if streaming_in:
        from agent.cli.stream_input import serve_stream_input

        return asyncio.run(serve_stream_input(run, sys.stdin))
    assert prompt is not None
    return asyncio.run(run.run_once(prompt))


def print_warnings(lines: list[str], prog: str = "agent") -> None:
    """Start-up warnings of a face with no screen: one line each on stderr (stdout stays the output)."""
    for line in lines:
        print(f"{prog}: warning: {line}", file=sys.stderr)


def check_not_builtin(prompt: str, commands: CommandSet) -> None:
    """A built-in chat command cannot run here; say so rather than sending its text to the model."""
    parsed = parse_command_line(prompt)
    if parsed is None or parsed[0] not in builtin_names():
        return
    name = parsed[0]
    shadowed = commands.shadowed.get(name)
    note = f" (the file {shadowed.path} is ignored: built-in commands win)" if shadowed else ""
    raise CommandNotFound(f"/{name} is a chat command and does not run with -p{note}")


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def wait_for_mcp(session: AgentSession) -> list[str]:
    """-p waits (bounded by MCP_TIMEOUT) for its MCP servers before the first request; what to warn about."""
    mcp = session.mcp
    mcp.wait_ready()
    lines = list(mcp.problems)
    for state in mcp.states.values():
        if state.status == "failed":
            lines.append(f"MCP server {state.name} failed to connect: {state.error}")
        elif state.status == "pending":
            lines.append(f"MCP server {state.name} is still connecting (MCP_TIMEOUT); its tools are not offered")
        elif state.status == "disabled":
            lines.append(f"MCP server {state.name} of .mcp.json was not started: {state.error}")
    return lines


class HeadlessRun:
    """One `-p` session: its conversation (made on first use) and its output."""

    def __init__(self, session: AgentSession, writer: OutputWriter, *, include_partial: bool = False,
                 resume_from: Path | None = None) -> None:
        self.session, self.writer, self.include_partial = session, writer, include_partial
        self.resume_from = resume_from
        self.conversation: Any = None
        self.replay_user_messages = False  # --replay-user-messages (stream-json input)
        self.fork = False  # --fork-session: the resumed history is saved under a new session id
        self.listeners: list[Any] = []  # also told every event (the run history of scheduled fires)
        self._warned: set[str] = set()  # warnings about command files already on stderr

    def write_init(self) -> None:
        env = self.session.env
        key_source = next((name for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN") if env.get(name)),
                          "none")
        self.writer.init(cwd=str(self.session.project_dir), model=self.session.model,
                         tools=self.session.tools.names(), permission_mode=self.session.policy.mode.value,
                         slash_commands=self.slash_commands(), api_key_source=key_source, version=__version__,
                         agents=list(getattr(self.session, "agent_types", {})),
                         mcp_servers=self.session.mcp.init_entries())

    def slash_commands(self) -> list[str]:
        from agent.mcp.prompts import prompt_command

        mcp_prompts = [prompt_command(server, prompt.name) for server, prompt in self.session.mcp.prompts()]
        return [*builtin_names(), *self.commands().names(), *mcp_prompts]

    def commands(self) -> CommandSet:
        """The custom commands as the files are now (re-read for each prompt, as they may change)."""
        commands = load_commands(self.session.project_dir, self.session.env, builtin_names())
        if commands.outside and commands.outside not in self._warned:  # once, however often re-read
            self._warned.add(commands.outside)
            print_warnings([commands.outside])
        return commands

    def ensure_conversation(self) -> Any:
        """The conversation, made on first use; raises LLMError (no key, say)."""
        if self.conversation is None:
            conversation = self.session.new_conversation(emit=self._emit, session_id=self.writer.session_id)
            conversation.cache_ttl = self.session.prompt_cache_ttl  # session tasks (stream-json /loop) decide
            if self.include_partial:
                conversation.llm.raw_events = True
            self.writer.partial = self.include_partial
            self.writer.limits = ModelLimits(conversation.llm.model, conversation.llm.context_window,
                                             conversation.llm.max_tokens)
            if self.resume_from is not None:
                try:
                    loaded = read_transcript(self.resume_from)
                except OSError as exc:
                    raise SessionChoiceError(f"cannot read {self.resume_from}: {exc.strerror or exc}") from None
                if loaded.warning:
                    print(f"agent: warning: {loaded.warning}", file=sys.stderr)
                resume_into(conversation, loaded, fork=self.fork)
                conversation.session_source = "resume"
                self.writer.totals.restore(loaded.total_cost_usd, loaded.model_usage)
                restore_session_tasks(self.session.cron, loaded.tasks, int(time.time() * 1000))
            self.conversation = conversation
            resume_gc()  # start-up is over (see pause_gc_for_start_up)
        return self.conversation

    def _emit(self, event: Any) -> None:
        self.writer.event(event)
        for listener in self.listeners:
            listener(event)

    async def run_once(self, prompt: str) -> int:
        """The whole of a plain `-p` run: init, one turn, result, close."""
        self.write_init()
        try:
            outcome = await self.turn(prompt)
        finally:
            await self.end_session()
            await self.session.aclose()
        return EXIT_FAILURE if outcome.is_error else EXIT_OK

    async def end_session(self, reason: str = "other") -> None:
        if self.conversation is not None:
            await self.conversation.end_session(reason)

    async def turn(self, prompt: str, *, scheduled_task: Any = None, run_id: str | None = None) -> RunOutcome:
        """Run one prompt and write its result; every failure becomes an error result."""
        outcome, _turn = await self.recorded_turn(prompt, scheduled_task=scheduled_task, run_id=run_id)
        return outcome

    async def recorded_turn(self, prompt: str, *, scheduled_task: Any = None,
                            run_id: str | None = None) -> tuple[RunOutcome, Any]:
        """`turn`, also giving the conversation's TurnResult (None when it failed before the model)."""
        from agent.engine.llm import LLMError

        started = time.monotonic()
        commands = self.commands()
        turn = None
        try:
            check_not_builtin(prompt, commands)
            conversation = self.ensure_conversation()
            turn = await run_prompt(conversation, self.session, prompt, commands=commands,
                                    scheduled_task=scheduled_task, run_id=run_id)
        except LLMError as exc:  # before any request: no key, say
            outcome = RunOutcome.api_failure(exc.message, status=exc.status, unreachable=False,
                                             duration_ms=_ms_since(started))
        except (CommandNotFound, SessionChoiceError) as exc:
            outcome = RunOutcome.failure(str(exc), _ms_since(started))
        else:
            outcome = RunOutcome.from_turn(turn)
        self.writer.result(outcome)
        writer = getattr(self.conversation, "transcript", None)
        if writer is not None:
            writer.record_cost(self.writer.totals.cost_usd, self.writer.totals.saved())
        return outcome, turn

__all__ = ["HeadlessRun", "check_flags", "print_warnings", "read_prompt", "run_headless"]
