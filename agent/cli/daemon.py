"""`agent daemon`: serve a project's durable scheduled tasks with no terminal.

It takes the project lock like any session (so it and interactive sessions never both fire a task),
and runs each fire as one headless turn in a fresh conversation: a scheduled prompt is self-contained,
and a fresh context keeps a week of fires from piling up in one history. Nobody can answer permission
questions, so tools run only as far as settings allow (`permissions.allow`, `--allowedTools`).

Each fire goes through `ScheduledRunner` (gate, retries, limits) and is recorded in the run history.
Output is one line per event on stdout (and `--log-file`, rotated), for a log file or journald.
Exit status: 0 after a clean stop, 2 for bad usage, 1 when it cannot serve (no credentials, bad
settings). SIGTERM lets the running turn finish for `--grace` seconds, then stops it (`interrupted`);
SIGHUP re-reads the settings files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    PERMISSION_MODES,
    Parser,
    UsageError,
    builtin_names,
    check_rule_flags,
    project_dir,
)

log = logging.getLogger("agent.cli.daemon")
events = logging.getLogger("agent.daemon.events")  # the one-line-per-event output

LOG_FILE_BYTES = 5_000_000
LOG_FILE_BACKUPS = 3
DEFAULT_GRACE_S = 30.0
GAP_CHECK_S = 3600.0


def build_daemon_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="agent daemon",
        description="Run this project's durable scheduled tasks (.claude/scheduled_tasks.json) with no "
        "terminal. Each fire runs as one headless turn; tools run only as far as settings allow. "
        "Stop with Ctrl-C or SIGTERM; SIGHUP re-reads settings. Exit status: 0 clean stop, 1 cannot "
        "serve (e.g. no credentials), 2 bad usage.",
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
    parser.add_argument("--log-file", type=Path, default=None, metavar="PATH",
                        help=f"also log to PATH, rotated at {LOG_FILE_BYTES // 1_000_000} MB")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, metavar="SECONDS",
                        help=f"on SIGTERM, let a running turn finish this long (default {DEFAULT_GRACE_S:.0f})")
    parser.add_argument("--verbose", action="store_true", help="log debug detail to stderr")
    return parser


def _local(ms: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


def say(text: str) -> None:
    events.info("%s", text)


def _setup_logging(verbose: bool, log_file: Path | None) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s agent daemon: %(message)s", stream=sys.stderr, force=True)
    out = logging.StreamHandler(sys.stdout)
    out.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    events.handlers[:] = [out]
    events.setLevel(logging.INFO)
    events.propagate = False
    if log_file is not None:
        from agent.settings.private import PrivateRotatingFileHandler

        rotating = PrivateRotatingFileHandler(log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS,
                                       encoding="utf-8")
        rotating.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        events.addHandler(rotating)
        logging.getLogger().addHandler(rotating)  # warnings (failed alerts, history) too


def run_daemon_cli(argv: Sequence[str]) -> int:
    from agent.settings import SettingsError

    try:
        args = build_daemon_parser().parse_args(list(argv))
        from agent.cli.text_input import clean_args

        clean_args(args, "agent daemon")  # undecodable bytes as U+FFFD; a --model that is no name: exit 2
        project = project_dir(args.cwd, "agent daemon")
        check_rule_flags("agent daemon", args.allowed_tools, args.disallowed_tools)
        if args.grace < 0:
            raise UsageError("agent daemon: --grace must be 0 or more seconds")
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    try:
        _setup_logging(args.verbose, args.log_file)
    except OSError as exc:
        print(f"agent daemon: cannot write the log file {args.log_file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    from agent.engine.llm import LLMError
    from agent.engine.session import AgentSession, SessionOptions
    from agent.permissions.policy import PermissionConfigError
    from agent.permissions.sandbox.runner import SandboxUnavailable

    try:
        session = AgentSession(project, SessionOptions.from_args(args, headless=True))
        for line in session.warnings():  # settings of an untrusted folder that are ignored, and why
            print(f"agent daemon: warning: {line}", file=sys.stderr)
        session.sandbox.require(scheduled=True)  # sandbox.failIfUnavailable: fires run sandboxed or not at all
        session.llm()  # no credentials: say so before taking the lock, so a chat with a key keeps firing
        session.mcp.report = lambda line: print(f"agent daemon: {line}", file=sys.stderr, flush=True)
        from agent.cli.headless import wait_for_mcp

        for line in wait_for_mcp(session):  # fires due now get the servers too (bounded: MCP_TIMEOUT)
            print(f"agent daemon: warning: {line}", file=sys.stderr)
    except (SettingsError, PermissionConfigError) as exc:
        print(f"agent daemon: {exc}", file=sys.stderr)
        return EXIT_FAILURE if type(exc) is SettingsError else EXIT_USAGE
    except LLMError as exc:
        print(f"agent daemon: cannot serve: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except SandboxUnavailable as exc:
        print(f"agent daemon: cannot serve: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return asyncio.run(Daemon(session, grace_s=args.grace).serve())


class Daemon:
    """The scheduler wired to a queue of headless turns, one at a time."""

    def __init__(self, session, *, grace_s: float = DEFAULT_GRACE_S) -> None:
        from agent.cron.scheduler import CronScheduler
        from agent.runs.recorder import RunRecorder
        from agent.runs.scheduled import ScheduledRunner

        self.session = session
        self.grace_s = grace_s
        self.queue: asyncio.Queue = asyncio.Queue()
        self.running = False
        self.recorder = RunRecorder.for_session(session, source="daemon")
        self.notifier = self.recorder.notifier
        self.runner = ScheduledRunner(session, self.recorder, say=say, builtin_commands=builtin_names())
        self.scheduler = CronScheduler(
            session.project_dir, self.queue.put_nowait, self.is_busy,
            session_store=session.session_store, file_store=session.file_store,
            on_missed=self.report_missed, on_owner_change=self.report_owner, on_lock_wait=say,
        )
        self._pending: set[asyncio.Task] = set()
        self._draining = False
        self.gap_check_s = GAP_CHECK_S

    def is_busy(self) -> bool:
        return self.running or not self.queue.empty()

    def report_owner(self, owner: bool) -> None:
        if owner:
            say("holding the project lock: firing durable tasks")
            return
        try:
            holder = self.scheduler.lock.holder()
        except OSError:
            holder = None
        who = f" (pid {holder.pid}, session {holder.session_id})" if holder is not None else ""
        say(f"another session holds the project lock{who}: waiting (it fires the tasks meanwhile)")

    def report_missed(self, tasks) -> None:
        for task in tasks:
            reason = "missed one-shot: it was due while nothing ran; not run, since nobody can confirm it here"
            say(f"missed one-shot {task.id} ({task.cron}) was due while nothing ran; not run, since nobody "
                f"can confirm it here. Its prompt: {task.prompt!r}")
            self._background(self.recorder.record_blocked(task, None, "skipped", reason))

    def reload_settings(self) -> None:
        from agent.settings import SettingsError, load_settings

        try:
            self.session.settings = load_settings(self.session.project_dir)
        except SettingsError as exc:
            say(f"SIGHUP: settings not reloaded: {exc}")
            return
        say("SIGHUP: settings reloaded")
        for line in self.session.warnings():
            say(f"warning: {line}")

    def _background(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def serve(self) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reload_settings)
        say(f"agent daemon serving {self.session.file_store.path} (model {self.session.model})")
        try:
            await self.scheduler.start()
        except Exception as exc:  # cannot serve: one line, exit 1
            print(f"agent daemon: cannot start the scheduler: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        worker = asyncio.create_task(self.work())
        gap_watch = asyncio.create_task(self.watch_gaps())
        try:
            await stop.wait()
        finally:
            gap_watch.cancel()
            await asyncio.gather(gap_watch, return_exceptions=True)
            await self._stop_worker(worker)
            await self.scheduler.stop()
            await asyncio.gather(*self._pending, return_exceptions=True)
            await self.notifier.drain()
            await self.session.aclose()
            say("stopped")
        return EXIT_OK

    async def watch_gaps(self) -> None:
        """At start-up and every hour: expected fires that left no record, each reported once."""
        from agent.cron.store import TaskFileError
        from agent.cron.zone import local_zone

        while True:
            try:
                tasks = (await asyncio.to_thread(self.session.file_store.load)).tasks
            except TaskFileError:
                tasks = []
            for gap in await self.recorder.check_gaps(tasks, local_zone()):
                say(f"gap: task {gap.task_id} was due at {_local(gap.slot_ms)} and has no record: {gap.reason}")
            await asyncio.sleep(self.gap_check_s)

    async def _stop_worker(self, worker: asyncio.Task) -> None:
        """Let a running turn finish within the grace period, then cancel it (recorded `interrupted`)."""
        if self.running and self.grace_s > 0:
            say(f"stopping: letting the running task finish (up to {self.grace_s:.0f}s)")
            self._draining = True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._idle()), self.grace_s)
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)

    async def _idle(self) -> None:
        while self.running:
            await asyncio.sleep(0.05)

    async def work(self) -> None:
        while True:
            fired = await self.queue.get()
            if self._draining:  # already committed to the file: say so rather than leave a silent gap
                await self.recorder.record_blocked(fired.task, fired.due_ms, "interrupted",
                                                   "the daemon was stopping before this fire could run")
                continue
            self.running = True
            try:
                await self.runner.run(fired)
            except asyncio.CancelledError:
                raise
            except Exception:  # one broken run must not end the service
                log.exception("scheduled task %s failed unexpectedly", fired.task.id)
            finally:
                self.running = False
                self.scheduler.wake()
