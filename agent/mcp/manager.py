"""Running MCP servers: each connected in the background, watched, restarted with backoff when it dies.

The servers live on one event loop in a thread of their own, so connecting never holds up the chat's
prompt, and every face (chat, `-p`, the daemon, scheduled fires) calls them the same way from its own
loop (`call_tool` and `get_prompt` are awaitable from any loop). `wait_ready` lets `-p` wait, bounded,
for the first connection of every server before its first request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.mcp.config import ServerSpec
from agent.mcp.tools import McpTool

log = logging.getLogger(__name__)

DEFAULT_TOOL_TIMEOUT_S = 100_000_000 / 1000  # Claude Code's default MCP_TOOL_TIMEOUT (ms)
DEFAULT_START_TIMEOUT_S = 30.0  # MCP_TIMEOUT (ms): how long one connection attempt may take
PING_INTERVAL_S = 5.0
MAX_RESTARTS = 5
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)


def _ms_env(env: Mapping[str, str], name: str, default_s: float) -> float:
    value = env.get(name, "").strip()
    return int(value) / 1000 if value.isdigit() and int(value) > 0 else default_s


def _leaf(exc: BaseException) -> BaseException:
    while getattr(exc, "exceptions", None):  # an exception group from a task group
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def describe_error(exc: BaseException) -> str:
    leaf = _leaf(exc)
    if isinstance(leaf, TimeoutError):
        return "timed out"
    text = str(leaf).strip() or type(leaf).__name__
    return text.splitlines()[0][:200]


@dataclass
class ServerState:
    """What `/mcp`, `agent mcp list` and the init line show about one server."""

    spec: ServerSpec
    status: str = "pending"  # pending | connected | failed | disabled (not approved, not trusted)
    error: str = ""
    tools: list[McpTool] = field(default_factory=list)
    prompts: list[Any] = field(default_factory=list)
    restarts: int = 0
    client: Any = None
    ready: threading.Event = field(default_factory=threading.Event)  # left "pending" once

    @property
    def name(self) -> str:
        return self.spec.name


class McpManager:
    """The configured servers of one session. `report` receives one line per notable change."""

    def __init__(self, specs: list[ServerSpec], *, cwd: Path, env: Mapping[str, str] | None = None,
                 report: Callable[[str], None] | None = None, disabled: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        self.cwd, self.env = cwd, dict(env)
        self.tool_timeout_s = _ms_env(env, "MCP_TOOL_TIMEOUT", DEFAULT_TOOL_TIMEOUT_S)
        self.start_timeout_s = _ms_env(env, "MCP_TIMEOUT", DEFAULT_START_TIMEOUT_S)
        self.ping_interval_s = PING_INTERVAL_S
        self.report = report or (lambda line: log.warning("%s", line))
        self.states: dict[str, ServerState] = {}
        for spec in specs:
            state = ServerState(spec)
            if disabled and spec.name in disabled:  # off whatever its form: say why it is off
                state.status, state.error = "disabled", disabled[spec.name]
            elif spec.problem:
                state.status, state.error = "failed", spec.problem
            if state.status != "pending":
                state.ready.set()
            self.states[spec.name] = state
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.problems: list[str] = []  # config files that could not be read
        self.awaiting: set[str] = set()  # project servers waiting for the chat's approve / deny

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect every pending server in the background; returns at once."""
        pending = [s for s in self.states.values() if s.status == "pending"]
        if not pending or self._thread is not None:
            return
        self._start_thread(pending)

    def enable(self, name: str) -> None:
        """Start a server that was off (approved in the chat), in the background."""
        state = self.states[name]
        self.awaiting.discard(name)
        if state.status != "disabled":
            return
        if state.spec.problem:
            state.status, state.error = "failed", state.spec.problem
            return
        state.status, state.error = "pending", ""
        state.ready.clear()
        if self._thread is None:
            self._start_thread([state])
        else:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(lambda: self._tasks.append(self._loop.create_task(  # type: ignore
                self._supervise(state))))

    def _start_thread(self, pending: list[ServerState]) -> None:
        started = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, args=(pending, started), name="mcp", daemon=True)
        self._thread.start()
        started.wait()

    def _run_loop(self, pending: list[ServerState], started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._stop = asyncio.Event()
        for state in pending:
            self._tasks.append(loop.create_task(self._supervise(state)))
        started.set()
        try:
            loop.run_until_complete(self._stop.wait())
            for task in self._tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
        finally:
            loop.close()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until every server has connected or failed once (at most `timeout` s in all)."""
        timeout = self.start_timeout_s if timeout is None else timeout
        end = time.monotonic() + timeout
        return all(state.ready.wait(max(0.0, end - time.monotonic())) for state in self.states.values())

    def close(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    # --- one server ---------------------------------------------------------------------------------

    def _report(self, line: str) -> None:
        try:
            self.report(line)
        except Exception:  # a face that has gone (its loop closed) must not stop the supervisor
            log.warning("%s", line)

    async def _supervise(self, state: ServerState) -> None:
        while True:
            errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
            try:
                await self._connect_and_watch(state, errlog)
                return  # stopped
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                was_connected = state.status == "connected"
                state.status, state.error, state.client = "failed", describe_error(exc) + _stderr_tail(errlog), None
                with self._lock:
                    state.tools = []
            finally:
                errlog.close()
            if state.restarts >= MAX_RESTARTS:
                self._report(f"MCP server {state.name} failed: {state.error}; gave up after {state.restarts} "
                            "restarts (/mcp shows it)")
                state.ready.set()
                return
            delay = BACKOFF_S[min(state.restarts, len(BACKOFF_S) - 1)]
            state.restarts += 1
            what = "stopped" if was_connected else "failed to start"
            self._report(f"MCP server {state.name} {what}: {state.error}; restarting in {delay:g}s")
            state.ready.set()  # after the report: whoever waited sees it
            await asyncio.sleep(delay)

    async def _connect_and_watch(self, state: ServerState, errlog: Any) -> None:
        import anyio
        from mcp import Client

        # One cancel scope around the whole connection (anyio scopes must nest): its deadline bounds the
        # start-up, then is lifted once connected.
        with anyio.CancelScope(deadline=anyio.current_time() + self.start_timeout_s) as scope:
            async with Client(_transport(state.spec, self.cwd, errlog, self.env), cache=None) as client:
                await self._serve(state, client, scope)
        if scope.cancelled_caught:
            raise TimeoutError(f"no answer within {self.start_timeout_s:g}s (MCP_TIMEOUT)")

    async def _serve(self, state: ServerState, client: Any, scope: Any) -> None:
        import anyio

        try:
            tools = await _list_all(client.list_tools)
            prompts = await _list_all(client.list_prompts) if client.server_capabilities.prompts else []
            with self._lock:
                state.tools = [McpTool(state.name, t, self._caller(state.name)) for t in tools]
                state.prompts = prompts
            state.client, state.status, state.error = client, "connected", ""
            if state.restarts:
                self._report(f"MCP server {state.name} reconnected")
            state.ready.set()
            scope.deadline = math.inf
            assert self._stop is not None
            while not self._stop.is_set():
                with anyio.move_on_after(self.ping_interval_s):
                    await self._stop.wait()
                if not self._stop.is_set():  # the health check (ping is gone from the 2026 protocol)
                    with anyio.fail_after(max(self.ping_interval_s * 2, 10.0)):
                        await client.list_tools()
        finally:
            state.client = None

    # --- calls from any loop -------------------------------------------------------------------------

    def _caller(self, server: str) -> Callable[[str, dict[str, Any]], Any]:
        async def call(tool: str, args: dict[str, Any]) -> Any:
            return await self.call_tool(server, tool, args)
        return call

    async def _on_loop(self, coro: Any, timeout: float) -> Any:
        if self._loop is None or self._loop.is_closed():
            coro.close()
            raise _tool_error("the MCP servers are not running")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        finally:
            future.cancel()

    async def call_tool(self, server: str, tool: str, args: dict[str, Any]) -> Any:
        state = self.states.get(server)
        if state is None or state.client is None:
            why = state.error if state is not None and state.error else "not connected"
            raise _tool_error(f"MCP server {server} is not connected ({why}); /mcp shows its status")
        client = state.client
        try:
            return await self._on_loop(client.call_tool(tool, args), self.tool_timeout_s)
        except TimeoutError:
            raise _tool_error(f"MCP tool {tool} of {server} timed out after {self.tool_timeout_s:g}s "
                              "(MCP_TOOL_TIMEOUT)") from None
        except Exception as exc:
            if type(exc).__name__ == "ToolError":
                raise
            raise _tool_error(f"MCP tool {tool} of {server} failed: {describe_error(exc)}") from None

    async def get_prompt(self, server: str, prompt: str, args: dict[str, str]) -> Any:
        state = self.states.get(server)
        if state is None or state.client is None:
            raise _tool_error(f"MCP server {server} is not connected")
        return await self._on_loop(state.client.get_prompt(prompt, args), self.start_timeout_s)

    # --- views ---------------------------------------------------------------------------------------

    def tools(self) -> list[McpTool]:
        with self._lock:
            return [tool for state in self.states.values() for tool in state.tools]

    def prompts(self) -> list[tuple[str, Any]]:
        with self._lock:
            return [(state.name, p) for state in self.states.values() for p in state.prompts]

    def init_entries(self) -> list[dict[str, str]]:
        """The init line's `mcp_servers`, as Claude Code writes it."""
        return [{"name": s.name, "status": s.status} for s in self.states.values()]


def _tool_error(message: str) -> Exception:
    from agent.tools.base import ToolError

    return ToolError(message)


def _stderr_tail(errlog: Any) -> str:
    try:
        errlog.seek(0)
        lines = [line.strip() for line in errlog.read()[-2000:].splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    return f" (stderr: {lines[-1][:200]})" if lines else ""


async def _list_all(lister: Callable[..., Any]) -> list[Any]:
    found: list[Any] = []
    cursor = None
    for _ in range(100):  # a paginator that never ends cannot hang the connection
        page = await lister(cursor=cursor) if cursor else await lister()
        found += getattr(page, "tools", None) or getattr(page, "prompts", None) or []
        cursor = page.next_cursor
        if not cursor:
            break
    return found


def _transport(spec: ServerSpec, cwd: Path, errlog: Any, env: Mapping[str, str]) -> Any:
    if spec.transport == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        from agent.mcp.config import CREDENTIAL_VARS

        inherited = {k: v for k, v in env.items() if k not in CREDENTIAL_VARS}  # the session's (settings env)
        params = StdioServerParameters(command=spec.command, args=spec.args, env={**inherited, **spec.env},
                                       cwd=str(cwd))
        return stdio_client(params, errlog=errlog)
    if spec.transport == "sse":
        from mcp.client.sse import sse_client

        return sse_client(spec.url, headers=spec.headers or None)
    return _http_transport(spec)


@asynccontextmanager
async def _http_transport(spec: ServerSpec) -> AsyncIterator[Any]:
    """Streamable HTTP with the configured headers, on a client of the SDK's defaults that is closed after."""
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async with create_mcp_http_client(headers=spec.headers or None) as http, \
            streamable_http_client(spec.url, http_client=http) as streams:
        yield streams
