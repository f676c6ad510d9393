"""What a slash command is and what it may touch.

A handler is `async def handler(ctx, args) -> None`: it reads and changes the session through
`ctx`, and shows everything through `ctx.renderer`. It never touches the terminal, so handlers are tested
with a real `AgentSession`, a renderer writing to a list and a small fake `ReplHost`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from agent.engine.events import Compacted, Event, TurnFinished, Usage, UsageReport

if TYPE_CHECKING:
    from pathlib import Path

    from agent.engine.conversation import Conversation
    from agent.engine.queue import CommandQueue
    from agent.engine.session import AgentSession
    from agent.repl.render import Renderer


@dataclass
class SessionStats:
    """Tokens, money and counts for the whole REPL session (all conversations, /clear included)."""

    started: float = field(default_factory=time.monotonic)
    turns: int = 0
    requests: int = 0
    compactions: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    cost_known: bool = True  # False once a request was made on a model without a known price
    context_tokens: int = 0
    context_window: int = 0

    def record(self, event: Event) -> None:
        if isinstance(event, UsageReport):
            self.requests += 1
            self.usage = self.usage + event.usage
            if event.cost_usd is None:
                self.cost_known = False
            else:
                self.cost_usd += event.cost_usd
            self.context_tokens, self.context_window = event.context_tokens, event.context_window
        elif isinstance(event, TurnFinished):
            self.turns += 1
        elif isinstance(event, Compacted):
            self.compactions += 1
            self.context_tokens = event.after_tokens


class ReplHost(Protocol):
    """The parts of the running REPL that commands may use."""

    stats: SessionStats

    def is_busy(self) -> bool:
        """A turn runs or prompts are queued."""
        ...

    def conversation(self) -> Conversation | None:
        """The current conversation, or None when none could be made (no API key, say)."""
        ...

    def between_turns(self, label: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` when no turn runs (at once when idle): for anything that changes the history."""
        ...

    def switch_model(self, model: str) -> None:
        """Use `model` from the next request on, keeping the conversation."""
        ...

    def request_exit(self) -> None: ...

    def schedule_changed(self) -> None:
        """Tasks were added or removed: recompute the next fire now."""
        ...

    async def resume_session(self, session_id: str, path: Path) -> None:
        """Continue the saved session at `path` instead of the current one (between turns)."""
        ...


@dataclass
class CommandContext:
    session: AgentSession
    renderer: Renderer
    queue: CommandQueue
    host: ReplHost


Handler = Callable[[CommandContext, str], Awaitable[None]]


@dataclass(frozen=True)
class Command:
    name: str  # without the slash
    summary: str
    handler: Handler
    usage: str = ""  # arguments, e.g. "[name]"
    aliases: tuple[str, ...] = ()
    needs_session: bool = True  # False: may run while the session still loads (/help, /exit)

    @property
    def signature(self) -> str:
        return f"/{self.name}" + (f" {self.usage}" if self.usage else "")


def split_args(args: str) -> tuple[str, str]:
    """`"delete abc"` -> `("delete", "abc")`; the first word and the rest, stripped."""
    parts = args.strip().split(None, 1)
    return (parts[0], parts[1].strip() if len(parts) > 1 else "") if parts else ("", "")


def task_id_of(item: Any) -> str | None:
    """The scheduled task id behind a queued prompt (its `task` is a CronTask, ScheduledTask or a fire)."""
    task = getattr(item, "task", None)
    while task is not None and not isinstance(getattr(task, "id", None), str):
        task = getattr(task, "task", None)
    return getattr(task, "id", None) if task is not None else None
