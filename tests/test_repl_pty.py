"""The REPL end to end, in a real pseudo-terminal, as a new user would use it (see pty_support)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from fake_api import error_reply, stalled_reply, text_reply, tool_reply
from pty_support import PTY_ONLY, SCHEDULED_HEADER, is_scheduled, prompts, write_due_task

pytestmark = PTY_ONLY


def test_chat_turn_streams_the_reply_then_shows_it_as_markdown(spawn, fake_api):
    fake_api.set_default(lambda r: text_reply(f"Streaming **bold** words, you said: {r.turn_prompt()}",
                                              chunk_delay_s=0.1))
    term = spawn()
    term.type_line("what is up")
    term.expect(r"Stream")  # the first delta is on the screen ...
    assert fake_api.requests[0].outcome is None  # ... while the server is still sending the rest
    term.expect(r"Streaming bold words, you said: what is up")  # the finished block, as Markdown
    assert prompts(fake_api) == ["what is up"]
    assert fake_api.validation_errors == []


def test_loop_command_shows_its_schedule_and_runs_the_prompt_at_once(spawn, fake_api, project):
    fake_api.set_default(lambda r: text_reply(f"ran: {r.turn_prompt()}"))
    term = spawn()
    term.type_line("/loop 1m say hi")
    match = term.expect(r"Scheduled ([0-9a-f]{8}): every minute \(\* \* \* \* \*\), this session only")
    task_id = match.group(1)
    term.expect(r"Next run: [A-Z][a-z]{2} \d+ \d+:\d\d [AP]M \(in (\d+m)? ?(\d+s)?\)")  # "1m", "1m 1s" or "59s"
    term.expect(rf"Stop it with /cron delete {task_id}")
    term.expect(r"ran: say hi")
    assert prompts(fake_api) == ["say hi"]
    assert not (project / ".claude" / "scheduled_tasks.json").exists()  # session-only: nothing on disk
    term.type_line("/cron")
    term.expect(rf"{task_id}\s+Every minute \(\* \* \* \* \*\)\s+[A-Z][a-z]{{2}} .*recurring\s+session\s+say hi")


def test_due_durable_task_fires_at_an_idle_prompt_and_typed_text_survives(spawn, fake_api, project):
    write_due_task(project, "a1b2c3d4", "check the deploy")
    fake_api.when(lambda r: is_scheduled(r, "a1b2c3d4"),
                  text_reply("deploy looks fine", chunk_delay_s=0.02))
    fake_api.set_default(lambda r: text_reply(f"you sent: {r.turn_prompt()}"))
    term = spawn()
    term.send("half typed")  # not sent: the user is still writing when the task fires
    term.expect(SCHEDULED_HEADER + r"check the deploy")
    term.expect(r"deploy looks fine")
    term.expect(r"> half typed")  # the prompt came back with the text as it was
    term.send("\r")
    term.expect(r"you sent: half typed")
    requests = fake_api.requests
    assert len(requests) == 2 and is_scheduled(requests[0], "a1b2c3d4")
    assert "started automatically" in requests[0].turn_prompt()
    assert requests[1].turn_prompt() == "half typed"
    saved = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"][0]
    assert saved["lastFiredAt"] > time.time() * 1000 - 60_000  # the fire was recorded


def test_message_typed_during_a_slow_turn_runs_before_a_scheduled_prompt_due_meanwhile(spawn, fake_api, project):
    fake_api.when(lambda r: r.turn_prompt() == "slow question", text_reply("slow answer", delay_s=3.5))
    fake_api.when(lambda r: is_scheduled(r, "0badc0de"), text_reply("scheduled answer"))
    fake_api.set_default(lambda r: text_reply(f"answer to: {r.turn_prompt()}"))
    term = spawn()
    term.type_line("slow question")
    fake_api.wait_for_requests(1)
    term.type_line("typed meanwhile")
    term.expect(r"Queued: runs when the current turn ends")
    write_due_task(project, "0badc0de", "scheduled check")  # due now, but a turn is running
    term.expect(r"slow answer", timeout=15)
    term.expect(r"> typed meanwhile")  # echoed when its turn starts
    term.expect(r"answer to: typed meanwhile")
    term.expect(SCHEDULED_HEADER + r"scheduled check", timeout=15)
    term.expect(r"scheduled answer")
    order = fake_api.requests
    assert [r.turn_prompt() for r in order[:2]] == ["slow question", "typed meanwhile"]
    assert is_scheduled(order[2], "0badc0de")
    assert fake_api.validation_errors == []


def test_ctrl_c_cancels_a_slow_turn_and_the_next_message_works(spawn, fake_api):
    fake_api.when(lambda r: r.turn_prompt() == "take forever", stalled_reply("Beginning the long job"), times=1)
    fake_api.set_default(lambda r: text_reply("second answer"))
    term = spawn()
    term.type_line("take forever")
    term.expect(r"Begi")  # the first words streamed, then the server stalls
    term.send("\x03")
    term.expect(r"Interrupted\.")
    term.type_line("and now?")
    term.expect(r"second answer")
    assert fake_api.requests[0].outcome == "client_gone"  # the stream was really abandoned
    assert fake_api.validation_errors == []  # the history stayed valid after the cancel


def test_permission_question_is_answered_inline_and_half_typed_text_comes_back(spawn, fake_api, project):
    fake_api.script(tool_reply(("Bash", {"command": "echo hi-from-bash"}), delay_s=1.0), text_reply("ran it"))
    fake_api.set_default(lambda r: text_reply(f"got: {r.turn_prompt()}"))
    term = spawn()
    term.type_line("please run it")
    term.send("draft message")  # typed while the model works
    term.expect(r"\? Allow Bash: echo hi-from-bash\?")
    term.expect(r"2\. Yes, and don't ask again: allow Bash\(echo hi-from-bash:\*\) for the rest of this session")
    term.settle(0.8)  # keys within 0.5 s of the question appearing are ignored
    term.send("1")
    term.expect(r"● Bash\(echo hi-from-bash\) · exit 0")
    term.expect(r"ran it")
    term.expect(r"> draft message")
    term.send("\r")
    term.expect(r"got: draft message")
    assert "hi-from-bash" in fake_api.requests[1].tool_result_texts()[0]


def test_ctrl_d_exits_cleanly_and_releases_the_scheduler_lock(spawn, project):
    term = spawn()
    lock = project / ".claude" / "scheduled_tasks.lock"
    deadline = time.monotonic() + 10
    while not lock.exists() and time.monotonic() < deadline:
        term.pump(0.1)
    assert lock.exists(), "the scheduler never took the project lock"
    term.send("\x04")
    assert term.wait_exit() == 0
    assert not lock.exists()
    assert "Traceback" not in term.text


def test_ctrl_c_twice_on_an_empty_prompt_exits(spawn):
    term = spawn()
    term.send("some text")
    term.send("\x03")  # clears the line
    term.send("\x03")
    term.expect(r"Press Ctrl-C again to exit")
    term.send("\x03")
    assert term.wait_exit() == 0


def test_missing_api_key_gives_one_clear_line_and_the_repl_stays_usable(spawn, fake_api):
    term = spawn(ANTHROPIC_API_KEY="")
    term.expect(r"No API key: set ANTHROPIC_API_KEY")
    term.type_line("hello")
    term.expect(r"No API key: set ANTHROPIC_API_KEY")
    term.type_line("/help")
    term.expect(r"/loop \[--durable\] \[interval\] <prompt>")
    term.send("\x04")
    assert term.wait_exit() == 0
    assert "Traceback" not in term.text
    assert fake_api.requests == []


def test_bad_settings_file_is_reported_in_one_line_and_chat_still_works(spawn, fake_api, project):
    (project / ".claude" / "settings.json").write_text("{ not json")
    fake_api.set_default("still here")
    term = spawn()
    # a long tmp path (an xdist worker's) may wrap the line on the screen
    term.expect(r"(?s)settings\.json is not valid JSON.*Continuing with default\s+settings")
    term.type_line("hi")
    term.expect(r"still here")
    assert "Traceback" not in term.text


def test_multi_line_input_and_slash_completion(spawn, fake_api):
    fake_api.set_default(lambda r: text_reply(f"lines: {r.turn_prompt().count(chr(10)) + 1}"))
    term = spawn()
    term.send("first line\\\r")  # a trailing backslash continues on a new line
    term.send("second line\x1b\r")  # Esc then Enter inserts a newline too
    term.type_line("third line")
    term.expect(r"lines: 3")
    assert prompts(fake_api) == ["first line\nsecond line\nthird line"]
    term.send("/cr")
    term.expect(r"/cron +list scheduled tasks")  # the completion menu, with each command's summary
    term.send("\t")  # Tab selects the completion, Enter takes it, a second Enter runs it
    term.send("\r")
    term.send("\r")
    term.expect(r"No scheduled tasks")


def test_history_survives_a_restart(spawn, fake_api):
    fake_api.set_default("noted")
    term = spawn()
    term.type_line("remember this line")
    term.expect(r"noted")
    term.send("\x04")
    assert term.wait_exit() == 0
    term = spawn()
    for _ in range(20):  # Up: the previous session's line comes back (once the history has loaded)
        term.send("\x1b[A")
        try:
            term.expect(r"> remember this line", timeout=0.5)
            break
        except AssertionError:
            continue
    term.send("\r")
    term.expect(r"noted")
    assert prompts(fake_api) == ["remember this line", "remember this line"]


def test_missed_one_shot_task_is_removed_and_put_to_the_model_to_ask_first(spawn, fake_api, project):
    now = datetime.now()
    due = now - timedelta(hours=1)
    task = {"id": "5ca1ab1e", "cron": f"{due.minute} {due.hour} {due.day} {due.month} *",
            "prompt": "deploy to production", "createdAt": int((now - timedelta(hours=2)).timestamp() * 1000)}
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": [task]}))
    fake_api.set_default("A scheduled deploy did not run. Shall I run it now?")
    term = spawn()
    term.expect(r"A one-shot task was due while no session ran \(5ca1ab1e\)")
    term.expect(r"Shall I run it now\?")
    [request] = fake_api.requests
    assert "did not run because no session was open" in request.turn_prompt()
    assert "```\ndeploy to production\n```" in request.turn_prompt()
    assert json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"] == []


def test_rejected_key_gives_one_clear_line_and_the_next_message_works(spawn, fake_api):
    fake_api.script(error_reply(401))
    fake_api.set_default("welcome back")
    term = spawn()
    term.type_line("hello")
    term.expect(r"Authentication failed \(401\): set ANTHROPIC_API_KEY")
    term.type_line("hello again")
    term.expect(r"welcome back")
    assert "Traceback" not in term.text
