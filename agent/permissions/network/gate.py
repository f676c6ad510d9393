"""NetworkGate: the session's network as the sandbox asks for it, one command at a time.

    gate = NetworkGate(settings.allowed_domains, project_dir,   # one per session (AgentSession.network)
                       socket_path=lambda: runner.private_path("proxy.sock"))
    runner.network = gate                                       # SandboxRunner: before each command
    gate.policy()        # the NetworkPolicy for the next sandboxed command (the proxy started on first need)
    gate.finished()      # after it: what it was refused, as ToolDenials for the conversation to report
    gate.preview()       # what policy() would give, starting nothing (agent sandbox)
    gate.set_asker(ask, loop)   # the chat: a host not yet allowed is asked about; headless: refused

Without allowed domains and without anyone to ask, no proxy runs and a sandboxed command has no network
at all. A proxy that cannot start leaves the command without network too (fail closed), with one
warning. "Always" answers are saved in the project's `.claude/settings.local.json`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.permissions.sandbox.policy import NetworkPolicy
from agent.tools.base import ToolDenial

if TYPE_CHECKING:
    import asyncio

    from agent.permissions.network.proxy import AskHost, NetworkDenial
    from agent.permissions.network.service import NetworkService

logger = logging.getLogger(__name__)

RELAY_PORT = 3128  # inside the sandbox's own network namespace: nothing else listens there
PROXY_PLACEHOLDER = Path("(the agent's proxy, started when a command needs it)")


class NetworkGate:
    def __init__(self, allowed_domains: Iterable[str], project_dir: Path, *,
                 socket_path: Callable[[], Path] | None = None) -> None:
        self.allowed_domains = tuple(allowed_domains)
        self.project_dir = Path(project_dir)
        self._socket_path = socket_path  # where the proxy listens (the sandbox's private_path), made on start
        self._asker: tuple[AskHost, asyncio.AbstractEventLoop] | None = None
        self._service: NetworkService | None = None
        self._failed = False
        self._lock = threading.Lock()

    # --------------------------------------------------------------- what the sandbox calls

    def policy(self) -> NetworkPolicy:
        """The network of the next sandboxed command: through the proxy when anything can be allowed,
        else none."""
        if not self.allowed_domains and self._asker is None:
            return NetworkPolicy(self.allowed_domains)
        service = self._started()
        if service is None:
            return NetworkPolicy(self.allowed_domains)
        from agent.permissions.network.relay import relay_template

        return NetworkPolicy(self.allowed_domains, service.socket_path, tuple(relay_template()), RELAY_PORT)

    def preview(self) -> NetworkPolicy:
        """What `policy()` would give, without starting anything (for `agent sandbox`): the proxy's
        socket shown as a placeholder until it runs."""
        if not self.allowed_domains and self._asker is None:
            return NetworkPolicy(self.allowed_domains)
        with self._lock:
            socket = self._service.socket_path if self._service is not None else PROXY_PLACEHOLDER
        return NetworkPolicy(self.allowed_domains, socket, (), RELAY_PORT)

    def finished(self) -> list[ToolDenial]:
        """What the command that just ended was refused; its "allow once" answers are forgotten."""
        with self._lock:
            service = self._service
        if service is None:
            return []
        return list(dict.fromkeys(to_tool_denial(d) for d in service.command_finished()))  # once per host:port

    # --------------------------------------------------------------- the faces

    def set_asker(self, ask: AskHost | None, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """The chat's question about a host not yet allowed (`ask(host, port)` on `loop`); None: refuse."""
        import asyncio

        self._asker = (ask, loop or asyncio.get_running_loop()) if ask is not None else None
        with self._lock:
            service = self._service
        if service is not None:
            service.set_asker(*(self._asker or (None,)))

    def close(self) -> None:
        with self._lock:
            service, self._service = self._service, None
        if service is not None:
            service.close()

    # --------------------------------------------------------------- the proxy, started once

    def _started(self) -> NetworkService | None:
        with self._lock:
            if self._service is not None or self._failed:
                return self._service
            from agent.permissions.network.domains import parse_rules
            from agent.permissions.network.service import NetworkService

            for problem in parse_rules(self.allowed_domains)[1]:
                logger.warning(problem)
            socket = self._socket_path() if self._socket_path is not None else None
            service = NetworkService(self.allowed_domains, on_always=self._remember, socket_path=socket)
            try:
                service.start()
            except OSError as exc:
                self._failed = True
                logger.warning("the sandbox's network proxy could not start (%s): sandboxed commands have no "
                               "network", exc)
                return None
            if self._asker is not None:
                service.set_asker(*self._asker)
            self._service = service
            return service

    def _remember(self, host: str) -> None:
        from agent.permissions.network.remember import remember_domain

        path = remember_domain(self.project_dir, host)
        logger.info("%s added to sandbox.network.allowedDomains in %s", host, path)


def to_tool_denial(denial: NetworkDenial) -> ToolDenial:
    host = f"[{denial.host}]" if ":" in denial.host else denial.host
    return ToolDenial(
        reason=f"network access to {host}:{denial.port} refused by the sandbox ({denial.reason})",
        rule=f'sandbox.network.allowedDomains: "{host}"',
        domain=denial.host,
    )
