"""In a real terminal: the model's todo list is drawn above the prompt while its turn runs."""

from __future__ import annotations

from fake_api import text_reply, tool_reply
from pty_support import PTY_ONLY

pytestmark = PTY_ONLY

PLAN = [{"content": "Read the logs", "status": "completed", "activeForm": "Reading the logs"},
        {"content": "Find the failing job", "status": "in_progress", "activeForm": "Finding the failing job"},
        {"content": "Write the summary", "status": "pending", "activeForm": "Writing the summary"}]


def test_the_todo_list_is_drawn_above_the_prompt_while_the_turn_runs(spawn, fake_api):
    fake_api.script(tool_reply(("TodoWrite", {"todos": PLAN})), text_reply("all done", delay_s=3.0))
    term = spawn()
    term.type_line("check the nightly build")
    term.expect(r"☒ Read the logs\s*\n\s*◐ Finding the failing job\s*\n\s*☐ Write the summary")
    term.expect(r"all done")
