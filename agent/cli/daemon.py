"""`agent daemon`: serve a project's durable scheduled tasks with no terminal.

It takes the project lock like any session (so it and interactive sessions never both fire a task),
and runs each fire as one headless turn in a fresh conversation: a scheduled prompt is self-contained,
and a fresh context keeps a week of fires from piling up in one history. Nobody can answer permission
questions, so tools run only as far as settings allow (`permissions.allow`, `--allowedTools`).

Each fire is recorded `queued` as it is committed, then goes through `ScheduledRunner` (gate, retries,
limits, time limit) and is recorded in the run history. Different tasks run side by side, up to
`cron.maxConcurrentRuns` (default 4); a task whose previous run still goes is recorded `skipped`, and
so is a fire that cannot start within its starting deadline. At start-up, records left open by a
process that died are closed `interrupted`, and the history is pruned (start-up and daily).
Output is one line per event on stdout (and `--log-file`, rotated), for a log file or journald.
Exit status: 0 after a clean stop, 2 for bad usage, 1 when it cannot serve (no credentials, bad
settings). SIGTERM lets the running turn finish for `--grace` seconds, then stops it (`interrupted`);
SIGHUP re-reads the settings files.
"""

from __future__ import annotations

import argparse
import asyncio
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
PRUNE_EVERY_S = 86400.0


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
    from agent.permissions.rules import PermissionConfigError
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
    """The scheduler wired to headless runs: different tasks in parallel up to `cron.maxConcurrentRuns`,
    one task never beside itself, each fire recorded `queued` as it is committed."""

    def __init__(self, session, *, grace_s: float = DEFAULT_GRACE_S) -> None:
        from agent.cron.policy import max_concurrent_runs
        from agent.cron.scheduler import CronScheduler
        from agent.runs.recorder import RunRecorder
        from agent.runs.scheduled import ScheduledRunner
        from agent.runs.slots import RunSlots

        self.session = session
        self.grace_s = grace_s
        self.recorder = RunRecorder.for_session(session, source="daemon")
        self.notifier = self.recorder.notifier
        self.runner = ScheduledRunner(session, self.recorder, say=say, builtin_commands=builtin_names())
        self.slots = RunSlots(max_concurrent_runs(session.settings.get("cron")))
        self.scheduler = CronScheduler(
            session.project_dir, self.on_fire, self.is_busy,
            session_store=session.session_store, file_store=session.file_store,
            on_missed=self.report_missed, on_owner_change=self.report_owner, on_lock_wait=say,
            on_commit=self.on_commit,
        )
        self._pending: set[asyncio.Task] = set()
        self._queued: dict[tuple[str, int], object] = {}  # (task id, fired_ms) -> its `queued` record
        self._active: dict[str, asyncio.Task] = {}  # task id -> its run (one per task at a time)
        self._draining = False
        self.gap_check_s = GAP_CHECK_S
        self.prune_every_s = PRUNE_EVERY_S

    @property
    def running(self) -> bool:
        return any(not run.done() for run in self._active.values())

    def is_busy(self) -> bool:
        return False  # runs go side by side; RunSlots bounds them and on_fire keeps a task from overlapping

    async def on_commit(self, fires) -> None:
        self._queued.update(await self.recorder.queue(fires))

    def on_fire(self, fired) -> None:
        task = fired.task
        record = self._queued.pop((task.id, fired.fired_ms), None)
        if self._draining:  # already committed to the file: say so rather than leave a silent gap
            self._background(self.recorder.record_blocked(
                task, fired.due_ms, "interrupted", "the daemon was stopping before this fire could run", record))
            return
        previous = self._active.get(task.id)
        if previous is not None and not previous.done():
            reason = "its previous run is still going (a task never runs beside itself)"
            say(f"task {task.id} not run (skipped): {reason}")
            self._background(self.recorder.record_blocked(task, fired.due_ms, "skipped", reason, record))
            return
        run = asyncio.get_running_loop().create_task(self._run(fired, record))
        self._active[task.id] = run
        run.add_done_callback(lambda done: self._active.pop(task.id, None) if self._active.get(task.id) is done
                              else None)

    async def _run(self, fired, record) -> None:
        from agent.cron.policy import start_deadline_ms
        from agent.runs.recorder import slot_end_ms

        task = fired.task
        started = False
        try:
            async with self.slots.held() as slot:
                late_ms = self.recorder.now_ms() - fired.fired_ms
                next_ms = slot_end_ms(self.session.cron, fired)
                deadline = start_deadline_ms(self.recorder.policy(task),
                                             None if next_ms is None else next_ms - fired.fired_ms)
                if late_ms > deadline:
                    reason = (f"late: it could not start within {deadline / 1000:g} s of its fire (waited "
                              f"{late_ms / 1000:.0f} s for one of {self.slots.limit} run slots; "
                              "cron.maxConcurrentRuns, cron.startingDeadlineS)")
                    say(f"task {task.id} not run (skipped): {reason}")
                    await self.recorder.record_blocked(task, fired.due_ms, "skipped", reason, record)
                    return
                started = True
                await self.runner.run(fired, record=record, slot=slot)
        except asyncio.CancelledError:
            if not started:
                await self.recorder.record_blocked(task, fired.due_ms, "interrupted",
                                                   "the daemon was stopping before this fire could run", record)
            raise
        except Exception:  # one broken run must not end the service
            log.exception("scheduled task %s failed unexpectedly", task.id)
        finally:
            self.scheduler.wake()

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
        await self.recover()
        try:
            await self.scheduler.start()
        except Exception as exc:  # cannot serve: one line, exit 1
            print(f"agent daemon: cannot start the scheduler: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        watchers = [asyncio.create_task(self.watch_gaps()), asyncio.create_task(self.prune_daily())]
        try:
            await stop.wait()
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            await self._stop_runs()
            await self.scheduler.stop()
            await asyncio.gather(*self._pending, return_exceptions=True)
            await self.notifier.drain()
            await self.session.aclose()
            say("stopped")
        return EXIT_OK

    async def recover(self) -> None:
        """Before serving: close the records of runs whose process died (`interrupted`), and keep the
        branches of their worktrees while removing the folders."""
        from agent.runs.recovery import recover_orphans

        for line in await recover_orphans(self.recorder):
            say(line)

    async def prune_daily(self) -> None:
        """Retention (`cron.history.keepDays`, `keepRunsPerTask`): at start-up and once a day."""
        from agent.runs.retention import prune_history

        while True:
            pruned = await asyncio.to_thread(prune_history, self.recorder)
            if pruned is not None and pruned.runs:
                say(pruned.summary())
            await asyncio.sleep(self.prune_every_s)

    async def watch_gaps(self) -> None:
        """At start-up and every hour: expected fires that left no record, one line per task."""
        from agent.cron.store import TaskFileError
        from agent.cron.zone import local_zone

        while True:
            try:
                tasks = (await asyncio.to_thread(self.session.file_store.load)).tasks
            except TaskFileError:
                tasks = []
            gaps = await self.recorder.check_gaps(tasks, local_zone())
            by_task: dict[str, list] = {}
            for gap in gaps:
                by_task.setdefault(gap.task_id, []).append(gap)
            for task_id, found in by_task.items():
                first, last = found[0], found[-1]
                span = "" if len(found) == 1 else f" to {_local(last.slot_ms)}"
                say(f"gap: task {task_id} has {len(found)} expected fire(s) with no record, "
                    f"{_local(first.slot_ms)}{span}: {last.reason} (agent cron status --all lists them)")
            await asyncio.sleep(self.gap_check_s)

    async def _stop_runs(self) -> None:
        """Let running turns finish within the grace period, then cancel them (recorded `interrupted`)."""
        self._draining = True
        runs = [run for run in self._active.values() if not run.done()]
        if runs and self.grace_s > 0:
            say(f"stopping: letting the running task finish (up to {self.grace_s:.0f}s)")
            await asyncio.wait(runs, timeout=self.grace_s)
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
