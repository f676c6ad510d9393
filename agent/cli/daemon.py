"""`agent daemon`: serve a project's durable scheduled tasks with no terminal.

It takes the project lock like any session (so it and interactive sessions never both fire a task),
and runs each fire as one headless turn in a fresh conversation: a scheduled prompt is self-contained,
and a fresh context keeps a week of fires from piling up in one history. Nobody can answer permission
questions, so tools run only as far as settings allow (`permissions.allow`, `--allowedTools`). Output is
one line per event on stdout, for a log file or journald.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from agent.cli.common import EXIT_FAILURE, EXIT_OK, PERMISSION_MODES, Parser, UsageError, builtin_names

log = logging.getLogger("agent.cli.daemon")


def build_daemon_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="agent daemon",
        description="Run this project's durable scheduled tasks (.claude/scheduled_tasks.json) with no "
        "terminal. Each fire runs as one headless turn; tools run only as far as settings allow. "
        "Stop with Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--cwd", type=Path, default=None, help="project folder (default: current folder)")
    parser.add_argument("--model", help="model name (default: ANTHROPIC_MODEL, settings, or built-in)")
    parser.add_argument("--max-turns", type=int, default=None, help="model requests allowed per fire")
    parser.add_argument("--permission-mode", choices=PERMISSION_MODES, default=None)
    parser.add_argument("--allowedTools", "--allowed-tools", dest="allowed_tools", action="append", default=[],
                        metavar="RULES", help='allow rules, e.g. "Bash(npm test:*) Edit"')
    parser.add_argument("--disallowedTools", "--disallowed-tools", dest="disallowed_tools", action="append",
                        default=[], metavar="RULES", help="deny rules")
    parser.add_argument("--append-system-prompt", default=None, help="text added to the system prompt")
    parser.add_argument("--verbose", action="store_true", help="log debug detail to stderr")
    return parser


def _stamp() -> str:
    return datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")


def say(text: str) -> None:
    print(f"{_stamp()} {text}", flush=True)


def run_daemon_cli(argv: Sequence[str]) -> int:
    from agent.settings import SettingsError

    try:
        args = build_daemon_parser().parse_args(list(argv))
        project = (args.cwd or Path.cwd()).expanduser()
        if not project.is_dir():
            raise UsageError(f"agent daemon: --cwd {project} is not a folder")
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s agent daemon: %(message)s", stream=sys.stderr)
    from agent.engine.session import AgentSession, SessionOptions

    try:
        session = AgentSession(project.resolve(), SessionOptions.from_args(args, headless=True))
    except SettingsError as exc:
        print(f"agent daemon: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return asyncio.run(Daemon(session).serve())


class Daemon:
    """The scheduler wired to a queue of headless turns, one at a time."""

    def __init__(self, session) -> None:
        from agent.cron.scheduler import CronScheduler

        self.session = session
        self.queue: asyncio.Queue = asyncio.Queue()
        self.running = False
        self.scheduler = CronScheduler(
            session.project_dir, self.queue.put_nowait, self.is_busy,
            session_store=session.session_store, file_store=session.file_store,
            on_missed=self.report_missed, on_owner_change=self.report_owner,
        )

    def is_busy(self) -> bool:
        return self.running or not self.queue.empty()

    def report_owner(self, owner: bool) -> None:
        say("holding the project lock: firing durable tasks" if owner
            else "another session holds the project lock: waiting (it fires the tasks meanwhile)")

    def report_missed(self, tasks) -> None:
        for task in tasks:
            say(f"missed one-shot {task.id} ({task.cron}) was due while nothing ran; not run, since nobody "
                f"can confirm it here. Its prompt: {task.prompt!r}")

    async def serve(self) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        say(f"agent daemon serving {self.session.file_store.path} (model {self.session.model})")
        await self.scheduler.start()
        worker = asyncio.create_task(self.work())
        try:
            await stop.wait()
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            await self.scheduler.stop()
            await self.session.aclose()
            say("stopped")
        return EXIT_OK

    async def work(self) -> None:
        from agent.engine.custom_commands import CommandNotFound, load_commands, run_prompt
        from agent.engine.llm import LLMError

        while True:
            fired = await self.queue.get()
            self.running = True
            task = fired.task
            say(f"running scheduled task {task.id} ({task.cron}): {task.prompt}")
            try:
                conversation = self.session.new_conversation()
                commands = load_commands(self.session.project_dir, self.session.env, builtin_names())
                turn = await run_prompt(conversation, self.session, task.prompt, commands=commands,
                                        scheduled_task=task)
            except LLMError as exc:
                say(f"task {task.id} failed: {exc.message}")
            except CommandNotFound as exc:
                say(f"task {task.id} failed: {exc}; nothing was sent to the model")
            else:
                if turn.result_text:
                    say(f"task {task.id} result:\n{turn.result_text}")
                cost = "unknown cost" if turn.cost_usd is None else f"${turn.cost_usd:.4f}"
                status = f"failed: {turn.error}" if turn.is_error else "done"
                requests = f"{turn.num_requests} request{'s' if turn.num_requests != 1 else ''}"
                say(f"task {task.id} {status} ({requests}, {cost})")
            finally:
                self.running = False
                self.scheduler.wake()
