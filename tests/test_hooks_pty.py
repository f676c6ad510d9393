"""Hooks in the chat, in a real terminal: session start and end, the prompt, the permission question's
Notification, and a failing hook shown to the user (the chat goes on)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fake_api import text_reply, tool_reply
from hooks_support import events_of, hook_log, hooks_block, make_hook_project
from pty_support import PTY_ONLY

pytestmark = PTY_ONLY


def wait_for(project: Path, event: str) -> None:
    for _ in range(100):
        if event in events_of(project):
            return
        time.sleep(0.1)


def test_chat_runs_the_hooks_and_shows_a_failing_one(spawn, fake_api, project, tmp_path):
    command = make_hook_project(project, {"UserPromptSubmit": {"exit": 1, "stderr": "audit log unreachable"}})
    settings = Path(tmp_path / "home" / ".claude" / "settings.json")
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"hooks": hooks_block(command)}))
    fake_api.script(tool_reply(("Bash", {"command": "echo hi-from-bash"})), text_reply("all done"))
    term = spawn()
    term.type_line("say hi")
    term.expect(r"UserPromptSubmit hook .* failed with exit status 1: audit")
    term.expect(r"\? Allow Bash: echo hi-from-bash\?")
    time.sleep(0.8)  # keys in the first 0.5 s of a question are ignored
    term.send("1")
    term.expect(r"all done")
    wait_for(project, "Stop")  # the turn ends with the Stop hooks
    term.type_line("/exit")
    wait_for(project, "SessionEnd")
    events = events_of(project)
    assert events[:2] == ["SessionStart", "UserPromptSubmit"] and events[-1] == "SessionEnd"
    assert {"Notification", "PreToolUse", "PostToolUse", "Stop"} <= set(events)
    log = {e["hook_event_name"]: e for e in hook_log(project)}
    assert log["Notification"]["notification_type"] == "permission_prompt"
    assert log["SessionEnd"]["reason"] == "prompt_input_exit" and log["SessionStart"]["source"] == "startup"
