"""Claude Code's habits in a real pseudo-terminal: `agent "msg"`, /status, Ctrl-D with session loops,
the cost on exit, /loop errors, and commands typed during start-up keeping their order (see pty_support)."""

from __future__ import annotations

import os
import re

import pexpect
from fake_api import text_reply, tool_reply
from pty_support import ANSI, PTY_ONLY, Terminal, prompts

pytestmark = PTY_ONLY


def screen_at_exit(term: Terminal) -> tuple[int, str]:
    """Wait for the process to end; its exit status and everything it showed, the last lines included."""
    term.child.expect(pexpect.EOF, timeout=10)
    text = term.text + ANSI.sub("", term.child.before or "").replace("\r", "")
    term.child.close()
    return term.child.exitstatus, text


def test_prompt_argument_opens_the_chat_and_sends_it_as_the_first_message(spawn, fake_api):
    fake_api.set_default(lambda r: text_reply(f"on it: {r.turn_prompt()}"))
    term = spawn("fix the test")
    term.expect(r"on it: fix the test")
    assert prompts(fake_api) == ["fix the test"]
    term.type_line("and then?")  # the chat stays open for more
    term.expect(r"on it: and then\?")
    assert prompts(fake_api) == ["fix the test", "and then?"]


def test_status_shows_model_endpoint_mode_project_lock_holder_and_task_count(spawn, fake_api, project):
    term = spawn("--model", "claude-haiku-4-5", "--permission-mode", "plan")
    term.type_line("/loop 5m check the build")
    term.expect(r"Scheduled [0-9a-f]{8}")
    lock = project / ".claude" / "scheduled_tasks.lock"
    term.type_line("/status")
    term.expect(r"Model\s+claude-haiku-4-5")
    term.expect(rf"Endpoint\s+http://127\.0\.0\.1:{fake_api.port}")
    term.expect(r"Permission mode\s+plan")
    term.expect(rf"Project\s+{project}")
    match = term.expect(r"Durable tasks fired by\s+this session \(PID (\d+)\)")
    assert int(match.group(1)) == term.child.pid and lock.exists()
    term.expect(r"Scheduled tasks\s+1 \(1 this session only, 0 durable\)")
    assert "test-key" not in term.text  # the endpoint, never the key


def test_ctrl_d_with_a_session_loop_warns_once_then_exits_on_the_second(spawn, fake_api):
    term = spawn()
    term.type_line("/loop 5m check the build")
    term.expect(r"Stop it with /cron delete")
    term.expect(r"OK")  # the first run's reply
    term.send("\x04")
    term.expect(r"1 session loop will stop \(it lives only in this session\)\. Press Ctrl-D again to exit")
    assert term.child.isalive()
    term.send("\x04")
    assert term.wait_exit() == 0


def test_ctrl_d_without_session_loops_exits_at_once_and_prints_the_cost(spawn, fake_api):
    fake_api.set_default(text_reply("hello there", usage={"input_tokens": 1200, "output_tokens": 34}))
    term = spawn()
    term.type_line("hi")
    term.expect(r"hello there")
    term.send("\x04")
    code, screen = screen_at_exit(term)
    assert code == 0
    assert re.search(r"Session cost: \$\d+\.\d{2,4} · 1,200 input \+ 34 output tokens · 1 request\n", screen)


def test_loop_with_a_bad_cron_field_says_which_and_schedules_nothing(spawn, project):
    term = spawn()
    term.type_line("/loop 0 9 * * 8 check")
    term.expect(r"day-of-week: 8 is out of range 0-7")
    term.expect(r"Nothing was scheduled")
    term.type_line("/cron")
    term.expect(r"No scheduled tasks")
    assert not (project / ".claude" / "scheduled_tasks.json").exists()


def test_loop_with_an_unknown_unit_lists_the_units(spawn):
    term = spawn()
    term.type_line("/loop 5x check")
    term.expect(r"Unknown interval unit 'x' in '5x': use s \(seconds\), m \(minutes\), h \(hours\), "
                r"d \(days\) or w \(weeks\)")
    term.type_line("/cron")
    term.expect(r"No scheduled tasks")


def test_loop_without_an_interval_states_the_default_of_every_10_minutes(spawn, fake_api):
    term = spawn()
    term.type_line("/loop check the deploy")
    term.expect(r"Scheduled [0-9a-f]{8}: every 10 minutes \(\*/10 \* \* \* \*, the default when no interval "
                r"is given\), this session only")
    fake_api.wait_for_requests(1)
    assert prompts(fake_api) == ["check the deploy"]


def test_command_typed_during_start_up_runs_after_the_message_typed_before_it(spawn, fake_api, project):
    def reply(request):
        if request.tool_results():
            return text_reply("done")
        return tool_reply(("Write", {"file_path": str(project / f"{request.turn_prompt()}.txt"), "content": "x"}))

    fake_api.set_default(reply)
    term = spawn("--permission-mode", "acceptEdits")
    term.send("first\r/permissions plan\r")  # both typed while the session is still loading
    term.expect(r"Starting up…")
    term.expect(r"Permission mode: plan")
    term.type_line("second")
    fake_api.wait_for_requests(4)
    term.expect(r"done")
    results = [r.tool_result_texts() for r in fake_api.requests if r.tool_results()]
    assert len(results) == 2
    assert (project / "first.txt").exists()  # the message ran in acceptEdits: the command came after it
    assert "not available in plan mode" in results[1][0] and not (project / "second.txt").exists()
    assert os.path.getsize(project / "first.txt") == 1
