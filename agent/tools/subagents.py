"""Task: hand a piece of work to a subagent, a separate conversation with its own context and tools, and get
its final answer back. Subagent types are Claude Code's: Markdown files with front matter (`name`,
`description`, `tools`, `model`) in `.claude/agents/` of the project and `~/.claude/agents/`, plus the
built-in general-purpose one. The engine runs the conversation (ToolContext.run_subagent)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.tools.base import Tool, ToolContext, ToolError, ToolResult

log = logging.getLogger(__name__)

GENERAL_PURPOSE = "general-purpose"
MAX_AGENT_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class AgentType:
    name: str
    description: str
    prompt: str = ""  # the file's body: the subagent's instructions
    tools: tuple[str, ...] | None = None  # None: every tool the session has (except Task)
    model: str | None = None  # None or "inherit": the session's model
    source: str = "built-in"  # where it came from: "built-in", "project", "user"
    path: Path | None = None


BUILT_IN = AgentType(
    GENERAL_PURPOSE,
    "General-purpose agent for researching complex questions, searching for code, and executing multi-step "
    "tasks. Use it when a search may take several tries, or to keep a side task out of your own context.",
)


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    head, sep, body = text[3:].partition("\n---")
    if not sep:
        return {}, text
    import yaml

    data = yaml.safe_load(head)
    return (data if isinstance(data, dict) else {}), body.lstrip("-").lstrip("\n")


def _tool_list(value: Any) -> tuple[str, ...] | None:
    if value is None or value == "*":
        return None
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else []
    names = tuple(str(item).strip() for item in items if str(item).strip())
    return names or None


def parse_agent_file(path: Path, source: str) -> AgentType | None:
    """One agent file, or None (logged) when it is not a usable definition."""
    try:
        if path.stat().st_size > MAX_AGENT_FILE_BYTES:
            raise ValueError("file too large")
        meta, body = _front_matter(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.warning("agent file %s skipped: %s", path, exc)
        return None
    except Exception as exc:  # yaml errors
        log.warning("agent file %s skipped: bad front matter (%s)", path, exc)
        return None
    name, description = str(meta.get("name") or "").strip(), str(meta.get("description") or "").strip()
    if not name or not description:
        log.warning("agent file %s skipped: front matter needs name and description", path)
        return None
    model = str(meta["model"]).strip() if meta.get("model") else None
    return AgentType(name, description, body.strip(), _tool_list(meta.get("tools")),
                     None if model == "inherit" else model, source, path)


def load_agent_types(project_dir: Path, home: Path) -> dict[str, AgentType]:
    """Built-in, then user (`~/.claude/agents`), then project (`.claude/agents`): a later one of the same
    name wins, as in Claude Code."""
    types = {BUILT_IN.name: BUILT_IN}
    for folder, source in ((home / ".claude" / "agents", "user"), (project_dir / ".claude" / "agents", "project")):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.md")):
            kind = parse_agent_file(path, source)
            if kind is not None:
                types[kind.name] = kind
    return types


class TaskInput(BaseModel):
    description: str = Field(description="A short (3-5 word) description of the task")
    prompt: str = Field(description="The task for the agent to perform")
    subagent_type: str | None = Field(
        None, description=f"The type of specialized agent to use for this task (default {GENERAL_PURPOSE})")


class TaskTool(Tool):
    name = "Task"
    read_only = True  # it changes nothing itself: the subagent's own tool calls are checked one by one
    Input = TaskInput
    description = "Launch a subagent to handle a task on its own."

    def __init__(self, types: dict[str, AgentType]) -> None:
        self.types = types

    def definition(self) -> dict[str, Any]:  # type: ignore[override]
        kinds = "\n".join(f"- {t.name}: {t.description}" + (f" (tools: {', '.join(t.tools)})" if t.tools else "")
                          for t in self.types.values())
        text = (
            "Launch a new agent to handle a complex, multi-step task on its own. It starts with a fresh context "
            "and its own tools, works until done and returns one final message, which you then read (the user "
            "does not see it: tell them what matters).\n\n"
            f"Agent types (subagent_type):\n{kinds}\n\n"
            "- Give a complete, self-contained prompt: the agent knows nothing of this conversation. Say exactly "
            "what it should return.\n"
            "- To run several agents at once, put several Task calls in one message.\n"
            "- The session's permission rules apply to the agent's tool calls."
        )
        return {"name": self.name, "description": text, "input_schema": self.input_schema()}

    def key_argument(self, args: BaseModel) -> str:
        return str(args.description)  # type: ignore[attr-defined]

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, TaskInput)
        kind = self.types.get((args.subagent_type or GENERAL_PURPOSE).strip())
        if kind is None:
            raise ToolError(f"Unknown subagent_type {args.subagent_type!r}; the types are "
                            f"{', '.join(self.types)}.")
        if ctx.run_subagent is None:
            raise ToolError("Subagents are not available here.")
        answer = await ctx.run_subagent(kind, args.prompt, ctx)
        return ToolResult(answer or "(the agent returned no text)", summary=f"{kind.name} done")
