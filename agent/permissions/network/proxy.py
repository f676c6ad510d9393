"""The agent's filtering proxy: the only way out of a sandbox's private network namespace.

An asyncio HTTP proxy on a unix socket (bind-mounted into the sandbox, where `relay.py` forwards to it
from 127.0.0.1). It serves `CONNECT host:port` tunnels and absolute-form plain HTTP requests, and
reaches a host only when `sandbox.network.allowedDomains` lists it (see `domains.py`), or when the
person at the terminal says so (`ask`). Without `ask` (headless) an unlisted host is refused. Every
refusal answers 403 with a body naming the host and how to allow it, and is recorded as a
`NetworkDenial` that the Bash tool reports to the model and the run records.

What an attacker inside the sandbox might try, and what happens:
- a Host header other than the request's target: the target is judged and connected to, and the Host
  header the server sees is rewritten to it;
- a name spelled another way (case, trailing dot, IDNA, `127.1`, IPv6 forms, `user@host`): compared
  after one normalisation and connected to as normalised, or refused when ambiguous;
- a listed name that resolves to this machine (127.0.0.1, ::1, 0.0.0.0): refused unless loopback itself
  is listed (`localhost` or the address), and the address checked is the one connected to (no second
  lookup to rebind);
- a port other than the one judged: a rule with a port matches that port only, and the proxy connects
  to exactly the port of the request;
- floods: the head is bounded (64 KiB, 100 headers), connections are capped, and every wait (head,
  connect, idle tunnel) has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.permissions.network.byte_pipes import CHUNK, pipe_both, reply_and_close
from agent.permissions.network.domains import LOOPBACK_NAMES, AllowList, DomainRule, is_local_address
from agent.permissions.network.http_head import (
    BadRequest,
    RequestHead,
    blocked_body,
    error_response,
    parse_head,
    read_head,
)

logger = logging.getLogger(__name__)

HostDecision = Literal["once", "always", "no"]
AskHost = Callable[[str, int], Awaitable[HostDecision]]  # (host, port) -> the person's answer
Resolver = Callable[[str, int], Awaitable[list[str]]]  # (host, port) -> addresses; OSError if none

HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 15.0
IDLE_TIMEOUT_S = 600.0
MAX_CONNECTIONS = 256
MAX_DENIALS = 100  # kept between two drains (one command's)


@dataclass(frozen=True)
class NetworkDenial:
    """One refused connection: which host and port, when (epoch seconds), and why."""

    host: str
    port: int
    time: float
    reason: str

    def describe(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port} ({self.reason})"


NOT_LISTED = "not in sandbox.network.allowedDomains"
REFUSED_IN_CHAT = "refused in the chat"
WITHDRAWN = "the command ended before the question was answered"  # not recorded: its command is over
LOOPBACK_NOT_LISTED = "it resolves to this machine (loopback), which is not in sandbox.network.allowedDomains"


async def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _withdrawn(question: asyncio.Future[HostDecision] | None) -> bool:
    """Whether a cancelled question was withdrawn (its command ended), rather than the task asking it
    being cancelled (the proxy closing; Python 3.11+ can tell the two apart)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return question is not None and question.cancelled() and not (cancelling is not None and cancelling())


class _Grants:
    """What the person answered during this command: hosts allowed once and hosts refused. Cleared by
    `end_command()` so that "allow once" does not outlive the command it was asked for."""

    def __init__(self) -> None:
        self.once: set[str] = set()
        self.refused: set[str] = set()


