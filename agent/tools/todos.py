"""TodoWrite: the model's plan for a multi-step task, as Claude Code's tool takes it
(`todos: [{content, status, activeForm}]`). The whole list is sent each time and replaces the last one.
The chat draws it above the prompt while a turn runs; a scheduled run saves it in its record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.tools.base import Tool, ToolContext, ToolResult

Status = Literal["pending", "in_progress", "completed"]
MARKS = {"completed": "☒", "in_progress": "◐", "pending": "☐"}


class TodoItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, description="What to do, in the imperative: \"Run the tests\"")
    status: Status = Field(description="pending, in_progress (one at a time) or completed")
    activeForm: str = Field(min_length=1, description="The same in the present continuous: \"Running the tests\"")


class TodoWriteInput(BaseModel):
    todos: list[TodoItem] = Field(description="The updated todo list")


class TodoBoard:
    """The session's current todo list; `listeners` are told of each change (the chat redraws)."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []
        self.by_run: dict[str, list[dict[str, str]]] = {}
        self.listeners: list[Callable[[list[dict[str, str]]], None]] = []

    def update(self, items: list[dict[str, str]], run_id: str) -> None:
        self.items = items
        self.by_run[run_id] = items
        for listener in list(self.listeners):
            listener(items)

    def for_run(self, run_id: str) -> list[dict[str, str]] | None:
        return self.by_run.get(run_id)


def render_todos(items: list[dict[str, Any]]) -> list[str]:
    """One line per item: a box, ticked when done; the item in progress in its active form."""
    lines = []
    for item in items:
        status = item.get("status", "pending")
        text = item.get("activeForm") if status == "in_progress" else item.get("content")
        lines.append(f"{MARKS.get(status, '☐')} {text}")
    return lines


class TodoWriteTool(Tool):
    name = "TodoWrite"
    read_only = True  # it changes no file: never asks
    Input = TodoWriteInput
    description = (
        "Create and update a structured todo list for the current task: it shows the user your plan and your "
        "progress.\n\n"
        "- Use it for work of three or more steps, or when the user gives several tasks; not for a single "
        "trivial step.\n"
        "- Send the whole list each time: it replaces the previous one.\n"
        "- Each item has content (imperative: \"Run the tests\"), activeForm (present continuous: \"Running the "
        "tests\") and status: pending, in_progress or completed.\n"
        "- Keep exactly one item in_progress while you work; mark an item completed as soon as it is done, "
        "never before (not when tests fail or the work is partial)."
    )

    async def run(self, args: BaseModel, ctx: ToolContext) -> ToolResult:
        assert isinstance(args, TodoWriteInput)
        items = [item.model_dump() for item in args.todos]
        if ctx.todos is not None:
            ctx.todos.update(items, ctx.run.run_id)
        done = sum(item["status"] == "completed" for item in items)
        return ToolResult(
            "Todos have been modified successfully. Ensure that you continue to use the todo list to track your "
            "progress. Please proceed with the current tasks if applicable",
            summary=f"{done}/{len(items)} done",
        )
