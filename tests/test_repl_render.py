"""The renderer: compact tool lines, streaming into the live area, Markdown once a block is done."""

from __future__ import annotations

import re
from datetime import datetime

from agent.engine.events import (
    Compacted,
    PermissionDenied,
    RetryNotice,
    TextBlockDone,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnFinished,
    TurnStarted,
    Usage,
    UsageReport,
)
from agent.repl.formatting import (
    format_duration,
    format_local_time,
    format_tokens,
    format_until,
    shorten,
    tool_line,
)
from agent.repl.render import Renderer


class Screen:
    """A sink that records what was written and runs the `then` callbacks only when told (as the
    terminal does once the text is really on the screen)."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.pending: list = []

    def __call__(self, text, then=None) -> None:
        self.written.append(text)
        if then is not None:
            self.pending.append(then)

    def flush(self) -> None:
        callbacks, self.pending = self.pending, []
        for then in callbacks:
            then()

    @property
    def text(self) -> str:
        return "".join(self.written)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_renderer(color: bool = False) -> tuple[Renderer, Screen, Clock]:
    screen, clock = Screen(), Clock()
    return Renderer(screen, color=color, width=lambda: 80, clock=clock), screen, clock


def live_text(renderer: Renderer) -> str:
    return "".join(text for _, text in renderer.live_fragments())


def test_tool_line_shows_tool_key_argument_and_short_result():
    assert tool_line("Edit", "src/app.py", "edited 3 lines", False) == "● Edit(src/app.py) · edited 3 lines"
    assert tool_line("Bash", "npm test", "exit 1", True) == "● Bash(npm test) · exit 1"


def test_tool_line_without_key_argument_shows_only_the_name():
    assert tool_line("CronList", "", "2 tasks", False) == "● CronList · 2 tasks"


def test_tool_line_cuts_long_and_multi_line_arguments_to_one_short_line():
    line = tool_line("Bash", "for f in *; do\n  echo $f\ndone", "exit 0", False)
    assert "\n" not in line and line.startswith("● Bash(for f in *; do…)")
    long = tool_line("Read", "a/" * 100 + "file.py", "read 10 lines", False)
    assert len(long) < 110 and "…" in long


def test_tool_line_with_no_summary_says_done_or_failed():
    assert tool_line("Write", "x.txt", "", False).endswith("· done")
    assert tool_line("Write", "x.txt", "", True).endswith("· failed")


def test_shorten_keeps_short_single_lines_as_they_are():
    assert shorten("hello", 10) == "hello"
    assert shorten("hello world", 6) == "hello…"


def test_durations_use_at_most_two_units():
    assert format_duration(45) == "45s"
    assert format_duration(250) == "4m 10s"
    assert format_duration(7500) == "2h 5m"
    assert format_duration(3 * 86400 + 4 * 3600 + 5) == "3d 4h"
    assert format_until(1_000_000 + 250_000, 1_000_000) == "in 4m 10s"
    assert format_until(1_000_000, 1_000_500) == "now"


def test_local_time_reads_like_nov_23_9_03_am():
    ms = int(datetime(2025, 11, 23, 9, 3).timestamp() * 1000)
    assert format_local_time(ms) == "Nov 23 9:03 AM"
    assert format_local_time(int(datetime(2025, 1, 5, 0, 7).timestamp() * 1000)) == "Jan 5 12:07 AM"
    assert format_local_time(int(datetime(2025, 1, 5, 15, 30).timestamp() * 1000)) == "Jan 5 3:30 PM"


def test_token_counts_are_short():
    assert [format_tokens(n) for n in (950, 12_345, 1_200_000)] == ["950", "12.3k", "1.2M"]


def test_streamed_text_shows_in_the_live_area_as_markdown_and_not_in_the_transcript():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TextDelta("Hello **wor"))
    assert "Hello wor" in live_text(renderer) and "**" not in live_text(renderer)  # bold before it closes
    renderer.handle(TextDelta("ld**"))
    assert "Hello world" in live_text(renderer) and "**" not in live_text(renderer)
    assert screen.text == ""


def test_finished_block_is_printed_once_as_markdown_and_leaves_the_live_area_when_shown():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TextDelta("# Title\n\nHello **world**"))
    renderer.handle(TextBlockDone("# Title\n\nHello **world**"))
    assert "Hello world" in screen.text and "**" not in screen.text  # rendered, not raw
    assert "Hello world" in live_text(renderer)  # still shown until the printed copy is on screen
    screen.flush()
    assert "Hello" not in live_text(renderer) and "Title" not in live_text(renderer)
    renderer.handle(TurnFinished("end_turn", 1, Usage(), 0.0, "Hello world"))
    assert screen.text.count("Hello world") == 1 and screen.text.count("Title") == 1


def test_finished_paragraphs_are_printed_while_the_block_still_streams():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TextDelta("## Plan\n\nFirst **step**.\n\nSecond st"))
    assert "Plan" in screen.text and "First step." in screen.text and "Second" not in screen.text
    screen.flush()
    live = live_text(renderer)
    assert "Second st" in live and "First" not in live and "Plan" not in live
    renderer.handle(TextDelta("ep.\n"))
    renderer.handle(TextBlockDone("## Plan\n\nFirst **step**.\n\nSecond step.\n"))
    screen.flush()
    assert [screen.text.count(word) for word in ("Plan", "First step.", "Second step.")] == [1, 1, 1]
    assert "**" not in screen.text and "##" not in screen.text
    assert "Second" not in live_text(renderer)


def test_tool_call_shows_while_running_then_as_one_line():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("go"))
    renderer.handle(ToolCallStarted("t1", "Bash", {"command": "npm test"}, "npm test"))
    assert "○ Bash(npm test) …" in live_text(renderer)
    assert "Running Bash" in renderer.status_text()
    renderer.handle(ToolCallFinished("t1", "Bash", "exit 1", True, "FAILED"))
    assert screen.text.strip().splitlines() == ["● Bash(npm test) · exit 1", "  ⎿  FAILED"]  # line, output
    assert "Bash(npm test)" not in live_text(renderer)


def test_failed_tool_call_is_red_on_a_colour_terminal():
    renderer, screen, _ = make_renderer(color=True)
    renderer.handle(ToolCallStarted("t1", "Edit", {}, "a.py"))
    renderer.handle(ToolCallFinished("t1", "Edit", "old_string not found", True, ""))
    assert re.search(r"\x1b\[(?:\d+;)*31m.*Edit\(a\.py\)", screen.text)


def test_text_streamed_before_a_tool_call_is_printed_before_the_tool_line():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("go"))
    renderer.handle(TextDelta("Let me look."))
    renderer.handle(ToolCallStarted("t1", "Read", {}, "a.py"))
    renderer.handle(ToolCallFinished("t1", "Read", "read 3 lines", False, ""))
    assert screen.text.index("Let me look.") < screen.text.index("● Read(a.py)")


def test_spinner_shows_elapsed_seconds_and_tokens_while_a_turn_runs():
    renderer, _, clock = make_renderer()
    assert renderer.status_text() == ""
    renderer.handle(TurnStarted("hi"))
    clock.now += 4.2
    usage = Usage(input_tokens=1000, output_tokens=200)
    renderer.handle(UsageReport(usage, usage, 0.01, 0.01, 1000, 200_000))
    status = renderer.status_text()
    assert "Thinking… 4s" in status and "1.2k tokens" in status
    renderer.waiting = True
    assert "Waiting for your answer" in renderer.status_text()


def test_cancelled_turn_says_interrupted_and_keeps_the_partial_text():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TextDelta("Half an ans"))
    renderer.handle(TurnFinished("cancelled", 1, Usage(), 0.0, "", True, "cancelled by the user"))
    assert "Half an ans" in screen.text and "Interrupted." in screen.text
    assert renderer.status_text() == ""


def test_failed_turn_shows_the_error_message():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TurnFinished(None, 0, Usage(), 0.0, "", True, "Cannot connect to the API at http://x"))
    assert "Cannot connect to the API at http://x" in screen.text


def test_retry_that_discards_output_clears_the_streamed_text():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TextDelta("partial"))
    renderer.handle(RetryNotice("overloaded_error mid-response", 2.0, 1, discarded_output=True))
    assert "partial" not in live_text(renderer)
    assert "retrying in 2s" in screen.text


def test_a_retry_that_answers_differently_replaces_the_live_text_and_says_so_once():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TextDelta("first version"))
    renderer.handle(RetryNotice("the retried response differs from the text shown; showing it anew", 0.0, 2,
                                discarded_output=True))
    renderer.handle(TextDelta("second version"))
    assert "first version" not in live_text(renderer) and "second version" in live_text(renderer)
    assert "showing it anew" in screen.text and "retrying in" not in screen.text


def test_denied_calls_and_compaction_are_reported_in_one_line_each():
    renderer, screen, _ = make_renderer()
    renderer.handle(PermissionDenied("t1", "Bash", "declined by the user"))
    renderer.handle(Compacted(150_000, 20_000, 12))
    lines = [line.strip() for line in screen.text.strip().splitlines()]
    assert lines == ["Bash not run: declined by the user",
                     "Compacted the conversation: 150.0k → 20.0k tokens (12 messages summarised)"]


def test_scheduled_header_names_the_local_fire_time_and_the_prompt():
    renderer, screen, _ = make_renderer()
    ms = int(datetime(2025, 11, 23, 9, 3).timestamp() * 1000)
    renderer.scheduled_header(ms, "check the deploy")
    assert screen.text.strip() == "Running scheduled task (Nov 23 9:03 AM): check the deploy"


def test_live_area_keeps_only_the_last_lines_of_a_long_unfinished_block():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TextDelta("```\n" + "\n".join(f"line {i}" for i in range(40))))  # a code fence still open
    text = live_text(renderer)
    assert "line 39" in text and "line 20" not in text
    assert screen.text == ""
    renderer.handle(TextDelta("\n```\n"))  # closed: printed whole
    printed = [line.strip() for line in screen.text.splitlines()]
    assert all(printed.count(f"line {i}") == 1 for i in range(40))


def test_block_that_arrives_whole_without_deltas_is_printed_as_markdown():
    renderer, screen, _ = make_renderer()
    renderer.handle(TurnStarted("hi"))
    renderer.handle(TextBlockDone("## Done\n\nAll **good**."))
    screen.flush()
    assert "Done" in screen.text and "All good." in screen.text and "**" not in screen.text
    assert "good" not in live_text(renderer)