class DomainProxy:
    """The proxy on `socket_path`. `on_always(host)` is called when the person answers "always" (to
    remember the host in the project's settings); it may raise, which is logged, not fatal."""

    def __init__(
        self,
        socket_path: Path,
        allowed_domains: list[str] | AllowList,
        *,
        ask: AskHost | None = None,
        on_always: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        resolve: Resolver | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        idle_timeout: float = IDLE_TIMEOUT_S,
        head_timeout: float = HEAD_TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.socket_path = Path(socket_path)
        self.allow = allowed_domains if isinstance(allowed_domains, AllowList) else AllowList.from_entries(
            allowed_domains)
        self.ask = ask  # may be set later (the chat sets it once it is up); None: refuse unlisted hosts
        self._on_always = on_always
        self._clock = clock
        self._resolver = resolve or _getaddrinfo
        self._connect_timeout, self._idle_timeout, self._head_timeout = connect_timeout, idle_timeout, head_timeout
        self._max_connections = max_connections
        self._open = 0
        self._lock = threading.Lock()  # denials and grants are read from the faces' thread
        self._denials: list[NetworkDenial] = []
        self._grants = _Grants()
        self._asking: dict[str, asyncio.Future[HostDecision | None]] = {}
        self._questions: set[asyncio.Future[HostDecision]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path), limit=CHUNK)
        self.socket_path.chmod(0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    # ------------------------------------------------------------------ what the faces read

    def denials(self) -> list[NetworkDenial]:
        with self._lock:
            return list(self._denials)

    def drain_denials(self) -> list[NetworkDenial]:
        """The denials since the last drain (one command's), oldest first."""
        with self._lock:
            out, self._denials = self._denials, []
            return out

    def end_command(self) -> None:
        """Forget "allow once" and "no" answers, and withdraw questions still open: the command they
        were for is over. The next command asks again. Callable from any thread."""
        with self._lock:
            self._grants = _Grants()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._withdraw_questions)

    # ------------------------------------------------------------------ one connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self._open >= self._max_connections:
                busy = error_response(503, "Too many connections through the sandbox proxy.\n")
                await reply_and_close(reader, writer, busy)
                return
            self._open += 1
            try:
                await self._handle(reader, writer)
            finally:
                self._open -= 1
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, asyncio.TimeoutError):
            pass
        except asyncio.CancelledError:  # the proxy is closing: this handler is the top of its task
            pass
        except Exception:
            logger.exception("sandbox proxy: connection failed")
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = parse_head(await asyncio.wait_for(read_head(reader), self._head_timeout))
        except BadRequest as exc:
            await reply_and_close(reader, writer, error_response(exc.status, f"Sandbox proxy: {exc}\n"))
            return
        reason = await self._judge(head.host, head.port)
        if reason is None:
            try:
                addresses, reason = await self._resolve(head.host, head.port)
            except OSError as exc:  # not a refusal: the host is allowed but cannot be found
                unknown = error_response(502, f"Sandbox proxy: cannot resolve {head.host}: {exc}\n")
                await reply_and_close(reader, writer, unknown)
                return
        if reason is not None:
            if reason != WITHDRAWN:
                self._record(head.host, head.port, reason)
            refusal = error_response(403, blocked_body(head.host, head.port, reason), blocked=True)
            await reply_and_close(reader, writer, refusal)
            return
        await self._forward(head, addresses, reader, writer)

    def _allowed(self, host: str, port: int) -> bool:
        with self._lock:
            return self.allow.allows(host, port) or host in self._grants.once

    async def _judge(self, host: str, port: int) -> str | None:
        """None when the host may be reached, else why not (asking the person when one can be asked)."""
        if self._allowed(host, port):
            return None
        with self._lock:
            if host in self._grants.refused:
                return REFUSED_IN_CHAT
        if self.ask is None:
            return NOT_LISTED
        decision = await self._ask_once(host, port)
        if decision is None:
            return WITHDRAWN
        with self._lock:
            if decision == "no":
                self._grants.refused.add(host)
                return REFUSED_IN_CHAT
            if decision == "always":
                self.allow.add(DomainRule(host))
            else:
                self._grants.once.add(host)
        if decision == "always" and self._on_always is not None:
            try:
                self._on_always(host)
            except Exception as exc:  # the answer still holds for this session
                logger.warning("%s is allowed for this session only: saving it failed (%s)", host, exc)
        return None

    async def _ask_once(self, host: str, port: int) -> HostDecision | None:
        """One question per host however many connections wait on it; any failure is a "no". None when
        the command ended before an answer (`end_command` withdraws the open questions)."""
        pending = self._asking.get(host)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._asking[host] = pending
            question: asyncio.Future[HostDecision] | None = None
            try:
                if self.ask is None:
                    raise RuntimeError("nobody to ask any more")
                question = asyncio.ensure_future(self.ask(host, port))
                self._questions.add(question)
                try:
                    answer = await question
                finally:
                    self._questions.discard(question)
                pending.set_result(answer if answer in ("once", "always") else "no")
            except asyncio.CancelledError:
                pending.set_result(None)
                if not _withdrawn(question):
                    raise
            except Exception as exc:
                pending.set_result("no")
                logger.warning("sandbox proxy: asking about %s failed: %s", host, exc)
            finally:
                self._asking.pop(host, None)
        return await asyncio.shield(pending)

    def _withdraw_questions(self) -> None:
        for question in list(self._questions):
            question.cancel()

    async def _resolve(self, host: str, port: int) -> tuple[list[str], str | None]:
        """(the addresses to try, None), or (_, why it is refused); OSError when the name does not
        resolve. Every address the name has is checked: one on this machine needs loopback itself
        allowed (the address, or `localhost`), whatever name led to it. Only these checked addresses
        are connected to, without a second lookup that could answer differently."""
        try:
            addresses = await asyncio.wait_for(self._resolver(host, port), self._connect_timeout)
        except asyncio.TimeoutError:
            raise OSError("the lookup timed out") from None
        if not addresses:
            raise OSError("no address")
        for address in addresses:
            if is_local_address(address) and not (
                self._allowed(address, port) or any(self._allowed(name, port) for name in LOOPBACK_NAMES)
            ):
                return addresses, LOOPBACK_NOT_LISTED
        return list(dict.fromkeys(addresses)), None

    def _record(self, host: str, port: int, reason: str) -> None:
        """Keep a refusal: once per host, port and reason, and at most MAX_DENIALS between drains (a
        command trying thousands of names must not grow the record without bound)."""
        logger.info("sandbox proxy: refused %s:%d: %s", host, port, reason)
        with self._lock:
            if len(self._denials) >= MAX_DENIALS or any(
                (d.host, d.port, d.reason) == (host, port, reason) for d in self._denials
            ):
                return
            self._denials.append(NetworkDenial(host, port, self._clock(), reason))

    # ------------------------------------------------------------------ relaying bytes

    async def _connect(self, addresses: list[str], port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The first of `addresses` that accepts (localhost: ::1 then 127.0.0.1, say)."""
        error: BaseException = OSError("no address")
        for address in addresses:
            try:
                return await asyncio.wait_for(asyncio.open_connection(address, port, limit=CHUNK),
                                              self._connect_timeout)
            except (OSError, asyncio.TimeoutError) as exc:
                error = exc
        raise error

    async def _forward(self, head: RequestHead, addresses: list[str], reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._connect(addresses, head.port)
        except (OSError, asyncio.TimeoutError) as exc:
            status = 504 if isinstance(exc, asyncio.TimeoutError) else 502
            why = f"Sandbox proxy: cannot connect to {head.authority()}: {exc or 'timed out'}\n"
            await reply_and_close(reader, writer, error_response(status, why))
            return
        try:
            if head.is_connect:
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            else:
                up_writer.write(head.forwarded())
            await pipe_both(reader, writer, up_reader, up_writer, self._idle_timeout)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()
