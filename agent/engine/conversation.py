"""The tool-use loop: a prompt goes in, model requests and tool calls run until the model stops.

`Conversation.run_turn()` is the whole agent: stream a response, run the tools it asked for (read-only
ones side by side), send the results back, repeat. Around that loop it keeps the history valid at all
times, because the API rejects a history where a `tool_use` lacks its `tool_result` or roles do not
alternate: a cancelled turn gets "cancelled" results for its open calls, and a prompt that follows a
user message is merged into it. When the context nears the model's window, older messages are
summarised by the model (`compact()`), cutting only before an assistant message so that no tool call is
separated from its result.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agent.engine import hook_points
from agent.engine.events import (
    AssistantMessage,
    Compacted,
    Event,
    PermissionDenied,
    RequestStarted,
    ToolCallFinished,
    ToolCallStarted,
    ToolResultsMessage,
    TurnFinished,
    TurnStarted,
    Usage,
    UsageReport,
)
from agent.engine.memory import subfolder_note
from agent.engine.prompts import SUMMARY_SYSTEM, scheduled_prompt_text, summary_request, task_attr, unattended_denial
from agent.permissions.answers import USER_DECLINED, PermissionAnswer
from agent.tools.base import RunState, Tool, ToolContext, ToolError, ToolRegistry, ToolResult, new_run_id

if TYPE_CHECKING:
    from agent.engine.llm import LLM, LLMResponse

log = logging.getLogger(__name__)

Message = dict[str, Any]
Emit = Callable[[Event], None]
Asker = Callable[[Tool, Any, Any], Awaitable[bool | PermissionAnswer]]  # see agent.permissions.answers

COMPACT_AT = 0.75  # share of the context window that triggers compaction before the next request
KEEP_RECENT = 0.25  # share of the window kept verbatim when compacting
MAX_TOOL_RESULT_CHARS = 50_000
SUMMARY_PREFIX = "Summary of the earlier conversation: "
CANCELLED_RESULT = "Cancelled by the user before this tool call finished; it may have partly run."
INTERRUPTED_NOTE = "[The user interrupted the previous response.]"
STOPPED_NOTE = "[Request interrupted by user for tool use]"  # Claude Code's words after a plain "no"
STOPPED_RESULT = "Not run: the user stopped this turn."  # calls of the same response after a plain "no"
SCHEDULER_SOURCES = frozenset({"cron", "missed"})  # turns the scheduler started, not a person


def estimate_tokens(value: Any) -> int:
    """A deliberately generous guess (3.5 characters per token) for content not yet measured by the API."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return math.ceil(len(text) / 3.5)


