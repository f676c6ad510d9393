"""Running the tool calls of one model response: in order, consecutive read-only calls side by side.

Separate from the loop because a call's life is its own job: parse the input, the PreToolUse hooks, the
permission gate, the run (a tool's error or crash becomes a result the model reads, never the end of
the turn), the result cut to size, the PostToolUse hooks and a subfolder's CLAUDE.md note. The results of
calls that finished are kept, so that a cancelled turn answers them with what they did rather than with
"cancelled"; after a plain "no" from the user the remaining calls of the response are not run.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from agent.engine import hook_points
from agent.engine.events import PermissionDenied, ToolCallFinished, ToolCallStarted
from agent.engine.history import result_block
from agent.engine.memory import subfolder_note
from agent.engine.permission_gate import PermissionGate
from agent.tools.base import Tool, ToolContext, ToolError, ToolResult

log = logging.getLogger(__name__)

Conversation = Any  # agent.engine.conversation.Conversation (not imported: it imports this module)
Block = dict[str, Any]

MAX_TOOL_RESULT_CHARS = 50_000
STOPPED_RESULT = "Not run: the user stopped this turn."  # calls of the same response after a plain "no"


class ToolCalls:
    """Runs a conversation's tool calls, one response at a time (its tools, hooks and memory are read live)."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.gate = PermissionGate(conversation)
        self.finished: dict[str, Block] = {}  # the latest response's results of calls that finished, by id
        self.stopped = False  # a plain "no" to a question in the latest response: no further request
        self._ctx: ToolContext = conversation.ctx

    async def run(self, uses: list[Block], ctx: ToolContext) -> list[Block]:
        """Run calls in order; consecutive read-only calls run concurrently. Results keep the call order."""
        self.finished, self.stopped, self._ctx = {}, False, ctx
        results: list[Block] = []
        for batch in self._batches(uses):
            if len(batch) == 1:
                results.append(await self._run_one(batch[0]))
            else:
                results += await asyncio.gather(*(self._run_one(use) for use in batch))
        return results

    def _batches(self, uses: list[Block]) -> list[list[Block]]:
        batches: list[list[Block]] = []
        previous_read_only = False
        for use in uses:
            tool = self.conversation.tools.get(use["name"])
            read_only = tool is not None and tool.read_only
            if read_only and previous_read_only:
                batches[-1].append(use)
            else:
                batches.append([use])
            previous_read_only = read_only
        return batches

    async def _run_one(self, use: Block) -> Block:
        conversation = self.conversation
        tool_id, name, raw = use["id"], use["name"], use.get("input") or {}
        if self.stopped:  # an earlier call of this response was refused with a plain "no"
            return result_block(tool_id, STOPPED_RESULT, True)
        tool = conversation.tools.get(name)
        args, problem, key = self._parse(tool, name, raw)
        conversation.emit_event(ToolCallStarted(tool_id, name, raw, key))
        if problem is None and tool is not None:
            problem = await self._refusal(tool, args, use)
        result = problem or await self._execute(tool, args, tool_id)  # type: ignore[arg-type]
        unattended = conversation.asker is None
        for denial in result.denials:  # refused while it ran (a sandboxed command's network)
            conversation.emit_event(PermissionDenied(tool_id, name, denial.reason, unattended=unattended,
                                                     rule=denial.rule, domain=denial.domain))
        content = await self._content(result, args, use, ran=problem is None)
        conversation.emit_event(ToolCallFinished(tool_id, name, result.summary, result.is_error, content,
                                                 result.change))
        block = result_block(tool_id, content, result.is_error)
        if result.blocks:  # an MCP tool's images travel with its text
            block["content"] = [*([{"type": "text", "text": content}] if result.content else []), *result.blocks]
        self.finished[tool_id] = block
        return block

    def _parse(self, tool: Tool | None, name: str, raw: Any) -> tuple[Any, ToolResult | None, str]:
        """The call's arguments, the error result when there are none to run with, and its key argument."""
        if tool is None:
            names = ", ".join(self.conversation.tools.names())
            return None, ToolResult(f"Unknown tool {name!r}. Available tools: {names}.", is_error=True,
                                    summary="unknown tool"), ""
        try:
            args = tool.parse_input(raw)
            return args, None, tool.key_argument(args)
        except ToolError as exc:
            return None, ToolResult(str(exc), is_error=True, summary="invalid input"), ""

    async def _refusal(self, tool: Tool, args: Any, use: Block) -> ToolResult | None:
        """None when the call may run: the PreToolUse hooks, then the permission gate."""
        conversation, tool_id = self.conversation, use["id"]
        pre = await hook_points.before_tool(conversation, use["name"], use.get("input") or {}, tool_id)
        if pre.stop:
            conversation.halted = pre.stop_reason or "stopped by a PreToolUse hook"
        if pre.blocked or pre.stop:
            return ToolResult(f"Blocked by a PreToolUse hook: {pre.reason or conversation.halted}", is_error=True,
                              summary="blocked by a hook")
        refusal = await self.gate.check(tool, args, self._ctx, tool_id, hook_answer=pre.permission)
        if refusal is None:
            return None
        self.stopped = self.stopped or refusal.stop
        return refusal.result

    async def _execute(self, tool: Tool, args: Any, tool_id: str) -> ToolResult:
        try:
            return await tool.run(args, replace(self._ctx, tool_use_id=tool_id))
        except ToolError as exc:
            message = str(exc) or f"{tool.name} failed"
            return ToolResult(message, is_error=True, summary=message.splitlines()[0][:80])
        except Exception as exc:  # a tool bug must not end the turn: the model reads it and moves on
            log.exception("tool %s crashed", tool.name)
            return ToolResult(f"{tool.name} failed: {type(exc).__name__}: {exc}", is_error=True,
                              summary=f"failed: {type(exc).__name__}")

    async def _content(self, result: ToolResult, args: Any, use: Block, *, ran: bool) -> str:
        """What the model reads: the output cut to size, as PostToolUse hooks left it, with the CLAUDE.md
        of a subfolder the call reached for the first time."""
        conversation = self.conversation
        content = truncate(result.content or "(no output)", conversation.max_tool_result_chars)
        if ran and not result.is_error:
            content = await hook_points.after_tool(conversation, use["name"], use.get("input") or {}, use["id"],
                                                   content)
        if ran and conversation.memory is not None:
            touched = getattr(args, "file_path", None) or getattr(args, "path", None)
            content += subfolder_note(conversation.memory.touched(touched))
        return content


def truncate(text: str, limit: int) -> str:
    """Keep the head and the tail of an over-long result, with a note saying how much was cut."""
    if len(text) <= limit:
        return text
    head, tail = int(limit * 0.8), int(limit * 0.2)
    cut = len(text) - head - tail
    return (f"{text[:head]}\n\n[... {cut:,} of {len(text):,} characters cut here: the result was too long "
            f"to keep ...]\n\n{text[len(text) - tail:]}")
