"""In a real terminal: a running subagent (Task) gets a live line under its call saying what it does, and
the line collapses to a one-line summary when the subagent is done."""

from __future__ import annotations

from fake_api import RecordedRequest, text_reply, tool_reply
from pty_support import PTY_ONLY
from screen_support import spawn_screen

from agent.engine.subagents import SUBAGENT_NOTE

pytestmark = PTY_ONLY


def is_subagent(request: RecordedRequest) -> bool:
    return SUBAGENT_NOTE in request.system_text


def test_a_running_subagent_has_a_live_line_that_collapses_to_a_summary(fake_api, project, tmp_path):
    (project / "app.py").write_text("print('hi')\n")
    fake_api.when(lambda r: is_subagent(r) and not r.tool_results(), tool_reply(("Glob", {"pattern": "*.py"})))
    fake_api.when(is_subagent, text_reply("found app.py", delay_s=3.0))  # its second request takes a while
    fake_api.script(tool_reply(("Task", {"description": "Scan files", "prompt": "list the python files"})),
                    text_reply("The scan is finished."))
    term = spawn_screen(fake_api, tmp_path / "home", project, rows=30, cols=100)
    try:
        term.wait_for_text(r"(?m)^> ?", timeout=15)
        term.type("scan the project\r")
        # while it runs: its line right under the Task call, saying what it does
        term.wait_for_text(r"○ Task\(Scan files\) …\n  ⎿ general-purpose: thinking · 1 tool call · \ds")
        # done: the live line is gone, one summary line stays under the call's line
        term.wait_for_text(r"The scan is finished\.")
        lines = "\n".join(term.all_lines())
        assert "● Task(Scan files) · general-purpose done\n  ⎿ done: 1 tool call, " in lines
        assert "⎿ general-purpose:" not in "\n".join(term.rows())
    finally:
        term.child.terminate(force=True)