def add_costs(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


@dataclass
class TurnResult:
    result_text: str = ""
    stop_reason: str | None = None
    num_requests: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = 0.0
    is_error: bool = False
    error: str | None = None
    duration_ms: int = 0
    run_id: str = ""  # the id tools saw for this run (CronCreate records it as createdByRun)
    error_kind: str | None = None  # the LLMError class name, so a scheduler can tell transient failures
    duration_api_ms: int = 0  # time spent waiting for the model
    error_status: int | None = None  # the HTTP status of the model call that failed, if one did
    model_stop_reason: str | None = None  # the model's last stop_reason ("max_turns" is ours, not the model's)


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
        self._done_results: dict[str, dict[str, Any]] = {}
        self._ask_lock = asyncio.Lock()
        self._stopped = False  # a plain "no" to a question in this response: no further request
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

    emit_event = _emit  # for a subagent (agent.engine.subagents) to pass its events on

    def share_questions_with(self, parent: Conversation) -> None:
        """Ask permission questions one at a time together with `parent` (a subagent and its parent)."""
        self._ask_lock = parent._ask_lock

    def account_subagent(self, usage: Usage | None, cost_usd: float | None) -> None:
        """A subagent's requests belong to this turn: its tokens and cost are added, and reported."""
        turn = self._turn
        if turn is None or usage is None:
            return
        turn.usage = turn.usage + usage
        turn.cost_usd = add_costs(turn.cost_usd, cost_usd)
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
            self._emit(AssistantMessage(_api_message(response)))
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
            self._stopped = False
            results = await self._run_tool_uses(response.tool_uses)
            self.history.append({"role": "user", "content": results})
            self._changed()
            self._emit(ToolResultsMessage(results))
            if self._stopped:  # the user said no without a word: wait for them, as Claude Code does
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
        self._account(turn, response.usage)
        self._measured_tokens = response.usage.context_tokens + response.usage.output_tokens
        self._emit(UsageReport(response.usage, turn.usage, self.llm.cost_usd(response.usage), turn.cost_usd,
                               response.usage.context_tokens, self.llm.context_window))
        return response

    def _send(self) -> Awaitable[LLMResponse]:
        ttl = self.cache_ttl() if self.cache_ttl is not None else None
        return self.llm.stream_message(system=self.system_prompt, messages=self.history,
                                       tools=self._tool_defs, emit=self._emit, cache_ttl=ttl)

    def _account(self, turn: TurnResult, usage: Usage) -> None:
        turn.usage = turn.usage + usage
        turn.cost_usd = add_costs(turn.cost_usd, self.llm.cost_usd(usage))

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
        """Add user content, merging into a trailing user message so that roles keep alternating."""
        if self.history and self.history[-1]["role"] == "user":
            last = self.history[-1]
            self.history[-1] = {**last, "content": [*_as_blocks(last["content"]), *blocks]}
        else:
            self.history.append({"role": "user", "content": blocks})
        self._changed()

    def _append_assistant(self, blocks: list[dict[str, Any]]) -> None:
        """Add the model's content; after a `pause_turn` the continuation joins the paused message."""
        if self.history and self.history[-1]["role"] == "assistant":
            self.history[-1] = {**self.history[-1], "content": [*self.history[-1]["content"], *blocks]}
        else:
            self.history.append({"role": "assistant", "content": blocks})
        self._changed()

    def _close_open_tool_uses(self, text: str) -> None:
        """Answer every tool_use of a trailing assistant message: real results where a call finished."""
        if not self.history or self.history[-1]["role"] != "assistant":
            return
        uses = [b for b in self.history[-1]["content"] if b.get("type") == "tool_use"]
        if uses:
            results = [self._done_results.get(u["id"]) or _result_block(u["id"], text, True) for u in uses]
            self.history.append({"role": "user", "content": results})
            self._changed()

    # ------------------------------------------------------------------------------------- tools

    async def _run_tool_uses(self, uses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run calls in order; consecutive read-only calls run concurrently. Results keep the call order."""
        self._done_results = {}
        results: list[dict[str, Any]] = []
        for batch in self._batches(uses):
            if len(batch) == 1:
                results.append(await self._run_tool_use(batch[0]))
            else:
                results += await asyncio.gather(*(self._run_tool_use(use) for use in batch))
        return results

    def _batches(self, uses: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        batches: list[list[dict[str, Any]]] = []
        previous_read_only = False
        for use in uses:
            tool = self.tools.get(use["name"])
            read_only = tool is not None and tool.read_only
            if read_only and previous_read_only:
                batches[-1].append(use)
            else:
                batches.append([use])
            previous_read_only = read_only
        return batches

    async def _run_tool_use(self, use: dict[str, Any]) -> dict[str, Any]:
        tool_id, name, raw = use["id"], use["name"], use.get("input") or {}
        if self._stopped:  # an earlier call of this response was refused with a plain "no"
            return _result_block(tool_id, STOPPED_RESULT, True)
        tool = self.tools.get(name)
        args, problem, key = None, None, ""
        if tool is None:
            problem = ToolResult(f"Unknown tool {name!r}. Available tools: {', '.join(self.tools.names())}.",
                                 is_error=True, summary="unknown tool")
        else:
            try:
                args = tool.parse_input(raw)
                key = tool.key_argument(args)
            except ToolError as exc:
                problem = ToolResult(str(exc), is_error=True, summary="invalid input")
        self._emit(ToolCallStarted(tool_id, name, raw, key))
        if problem is None and tool is not None:
            pre = await hook_points.before_tool(self, name, raw, tool_id)
            if pre.stop:
                self.halted = pre.stop_reason or "stopped by a PreToolUse hook"
            if pre.blocked or pre.stop:
                problem = ToolResult(f"Blocked by a PreToolUse hook: {pre.reason or self.halted}", is_error=True,
                                     summary="blocked by a hook")
            else:
                problem = await self._check_permission(tool, args, tool_id, hook_answer=pre.permission)
        result = problem or await self._execute(tool, args, tool_id)  # type: ignore[arg-type]
        for denial in result.denials:  # refused while it ran (a sandboxed command's network)
            self._emit(PermissionDenied(tool_id, name, denial.reason, unattended=self.asker is None,
                                        rule=denial.rule, domain=denial.domain))
        content = _truncate(result.content or "(no output)", self.max_tool_result_chars)
        if problem is None and not result.is_error:
            content = await hook_points.after_tool(self, name, raw, tool_id, content)
        if problem is None and self.memory is not None:
            touched = getattr(args, "file_path", None) or getattr(args, "path", None)
            content += subfolder_note(self.memory.touched(touched))
        self._emit(ToolCallFinished(tool_id, name, result.summary, result.is_error, content, result.change))
        block = _result_block(tool_id, content, result.is_error)
        if result.blocks:  # an MCP tool's images travel with its text
            block["content"] = [*([{"type": "text", "text": content}] if result.content else []), *result.blocks]
        self._done_results[tool_id] = block
        return block

    async def _execute(self, tool: Tool, args: Any, tool_id: str) -> ToolResult:
        try:
            return await tool.run(args, replace(self._run_ctx, tool_use_id=tool_id))
        except ToolError as exc:
            message = str(exc) or f"{tool.name} failed"
            return ToolResult(message, is_error=True, summary=message.splitlines()[0][:80])
        except Exception as exc:  # a tool bug must not end the turn: the model reads it and moves on
            log.exception("tool %s crashed", tool.name)
            return ToolResult(f"{tool.name} failed: {type(exc).__name__}: {exc}", is_error=True,
                              summary=f"failed: {type(exc).__name__}")

    async def _check_permission(self, tool: Tool, args: Any, tool_id: str,
                                hook_answer: str | None = None) -> ToolResult | None:
        """None when the call may run, else the error result the model gets instead. A PreToolUse hook's
        `allow` answers a question (never a deny rule); its `ask` turns an allow into a question."""
        if self.policy is None:
            return None
        try:
            decision = self.policy.check(tool, args, self._run_ctx)
            if inspect.isawaitable(decision):
                decision = await decision
        except Exception as exc:  # a failed check must never mean "allowed"
            log.exception("permission check for %s failed", tool.name)
            return ToolResult(f"Not run: the permission check failed ({exc}).", is_error=True, summary="denied")
        behavior, reason = getattr(decision, "behavior", "allow"), getattr(decision, "reason", "") or ""
        if hook_answer == "allow" and behavior == "ask":
            return None
        if hook_answer == "ask" and behavior == "allow":
            behavior, reason = "ask", "a PreToolUse hook asks for approval"
        if behavior == "allow":
            return None
        if behavior == "ask" and self.asker is None:
            subject = tool.permission_subject(args)
            rule = getattr(decision, "suggested_rule", None) or (
                f"{tool.name}({subject})" if subject else tool.name)
            self._emit(PermissionDenied(tool_id, tool.name, reason or "needs approval", unattended=True, rule=rule))
            return ToolResult(unattended_denial(tool.name, rule, reason), is_error=True,
                              summary="denied: needs approval, nobody to ask")
        if behavior == "ask" and self.asker is not None:
            hook_points.notify(self, f"Claude needs your permission to use {tool.name}", "permission_prompt")
            async with self._ask_lock:  # one question at a time, even for concurrent calls
                answer = PermissionAnswer.of(await self.asker(tool, args, decision))
            if answer.allowed:
                return None
            rule = getattr(decision, "suggested_rule", None)
            self._stopped = self._stopped or answer.stop
            self._emit(PermissionDenied(tool_id, tool.name, answer.reason, rule=rule, note=answer.note,
                                        no_answer=answer.unanswered, stopped=answer.stop))
            return ToolResult(answer.refusal_text(), is_error=True, summary=answer.summary)
        self._emit(PermissionDenied(tool_id, tool.name, reason or "denied by a rule"))
        return ToolResult(f"Permission denied: {reason or 'a deny rule matches this call'}. Do not retry "
                          "this call in another form.", is_error=True, summary="denied")

    # -------------------------------------------------------------------------------- compaction

    async def compact(self) -> Compacted | None:
        """Summarise all but the latest exchange now (/compact); None when there is nothing to summarise."""
        return await self._compact(None, keep_tokens=0)

    async def _compact(self, turn: TurnResult | None, *, keep_tokens: float | None = None) -> Compacted | None:
        from agent.engine.llm import LLMError

        automatic = keep_tokens is None
        split = self._split_index(KEEP_RECENT * self.llm.context_window if automatic else keep_tokens or 0,
                                  worth=0.05 * self.llm.context_window if automatic else 0)
        if split is None:
            return None
        await hook_points.before_compact(self, "auto" if automatic else "manual")
        before = self.context_tokens
        head, tail = self.history[:split], self.history[split:]
        request = summary_request(head, limit_chars=self.llm.context_window * 2)
        try:
            response = await self.llm.stream_message(
                system=SUMMARY_SYSTEM, messages=[{"role": "user", "content": request}],
                max_tokens=min(self.llm.max_tokens, 4096))
            summary = response.text.strip() or "(empty summary)"
            if turn is not None:
                self._account(turn, response.usage)
        except LLMError as exc:
            log.warning("compaction failed (%s); dropping the older messages instead", exc.message)
            summary = "(the earlier conversation could not be summarised and was dropped)"
        summary_message = {"role": "user", "content": [{"type": "text", "text": SUMMARY_PREFIX + summary}]}
        self.history = [summary_message, *tail]
        self._measured_tokens, self._measured_len = 0, 0
        self._changed()
        event = Compacted(before, self.context_tokens, len(head))
        self._emit(event)
        return event

    def _split_index(self, budget: float, *, worth: float) -> int | None:
        """Where the kept tail starts: an assistant message (never between a tool_use and its result),
        as early as fits in `budget` tokens, leaving at least `worth` tokens behind to summarise."""
        starts = [i for i, m in enumerate(self.history) if m["role"] == "assistant"]
        if not starts:
            return None
        split = starts[-1]
        for i in reversed(starts):
            if estimate_tokens(self.history[i:]) > budget:
                break
            split = i
        if estimate_tokens(self.history[:split]) < worth:
            return None
        return split


# ------------------------------------------------------------------------------------- helpers


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _api_message(response: LLMResponse) -> dict[str, Any]:
    """A finished response in the Messages API's message shape."""
    return {"id": response.id, "type": "message", "role": "assistant", "model": response.model,
            "content": response.content, "stop_reason": response.stop_reason, "stop_sequence": None,
            "usage": response.usage.to_dict()}


def _result_block(tool_use_id: str, content: str, is_error: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}
    if is_error:
        block["is_error"] = True
    return block


def _truncate(text: str, limit: int) -> str:
    """Keep the head and the tail of an over-long result, with a note saying how much was cut."""
    if len(text) <= limit:
        return text
    head, tail = int(limit * 0.8), int(limit * 0.2)
    cut = len(text) - head - tail
    return (f"{text[:head]}\n\n[... {cut:,} of {len(text):,} characters cut here: the result was too long "
            f"to keep ...]\n\n{text[len(text) - tail:]}")


__all__ = ["USER_DECLINED", "Conversation", "PermissionAnswer", "TurnResult", "estimate_tokens"]
