"""One session's network proxy, on its own thread and event loop.

The proxy must keep serving whatever the face's loop is doing (a chat drawing, `-p` between turns, a
daemon between fires), and must outlive any single `asyncio.run`, so it gets a loop of its own in a
daemon thread. The face talks to it through this object, from any thread:

    network = NetworkService(["github.com"])          # allowedDomains from settings
    network.start()                                   # the socket to bind into the sandbox
    network.set_asker(chat_question, chat_loop)       # the chat only; headless leaves it unset
    ... a sandboxed command runs ...
    denials = network.command_finished()              # what it was refused; "allow once" forgotten
    network.close()

Its socket goes where the session says (the sandbox's `private_path`, which sandboxed commands can
read but not replace), else in a private folder of its own (mode 0700, removed on close); either way
with a short path (a unix socket path must fit in 108 bytes).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from agent.permissions.network.proxy import AskHost, DomainProxy, HostDecision, NetworkDenial

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0


class NetworkService:
    def __init__(self, allowed_domains: Iterable[object], *, on_always: Callable[[str], None] | None = None,
                 socket_path: Path | None = None, **proxy_options: object) -> None:
        self._entries = list(allowed_domains)
        self._socket_path = socket_path  # None: in a private folder of its own
        self._on_always = on_always
        self._options = proxy_options
        self._folder: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.proxy: DomainProxy | None = None
        self._asker: tuple[AskHost, asyncio.AbstractEventLoop] | None = None

    @property
    def socket_path(self) -> Path:
        if self.proxy is None:
            raise RuntimeError("the network proxy is not started")
        return self.proxy.socket_path

    def start(self) -> Path:
        """Start the proxy; returns its socket. Raises OSError when it cannot listen."""
        if self.proxy is not None:
            return self.proxy.socket_path
        socket_path = self._socket_path
        if socket_path is None:
            self._folder = Path(tempfile.mkdtemp(prefix="agent-net-", dir="/tmp" if Path("/tmp").is_dir() else None))
            socket_path = self._folder / "proxy.sock"
        proxy = DomainProxy(socket_path, self._entries, on_always=self._on_always,
                            **self._options)  # type: ignore[arg-type]
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(target=self._run, args=(loop, proxy, ready), name="agent-network-proxy",
                                  daemon=True)
        thread.start()
        try:
            ready.result(START_TIMEOUT_S)
        except BaseException:
            thread.join(START_TIMEOUT_S)
            self._remove_folder()
            raise
        self._loop, self._thread, self.proxy = loop, thread, proxy
        atexit.register(self._remove_folder)  # an exit without close() leaves no socket folder behind
        if self._asker is not None:
            self.set_asker(*self._asker)
        return proxy.socket_path

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, proxy: DomainProxy, ready: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(proxy.start())
        except BaseException as exc:
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(proxy.close())
            loop.close()

    def set_asker(self, ask: AskHost | None, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Who is asked about a host not yet allowed: `ask(host, port)` runs on `loop` (the chat's).
        None: nobody, unlisted hosts are refused."""
        self._asker = (ask, loop or asyncio.get_running_loop()) if ask is not None else None
        if self.proxy is not None:
            self.proxy.ask = self._bridge(*self._asker) if self._asker is not None else None

    @staticmethod
    def _bridge(ask: AskHost, loop: asyncio.AbstractEventLoop) -> Callable[[str, int], Awaitable[HostDecision]]:
        async def bridged(host: str, port: int) -> HostDecision:
            future = asyncio.run_coroutine_threadsafe(ask(host, port), loop)
            try:
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                future.cancel()
                raise
        return bridged

    def command_finished(self) -> list[NetworkDenial]:
        """What the command just finished was refused, and "allow once" / "no" answers forgotten."""
        if self.proxy is None:
            return []
        denials = self.proxy.drain_denials()
        self.proxy.end_command()
        return denials

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = self.proxy = None
        if loop is not None and thread is not None:
            with contextlib.suppress(RuntimeError):  # already closed
                loop.call_soon_threadsafe(loop.stop)
            thread.join(START_TIMEOUT_S)
        self._remove_folder()
        atexit.unregister(self._remove_folder)

    def _remove_folder(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> NetworkService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
