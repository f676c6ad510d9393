"""The tool-use loop: a prompt goes in, model requests and tool calls run until the model stops.

`Conversation.run_turn()` is the whole agent: stream a response, run the tools it asked for (read-only
ones side by side, `tool_calls`), send the results back, repeat. Around that loop it keeps the history
valid at all times (`history`): a cancelled turn gets "cancelled" results for its open calls, and a
prompt that follows a user message is merged into it. When the context nears the model's window, older
messages are summarised by the model (`compaction`). What a turn did and spent is a `TurnResult`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agent.engine import hook_points
from agent.engine.compaction import COMPACT_AT, SUMMARY_PREFIX, cut_for, summarise
from agent.engine.events import (
    AssistantMessage,
    Compacted,
    Event,
    RequestStarted,
    ToolResultsMessage,
    TurnFinished,
    TurnStarted,
    Usage,
    UsageReport,
)
from agent.engine.history import (
    Message,
    api_message,
    append_assistant,
    append_user,
    close_open_tool_uses,
    estimate_tokens,
)
from agent.engine.prompts import scheduled_prompt_text, task_attr
from agent.engine.tool_calls import MAX_TOOL_RESULT_CHARS, ToolCalls
from agent.engine.turn_result import TurnResult
from agent.permissions.answers import USER_DECLINED, PermissionAnswer
from agent.tools.base import RunState, Tool, ToolContext, ToolRegistry, new_run_id

if TYPE_CHECKING:
    from agent.engine.llm import LLM, LLMResponse

log = logging.getLogger(__name__)

Emit = Callable[[Event], None]
Asker = Callable[[Tool, Any, Any], Awaitable[bool | PermissionAnswer]]  # see agent.permissions.answers

CANCELLED_RESULT = "Cancelled by the user before this tool call finished; it may have partly run."
INTERRUPTED_NOTE = "[The user interrupted the previous response.]"
STOPPED_NOTE = "[Request interrupted by user for tool use]"  # Claude Code's words after a plain "no"
SCHEDULER_SOURCES = frozenset({"cron", "missed"})  # turns the scheduler started, not a person


class Conversation:
    """One chat with the model: its history, its tools and the permission policy that guards them."""

    def __init__(
        self,
        llm: LLM,
        tools: ToolRegistry,
        ctx: ToolContext,
        policy: Any,
        *,
        system_prompt: str | list[dict[str, Any]],
        asker: Asker | None = None,
        max_turns: int | None = None,
        emit: Emit | None = None,
        compact_at: float = COMPACT_AT,
        max_tool_result_chars: int = MAX_TOOL_RESULT_CHARS,
    ) -> None:
        self.llm, self.tools, self.ctx, self.policy = llm, tools, ctx, policy
        self.system_prompt = system_prompt
        self.asker = asker
        self.max_turns = max_turns
        # the prompt cache's lifetime for the next request ("1h" or None for 5 min): asked before each one,
        # as tasks come and go (AgentSession.prompt_cache_ttl)
        self.cache_ttl: Callable[[], str | None] | None = None
        self.compact_at = compact_at
        self.max_tool_result_chars = min(max_tool_result_chars, llm.context_window)  # ~1/4 of the window
        self.history: list[Message] = []
        self.transcript: Any = None  # a TranscriptWriter: told of every change to the history
        self._emit_cb = emit
        self._defs_for: tuple[str, ...] = tuple(tools.names())
        self._defs = tools.definitions()
        self._measured_tokens = 0  # context size the API reported, for history[:_measured_len]
        self._measured_len = 0
        self._tool_calls = ToolCalls(self)  # runs each response's calls; holds what finished, if the turn stops
        self._run_ctx = ctx  # `ctx` for the current run: replaced at the start of every turn
        self._turn: TurnResult | None = None  # the turn running now (subagents add their usage to it)
        self.hooks: Any = None  # an agent.hooks.HookRunner (see agent.engine.hook_points)
        self.session_source = "startup"  # SessionStart's source: startup, resume, scheduled
        self.session_started = False
        self.halted: str | None = None  # a hook said `"continue": false`: why
        self.background: set[asyncio.Task[Any]] = set()  # Notification hooks under way
        self.memory: Any = None  # an agent.engine.memory.SubfolderMemory: CLAUDE.md of folders tools reach
        self.max_budget_usd: float | None = None  # --max-budget-usd: no new request once a turn cost this
        self.fallback: Callable[[], LLM] | None = None  # --fallback-model: the client to use when overloaded

    def clear(self) -> None:
        self.history = []
        self._measured_tokens = self._measured_len = 0
        self._changed()

    def _changed(self) -> None:
        """Save the history as it is now (a crash then loses at most the message in flight)."""
        if self.transcript is not None:
            self.transcript.sync(self.history)

    @property
    def context_tokens(self) -> int:
        """The context the next request would use: the last measured size plus a guess for what is new."""
        base = self._measured_tokens or estimate_tokens([self.system_prompt, self._tool_defs])
        unmeasured = self.history[self._measured_len:]
        return base + (estimate_tokens(unmeasured) if unmeasured else 0)

    @property
    def _tool_defs(self) -> list[dict[str, Any]]:
        """The tools as the API wants them, remade when the set changes (an MCP server connected or left)."""
        names = tuple(self.tools.names())
        if names != self._defs_for:
            self._defs_for, self._defs = names, self.tools.definitions()
        return self._defs

    def _emit(self, event: Event) -> None:
        if self._emit_cb is not None:
            self._emit_cb(event)

    @property
    def turn_so_far(self) -> TurnResult | None:
        return self._turn

    emit_event = _emit  # for the tool calls, the permission gate and a subagent to report through

    def share_questions_with(self, parent: Conversation) -> None:
        """Ask permission questions one at a time together with `parent` (a subagent and its parent)."""
        self._tool_calls.gate.share_questions_with(parent._tool_calls.gate)

    def account_subagent(self, usage: Usage | None, cost_usd: float | None) -> None:
        """A subagent's requests belong to this turn: its tokens and cost are added, and reported."""
        turn = self._turn
        if turn is None or usage is None:
            return
        turn.add_spending(usage, cost_usd)
        self._emit(UsageReport(usage, turn.usage, cost_usd, turn.cost_usd, self._measured_tokens,
                               self.llm.context_window))

    # ------------------------------------------------------------------------------------ the turn

    async def run_turn(
        self, prompt: str, *, scheduled_task: Any = None, source: str | None = None, run_id: str | None = None
    ) -> TurnResult:
        """Run one user (or scheduled) prompt to the end. Model failures come back as an error result;
        cancellation leaves a valid history and re-raises. `run_id` names the run (default: a new id)."""
        from agent.engine.llm import LLMError

        started, before = time.monotonic(), list(self.history)
        source = source or ("cron" if scheduled_task is not None else "user")
        run = RunState(run_id or new_run_id(), scheduled=scheduled_task is not None or source in SCHEDULER_SOURCES)
        self._run_ctx = replace(self.ctx.for_run(run), parent=self)  # Task's subagents report back here
        turn = self._turn = TurnResult(run_id=run.run_id)
        task_id = task_attr(scheduled_task, "id") if scheduled_task is not None else None
        self._emit(TurnStarted(prompt, source, task_id))
        self.halted = None
        context = await hook_points.session_started(self, task_id)
        gate = await hook_points.prompt_submitted(self, prompt, task_id)
        if gate.blocked or gate.stop:
            why = gate.reason if gate.blocked else (gate.stop_reason or "a UserPromptSubmit hook stopped it")
            self._finish(turn, started, error=f"The prompt was blocked by a UserPromptSubmit hook: {why}",
                         stop_reason="hook_blocked")
            return turn
        text = scheduled_prompt_text(prompt, scheduled_task) if scheduled_task is not None else prompt
        self._append_user([{"type": "text", "text": text}, *context,
                           *hook_points.context_block(gate, "UserPromptSubmit")])
        try:
            await self._loop(turn)
        except asyncio.CancelledError:
            self._close_open_tool_uses(CANCELLED_RESULT)
            self._append_user([{"type": "text", "text": INTERRUPTED_NOTE}])
            self._finish(turn, started, error="cancelled by the user", stop_reason="cancelled")
            raise
        except LLMError as exc:
            if turn.num_requests == 0:
                self.history = before  # nothing happened: forget the prompt, as if never sent
            turn.error_kind, turn.error_status = type(exc).__name__, exc.status
            self._finish(turn, started, error=exc.message)
            return turn
        except Exception as exc:  # a bug: keep the history sendable, then let it surface
            self._close_open_tool_uses("Not run: an internal error stopped the turn.")
            self._finish(turn, started, error=f"internal error: {type(exc).__name__}: {exc}")
            raise
        self._finish(turn, started)
        return turn

    async def end_session(self, reason: str = "other") -> None:
        """Run the SessionEnd hooks (once, if the session started). Faces call this when they close."""
        await hook_points.session_ended(self, reason)

    async def _loop(self, turn: TurnResult) -> None:
        stop_hook_active = False
        while True:
            if self.halted is not None:
                turn.stop_reason, turn.result_text = "hook_stopped", self.halted
                return
            if self.max_turns is not None and turn.num_requests >= self.max_turns:
                turn.stop_reason, turn.is_error = "max_turns", True
                turn.error = (f"Stopped after {turn.num_requests} model requests (the max-turns limit); "
                              "the task may be unfinished")
                return
            if self.max_budget_usd is not None and (turn.cost_usd or 0.0) >= self.max_budget_usd:
                turn.stop_reason, turn.is_error = "max_budget", True
                turn.error = (f"Reached maximum budget (${self.max_budget_usd:g}): the model calls of this turn "
                              f"cost ${turn.cost_usd:.4f}")
                return
            if self.context_tokens > self.compact_at * self.llm.context_window:
                await self._compact(turn)
            response = await self._request(turn)
            self._append_assistant(response.content or [{"type": "text", "text": "(no response)"}])
            self._measured_len = len(self.history)
            self._emit(AssistantMessage(api_message(response)))
            turn.result_text = response.text or turn.result_text
            turn.stop_reason = turn.model_stop_reason = response.stop_reason
            if response.stop_reason == "pause_turn":
                continue
            if not response.tool_uses:
                reason = await hook_points.stop_requested(self, stop_hook_active)
                if reason is None or self.halted is not None:
                    return
                stop_hook_active = True
                self._append_user([{"type": "text", "text": f"Stop hook feedback: {reason}"}])
                continue
            if response.stop_reason != "tool_use":  # e.g. max_tokens cut a call short: never run half a call
                self._close_open_tool_uses(f"Not run: the response ended ({response.stop_reason}) before "
                                           "this tool call was complete.")
                return
            results = await self._tool_calls.run(response.tool_uses, self._run_ctx)
            self.history.append({"role": "user", "content": results})
            self._changed()
            self._emit(ToolResultsMessage(results))
            if self._tool_calls.stopped:  # the user said no without a word: wait for them, as Claude Code does
                self._append_user([{"type": "text", "text": STOPPED_NOTE}])
                turn.stop_reason = "stopped_by_user"
                return

    async def _request(self, turn: TurnResult) -> LLMResponse:
        from agent.engine.llm import OverloadedError, PromptTooLongError

        self._emit(RequestStarted())
        sent = time.monotonic()
        try:
            response = await self._send()
        except PromptTooLongError:
            if not await self._compact(turn):
                raise
            response = await self._send()
        except OverloadedError:
            if self.fallback is None:
                raise
            log.warning("%s is overloaded; switching to the fallback model", self.llm.model)
            self.llm, self.fallback = self.fallback(), None  # once: the fallback's own failure is final
            response = await self._send()
        finally:
            turn.duration_api_ms += int((time.monotonic() - sent) * 1000)
        turn.num_requests += 1
        turn.add_spending(response.usage, self.llm.cost_usd(response.usage))
        self._measured_tokens = response.usage.context_tokens + response.usage.output_tokens
        self._emit(UsageReport(response.usage, turn.usage, self.llm.cost_usd(response.usage), turn.cost_usd,
                               response.usage.context_tokens, self.llm.context_window))
        return response

    def _send(self) -> Awaitable[LLMResponse]:
        ttl = self.cache_ttl() if self.cache_ttl is not None else None
        return self.llm.stream_message(system=self.system_prompt, messages=self.history,
                                       tools=self._tool_defs, emit=self._emit, cache_ttl=ttl)

    def _finish(self, turn: TurnResult, started: float, *, error: str | None = None,
                stop_reason: str | None = None) -> None:
        if error:
            turn.is_error, turn.error = True, error
        turn.stop_reason = stop_reason or turn.stop_reason
        turn.duration_ms = int((time.monotonic() - started) * 1000)
        self._changed()
        self._emit(TurnFinished(turn.stop_reason, turn.num_requests, turn.usage, turn.cost_usd,
                                turn.result_text, turn.is_error, turn.error))

    # ---------------------------------------------------------------------------- history upkeep

    def add_user_blocks(self, blocks: list[dict[str, Any]]) -> None:
        """Add user content without calling the model (a `!command` and its output): the model sees it
        with the next prompt, which joins the same user message. Only between turns."""
        self._append_user(blocks)

    def _append_user(self, blocks: list[dict[str, Any]]) -> None:
        append_user(self.history, blocks)
        self._changed()

    def _append_assistant(self, blocks: list[dict[str, Any]]) -> None:
        append_assistant(self.history, blocks)
        self._changed()

    def _close_open_tool_uses(self, text: str) -> None:
        """Answer every tool_use of a trailing assistant message: real results where a call finished."""
        if close_open_tool_uses(self.history, text, self._tool_calls.finished):
            self._changed()

    # -------------------------------------------------------------------------------- compaction

    async def compact(self) -> Compacted | None:
        """Summarise all but the latest exchange now (/compact); None when there is nothing to summarise."""
        return await self._compact(None, keep_tokens=0)

    async def _compact(self, turn: TurnResult | None, *, keep_tokens: float | None = None) -> Compacted | None:
        """Replace the history before the cut with a summary (automatic when `keep_tokens` is None)."""
        split = cut_for(self.history, self.llm.context_window, keep_tokens)
        if split is None:
            return None
        await hook_points.before_compact(self, "auto" if keep_tokens is None else "manual")
        before = self.context_tokens
        head, tail = self.history[:split], self.history[split:]
        summary, usage = await summarise(self.llm, head)
        if turn is not None and usage is not None:
            turn.add_spending(usage, self.llm.cost_usd(usage))
        self.history = [summary, *tail]
        self._measured_tokens, self._measured_len = 0, 0
        self._changed()
        event = Compacted(before, self.context_tokens, len(head))
        self._emit(event)
        return event


__all__ = ["SUMMARY_PREFIX", "USER_DECLINED", "Conversation", "PermissionAnswer", "TurnResult", "estimate_tokens"]
