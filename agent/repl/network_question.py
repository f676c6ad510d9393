"""The chat's question when a sandboxed command reaches for a host not yet allowed, as Claude Code asks:

    ? Network request outside of the sandbox: allow example.com?
      A sandboxed command wants to connect to example.com:443, which sandbox.network.allowedDomains does not list.
    ❯ 1. Yes, this time
      2. Yes, and always for this project (adds example.com to .claude/settings.local.json)
      3. No

"This time" lasts until the command ends. The proxy asks once per host however many connections wait,
and questions about different hosts come one after another. A scheduled run's question counts down the
same time limit as its other questions; no answer is a no. The answer goes back to the proxy's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent.repl.question import Option, QuestionBox

if TYPE_CHECKING:
    from agent.repl.render import Renderer

__all__ = ["NetworkQuestion", "network_options"]

_DECISIONS = {"yes": "once", "always": "always"}


def network_options(host: str) -> list[Option]:
    return [
        Option("yes", "Yes, this time"),
        Option("always", f"Yes, and always for this project (adds {host} to .claude/settings.local.json)"),
        Option("no", "No"),
    ]


class NetworkQuestion:
    """`await question(host, port)` -> "once" | "always" | "no" (the proxy's AskHost)."""

    def __init__(self, questions: QuestionBox, renderer: Renderer, *,
                 scheduled: Callable[[], tuple[str, float] | None] = lambda: None) -> None:
        self._questions = questions
        self._renderer = renderer
        self._scheduled = scheduled  # (who asks, time limit) when a scheduled run is running, else None
        self._one_at_a_time = asyncio.Lock()

    async def __call__(self, host: str, port: int) -> Any:
        shown = f"[{host}]" if ":" in host else host
        async with self._one_at_a_time:
            scheduled = self._scheduled()
            self._renderer.waiting = True
            try:
                choice = await self._questions.ask(
                    f"Network request outside of the sandbox: allow {shown}?", network_options(shown),
                    detail=f"A sandboxed command wants to connect to {shown}:{port}, which "
                           "sandbox.network.allowedDomains does not list.",
                    asker=scheduled[0] if scheduled else "", timeout=scheduled[1] if scheduled else None)
            finally:
                self._renderer.waiting = False
        decision = _DECISIONS.get(choice.answer, "no") if choice is not None else "no"
        if decision == "once":
            self._renderer.info(f"  network: {shown} allowed until this command ends")
        elif decision == "always":
            self._renderer.info(f"  network: {shown} allowed; added to sandbox.network.allowedDomains in "
                                ".claude/settings.local.json")
        return decision
