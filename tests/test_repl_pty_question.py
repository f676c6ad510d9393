"""The permission question menu in a real terminal: typing cannot answer it, arrows, digits, Enter and Esc
can; an instruction reaches the model; a scheduled run's question counts down and can delete its task."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fake_api import text_reply, tool_reply
from pty_support import PTY_ONLY, write_due_task

from agent.cron.history import RunHistory, history_path

pytestmark = PTY_ONLY

DOWN, LEFT, ESC = "\x1b[B", "\x1b[D", "\x1b"
BASH = ("Bash", {"command": "echo hi-from-bash"})
# Scheduled runs are sandboxed with auto-allow by default: a call that asks to leave the sandbox still asks.
OUTSIDE = ("Bash", {"command": "echo hi-from-bash", "dangerouslyDisableSandbox": True})
QUESTION = r"\? Allow Bash: echo hi-from-bash\?"
PAST_GRACE_S = 0.8  # longer than the 0.5 s in which keys are ignored
START_S = 30.0  # start-up and the first request can be slow on a loaded machine


def ask_bash(spawn, fake_api, reply: str = "done", **env: str):
    fake_api.script(tool_reply(BASH, delay_s=1.0), text_reply(reply))
    fake_api.set_default(lambda r: text_reply(f"got: {r.turn_prompt()}"))
    term = spawn(**env)
    term.type_line("please run it")
    return term


def test_typing_a_sentence_through_the_question_answers_nothing_and_comes_back_with_the_draft(spawn, fake_api):
    term = ask_bash(spawn, fake_api, reply="ran it")
    term.send("draft message" + LEFT * 7)  # typed while the model works; the cursor sits before "message"
    term.expect(QUESTION, timeout=START_S)
    term.send("yes a n 123 what is this, always\r")  # letters, digits and Enter, as someone typing on
    term.expect(r"Typing does not answer this question; your text comes back after it")
    term.settle(PAST_GRACE_S)
    term.send("\r")  # a late Enter after typing meant "send my message", not "yes"
    term.settle(PAST_GRACE_S)
    assert len(fake_api.requests) == 1  # nothing answered: the tool has not run, the model not asked again
    assert "exit 0" not in term.text
    term.send("1")  # a deliberate digit after a pause answers
    term.expect(r"● Bash\(echo hi-from-bash\) · exit 0")
    term.expect(r"ran it")
    term.expect(r"> draft yes a n 123 what is this, alwaysmessage")  # what was typed meanwhile is kept too
    term.type_line(" big ")  # lands where the cursor was: the draft came back exactly
    term.expect(r"got: draft yes a n 123 what is this, always big message")
    assert "hi-from-bash" in fake_api.requests[1].tool_result_texts()[0]


def test_arrows_and_enter_choose_yes_for_the_session(spawn, fake_api):
    term = ask_bash(spawn, fake_api)
    term.expect(QUESTION, timeout=START_S)
    term.expect(r"❯ 1\. Yes")
    term.expect(r"2\. Yes, and don't ask again: allow Bash\(echo hi-from-bash:\*\) for the rest of this session")
    term.expect(r"3\. No, and tell the model what to do instead")
    term.settle(PAST_GRACE_S)
    term.send(DOWN)
    term.expect(r"❯ 2\. Yes, and don't ask again")
    term.send("\r")
    term.expect(r"Bash: allowed for this session \(Bash\(echo hi-from-bash:\*\)\)")
    term.expect(r"● Bash\(echo hi-from-bash\) · exit 0")
    term.expect(r"done")


def test_option_three_sends_the_typed_instruction_to_the_model_with_the_refusal(spawn, fake_api):
    term = ask_bash(spawn, fake_api, reply="understood")
    term.expect(QUESTION, timeout=START_S)
    term.settle(PAST_GRACE_S)
    term.send("3")
    term.expect(r"Enter to send · Esc for a plain no")
    term.type_line("use printf instead")
    term.expect(r"understood")
    [result] = fake_api.requests[1].tool_result_texts()
    assert "declined" in result and result.endswith("use printf instead")
    assert fake_api.requests[1].tool_results()[0].get("is_error") is True


def test_escape_means_no_and_stops_the_turn_until_the_user_types(spawn, fake_api):
    term = ask_bash(spawn, fake_api, reply="fine, not running it")
    term.expect(QUESTION, timeout=START_S)
    term.settle(PAST_GRACE_S)
    term.send(ESC)
    term.expect(r"Bash not run: declined by the user")
    term.expect(r"Stopped: the model waits for what you type next")
    term.settle(1.5)
    assert len(fake_api.requests) == 1  # Claude Code's behaviour: the model is not called again
    term.type_line("then use printf")
    term.expect(r"fine, not running it")
    [result] = fake_api.requests[1].tool_result_texts()
    assert result.startswith("The user declined this tool call")
    assert "then use printf" in fake_api.requests[1].turn_prompt()


def test_write_question_offers_to_allow_write_not_edit(spawn, fake_api, project):
    fake_api.script(tool_reply(("Write", {"file_path": "notes.txt", "content": "hi\n"}), delay_s=0.5),
                    text_reply("not written"))
    term = spawn()
    term.type_line("write a note")
    term.expect(r"\? Allow Write: notes\.txt\?", timeout=START_S)
    term.expect(r"2\. Yes, and don't ask again: allow Write for the rest of this session")
    term.settle(PAST_GRACE_S)
    term.send(ESC)
    term.expect(r"Write not run: declined by the user")
    term.expect(r"Stopped: the model waits for what you type next")
    assert not (project / "notes.txt").exists()


def test_scheduled_question_counts_down_then_tells_the_model_nobody_was_there(spawn, fake_api, project, tmp_path):
    write_due_task(project, "a1b2c3d4", "check the deploy")
    fake_api.script(tool_reply(OUTSIDE), text_reply("could not check: nobody answered"))
    state = str(tmp_path / "state")
    term = spawn(AGENT_UNATTENDED_ANSWER_S="5", XDG_STATE_HOME=state)
    term.expect(QUESTION, timeout=START_S)
    term.expect(r"Scheduled task a1b2c3d4 asks \(check the deploy\)")
    term.expect(r"[345]s left to answer; then the model is told nobody was at the terminal")
    term.expect(r"3\. No, and delete scheduled task a1b2c3d4")
    # Redrawn each second: prompt_toolkit rewrites only the changed digit, alone where the 3 was.
    term.expect(r"(?m)^2$")
    term.expect(r"(?m)^1$")
    term.expect(r"Bash not run: no answer \(nobody was at the terminal\)", timeout=10)
    term.expect(r"could not check: nobody answered")
    [result] = fake_api.requests[1].tool_result_texts()
    assert "no answer (nobody was at the terminal)" in result and "declined" not in result
    db = RunHistory(history_path(project.resolve(), {"XDG_STATE_HOME": state}))
    deadline = time.monotonic() + 10
    while not [r for r in db.runs() if r.status != "running"] and time.monotonic() < deadline:
        term.pump(0.1)
    [run] = db.runs()
    assert run.task_id == "a1b2c3d4" and run.status == "no-answer"
    assert "nobody was at the terminal" in (run.error or "")


def test_scheduled_question_can_delete_its_schedule(spawn, fake_api, project: Path):
    write_due_task(project, "a1b2c3d4", "check the deploy")
    fake_api.script(tool_reply(OUTSIDE), text_reply("stopping"))
    term = spawn()
    term.expect(r"3\. No, and delete scheduled task a1b2c3d4", timeout=START_S)
    term.settle(PAST_GRACE_S)
    term.send("3")  # no "don't ask again" for a call that leaves the sandbox
    term.expect(r"Deleted a1b2c3d4")
    term.expect(r"stopping")
    tasks = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    assert tasks == []
    [result] = fake_api.requests[1].tool_result_texts()
    assert "deleted scheduled task a1b2c3d4" in result
