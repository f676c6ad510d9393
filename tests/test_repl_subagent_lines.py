"""The chat's subagent lines, from synthetic events: one live line under each running Task call that says
what its subagent does now, a one-line summary once it is done, and its tool calls whole with Ctrl-O."""

from __future__ import annotations

from agent.engine.events import (
    SubagentProgress,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
    TurnStarted,
    Usage,
    UsageReport,
)
from agent.repl.render import Renderer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_renderer() -> tuple[Renderer, list[str], Clock]:
    written: list[str] = []
    clock = Clock()
    renderer = Renderer(lambda text, then=None: written.append(text), color=False, width=lambda: 100,
                        clock=clock)
    return renderer, written, clock


def live_text(renderer: Renderer) -> str:
    return "".join(text for _, text in renderer.live_fragments())


def task(renderer: Renderer, call_id: str, description: str, kind: str | None = None) -> None:
    args = {"description": description, "prompt": "do it", **({"subagent_type": kind} if kind else {})}
    renderer.handle(ToolCallStarted(call_id, "Task", args, description))


def sub(call_id: str, kind: str, event) -> SubagentProgress:
    return SubagentProgress(call_id, kind, event)


def test_each_running_task_gets_a_live_line_that_collapses_to_a_summary() -> None:
    renderer, written, clock = make_renderer()
    renderer.handle(TurnStarted("go"))
    task(renderer, "t1", "Run tests")
    task(renderer, "t2", "Review app", "reviewer")
    assert "⎿ agent: thinking · 0 tool calls · 0s" in live_text(renderer)
    assert "⎿ reviewer: thinking · 0 tool calls · 0s" in live_text(renderer)

    kind = "general-purpose"
    renderer.handle(sub("t1", kind, ToolCallStarted("s1", "Read", {"file_path": "a.py"}, "a.py")))
    renderer.handle(sub("t1", kind, ToolCallFinished("s1", "Read", "read 3 lines", False, "1\n2\n3")))
    renderer.handle(sub("t1", kind, ToolCallStarted("s2", "Bash", {"command": "pytest -q"}, "pytest -q")))
    renderer.handle(sub("t2", "reviewer", ToolCallStarted("s3", "Grep", {"pattern": "TODO"}, "TODO")))
    clock.now += 12
    live = live_text(renderer).splitlines()
    t1 = live.index("○ Task(Run tests) …")
    assert live[t1 + 1] == "  ⎿ general-purpose: Bash(pytest -q) · 2 tool calls · 12s"  # right under its call
    t2 = live.index("○ Task(Review app) …")
    assert live[t2 + 1] == "  ⎿ reviewer: Grep(TODO) · 1 tool call · 12s"
    assert "pytest" not in "".join(written)  # without Ctrl-O the subagent's calls stay out of the transcript

    renderer.handle(sub("t1", kind, ToolCallFinished("s2", "Bash", "", False, "5 passed")))
    usage = Usage(input_tokens=2000, output_tokens=100)
    renderer.handle(sub("t1", kind, UsageReport(usage, usage, None, None)))
    renderer.handle(sub("t1", kind, TurnFinished("end_turn", 2, usage, None, "all green")))
    renderer.handle(ToolCallFinished("t1", "Task", "general-purpose done", False, "all green"))
    text = "".join(written)
    assert "● Task(Run tests) · general-purpose done\n" in text
    assert "  ⎿ done: 2 tool calls, 2.1k tokens" in text
    live = live_text(renderer)
    assert "Run tests" not in live and "pytest" not in live  # collapsed: gone from the live area
    assert "⎿ reviewer: Grep(TODO)" in live  # the other one still runs


def test_the_verbose_transcript_shows_the_subagents_tool_calls_whole() -> None:
    renderer, written, _ = make_renderer()
    renderer.handle(TurnStarted("go"))
    task(renderer, "t1", "Run tests")
    renderer.toggle_verbose()
    output = "\n".join(f"line {n}" for n in range(30))
    renderer.handle(sub("t1", "general-purpose", ToolCallStarted("s1", "Bash", {"command": "seq"}, "seq 30")))
    renderer.handle(sub("t1", "general-purpose", ToolCallFinished("s1", "Bash", "", False, output)))
    text = "".join(written)
    assert "⎿ general-purpose: ● Bash(seq 30) · done" in text
    assert "line 0" in text and "line 29" in text  # whole, not a preview


def test_a_task_that_fails_to_start_gets_no_summary_line() -> None:
    renderer, written, _ = make_renderer()
    renderer.handle(TurnStarted("go"))
    task(renderer, "t1", "Review", "nobody")
    renderer.handle(ToolCallFinished("t1", "Task", "Unknown subagent_type 'nobody'", True, "Unknown..."))
    text = "".join(written)
    assert "● Task(Review) · Unknown subagent_type" in text and "⎿" not in text
    assert "⎿" not in live_text(renderer)
