"""What the REPL does once at start-up, off the path to the first prompt.

`build_session` runs in a worker thread after the prompt is drawn: it imports the heavy modules
(pydantic, the tools, rich, the scheduler) and builds the session, falling back to default settings
when the settings files are broken, so the REPL stays usable. `route_logging` sends warnings to the
renderer as one line each, never a traceback; with --verbose, details go to a debug log file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.settings.private import PrivateFileHandler

if TYPE_CHECKING:
    from agent.engine.session import AgentSession
    from agent.repl.render import Renderer


def build_session(args: argparse.Namespace, project: Path, reported: set[str]) -> tuple[AgentSession, str | None]:
    """The session, and the one line to show when the settings (or rule flags) had to be ignored.

    Problems shown this way are added to `reported`, so the scheduler's own warning about the same
    file is not shown a second time."""
    import rich.markdown
    import rich.syntax
    import rich.table  # noqa: F401  (warmed up here so the first output does not pay for them)

    import agent.cron.scheduler  # noqa: F401
    from agent.engine.session import AgentSession, SessionOptions
    from agent.permissions.rules import PermissionConfigError
    from agent.settings import Settings, SettingsError

    options = SessionOptions.from_args(args, headless=False)
    try:
        session = AgentSession(project, options)
        return session, _sandbox_problem(session)
    except (SettingsError, PermissionConfigError) as exc:
        reported.add(str(exc))
        problem = f"{exc}. Continuing with default settings: fix it and restart agent."
    try:
        return AgentSession(project, options, settings=Settings()), problem
    except PermissionConfigError as exc:  # the command line's own rules are wrong
        return AgentSession(project, SessionOptions(model=options.model), settings=Settings()), (
            f"{problem} Also ignored: {exc}")


def _sandbox_problem(session: Any) -> str | None:
    """sandbox.failIfUnavailable without a sandbox: said once at start; each Bash command is refused."""
    from agent.permissions.sandbox.runner import SandboxUnavailable

    try:
        if session.sandbox.settings.enabled:
            _ = session.sandbox.backend  # probed here, in the start-up thread, not at the first command
        session.sandbox.require(scheduled=False)
    except SandboxUnavailable as exc:
        return f"{exc}: Bash commands will be refused. See agent sandbox."
    return None


class RendererLogHandler(logging.Handler):
    """Warnings and errors as one yellow line each through the renderer, from any thread."""

    def __init__(self, renderer: Renderer, loop: asyncio.AbstractEventLoop, shown: set[str]) -> None:
        super().__init__(logging.WARNING)
        self._renderer, self._loop, self._shown = renderer, loop, shown

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                text += f" ({type(exc).__name__}: {exc})"
            if self._loop.is_closed() or any(problem in text for problem in self._shown):
                return
            self._loop.call_soon_threadsafe(self._renderer.warn, text)
        except Exception:
            self.handleError(record)


def route_logging(renderer: Renderer, folder: Path, shown: set[str], *, verbose: bool) -> list[logging.Handler]:
    """Install the handlers on the root logger (call from the event loop); returns them for removal."""
    handlers: list[logging.Handler] = [RendererLogHandler(renderer, asyncio.get_running_loop(), shown)]
    if verbose:  # details, tracebacks included, go to a file: never to the screen
        with contextlib.suppress(OSError):
            debug = PrivateFileHandler(folder / "debug.log")
            debug.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
            handlers.append(debug)
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    return handlers
