"""What the chat shows of running subagents (the Task tool): one live line under each Task call, saying
what its subagent does now, and one summary line when it is done. Pure: the renderer feeds it events and
draws the lines it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.engine.events import SubagentProgress, ToolCallFinished, ToolCallStarted, TurnFinished, Usage, UsageReport

KEY_CHARS = 40


def _tokens(usage: Usage) -> int:
    return usage.context_tokens + usage.output_tokens


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass
class _Progress:
    agent_type: str
    started: float
    tool_calls: int = 0
    tokens: int = 0
    running: dict[str, str] = field(default_factory=dict)  # its tool_use_id -> "Name(key)"
    keys: dict[str, str] = field(default_factory=dict)  # its tool_use_id -> key argument
    stopped: bool = False  # its turn ended in an error


class SubagentLines:
    """The progress of each running Task call's subagent, by the Task call's tool_use_id."""

    def __init__(self, format_tokens: Callable[[int], str]) -> None:
        self._by_call: dict[str, _Progress] = {}
        self._format_tokens = format_tokens  # the renderer's (`2.1k`)

    def start(self, tool_use_id: str, agent_type: str, now: float) -> None:
        """A Task call started (its subagent has said nothing yet)."""
        self._by_call[tool_use_id] = _Progress(agent_type, now)

    def update(self, event: SubagentProgress, now: float) -> tuple[str, str] | None:
        """Take one subagent event; for a finished tool call of the subagent, (its call, its key argument)."""
        progress = self._by_call.get(event.tool_use_id)
        if progress is None:
            progress = self._by_call[event.tool_use_id] = _Progress(event.agent_type, now)
        progress.agent_type = event.agent_type
        inner = event.event
        if isinstance(inner, ToolCallStarted):
            progress.tool_calls += 1
            key = " ".join(inner.key_argument.split())
            shown = key if len(key) <= KEY_CHARS else key[:KEY_CHARS - 1] + "…"
            progress.running[inner.tool_use_id] = f"{inner.name}({shown})" if shown else inner.name
            progress.keys[inner.tool_use_id] = inner.key_argument
        elif isinstance(inner, ToolCallFinished):
            progress.running.pop(inner.tool_use_id, None)
            return inner.name, progress.keys.pop(inner.tool_use_id, "")
        elif isinstance(inner, UsageReport):
            progress.tokens = _tokens(inner.turn_usage)
        elif isinstance(inner, TurnFinished):
            progress.tokens = max(progress.tokens, _tokens(inner.usage))
            progress.stopped = inner.is_error
        return None

    def live_line(self, tool_use_id: str, now: float) -> str | None:
        """`⎿ general-purpose: Bash(pytest -q) · 3 tool calls · 12s`, or None for a call that is no Task."""
        progress = self._by_call.get(tool_use_id)
        if progress is None:
            return None
        doing = next(reversed(progress.running.values()), "thinking") if progress.running else "thinking"
        return (f"⎿ {progress.agent_type}: {doing} · {_count(progress.tool_calls, 'tool call')} · "
                f"{int(now - progress.started)}s")

    def finish(self, tool_use_id: str) -> str | None:
        """The Task call ended: `⎿ done: 5 tool calls, 2.1k tokens` (None for a call that is no Task)."""
        progress = self._by_call.pop(tool_use_id, None)
        if progress is None:
            return None
        word = "stopped" if progress.stopped else "done"
        return f"⎿ {word}: {_count(progress.tool_calls, 'tool call')}, {self._format_tokens(progress.tokens)} tokens"

    def clear(self) -> None:
        self._by_call.clear()


__all__ = ["SubagentLines"]
