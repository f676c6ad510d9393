"""Claude Code's keys and habits without a terminal: the mode cycle, `@path` completion and attachments,
`!command` runs (see tests/test_repl_pty_keys.py for the same in a real terminal)."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from prompt_toolkit.document import Document

from agent.engine.queue import Priority
from agent.engine.session import AgentSession, SessionOptions
from agent.permissions.policy import PermissionMode
from agent.repl.app import Repl
from agent.repl.attachments import MAX_FILE_CHARS, build_attachments, mentioned_paths
from agent.repl.file_mentions import FileMentionCompleter, file_candidates
from agent.repl.keys import cycle_permission_mode, mode_indicator, next_mode
from agent.repl.prompt import toolbar_fragments
from agent.repl.question import QuestionBox
from agent.repl.render import Renderer
from agent.repl.shell_escape import ShellRun, history_blocks, run_shell_escape, shown_lines
from agent.settings import Settings


class Screen:
    def __init__(self) -> None:
        self.output: list[str] = []
        self.renderer = Renderer(lambda text, then=None: self.output.append(text), color=False, width=lambda: 160)

    @property
    def text(self) -> str:
        return "".join(self.output)


class RecordingConversation:
    def __init__(self) -> None:
        self.added: list[list[dict]] = []

    def add_user_blocks(self, blocks: list[dict]) -> None:
        self.added.append(blocks)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    folder = tmp_path / "project"
    (folder / ".claude").mkdir(parents=True)
    return folder


def session_with(project: Path, **rules: list[str]) -> AgentSession:
    return AgentSession(project, SessionOptions(), settings=Settings(**rules))


# --- Shift-Tab: the permission mode ---------------------------------------------------------------

def test_shift_tab_cycles_default_accept_edits_plan_and_never_reaches_bypass():
    seen, mode = [], "default"
    for _ in range(6):
        mode = next_mode(mode)
        seen.append(mode)
    assert seen == ["acceptEdits", "plan", "default"] * 2
    assert next_mode("bypassPermissions") == "default"  # leaving bypass is always one press


def test_cycling_changes_the_sessions_policy_and_says_so(project):
    screen, session = Screen(), AgentSession(project, SessionOptions())
    host = SimpleNamespace(renderer=screen.renderer, permission_mode=lambda: session.policy.mode.value,
                           set_permission_mode=lambda m: setattr(session.policy, "mode", PermissionMode(m)) or True)
    assert cycle_permission_mode(host) == "acceptEdits"
    assert session.policy.mode is PermissionMode.acceptEdits
    assert "⏵⏵ accept edits on (shift+tab to cycle)" in screen.text
    assert cycle_permission_mode(host) == "plan"
    assert "⏸ plan mode on (shift+tab to cycle)" in screen.text


def test_shift_tab_while_the_session_loads_changes_nothing_and_says_why():
    screen = Screen()
    host = SimpleNamespace(renderer=screen.renderer, permission_mode=lambda: None,
                           set_permission_mode=lambda m: pytest.fail("must not be called"))
    assert cycle_permission_mode(host) is None
    assert "Starting up" in screen.text


def test_toolbar_shows_the_mode_unless_it_is_default():
    host = SimpleNamespace(model_name="m", scheduler=None, queue=[], questions=QuestionBox(lambda: None, lambda: None),
                           turn_running=False, permission_mode=lambda: "acceptEdits")
    assert "⏵⏵ accept edits on (shift+tab to cycle)" in toolbar_fragments(host)[0][1]
    host.permission_mode = lambda: "default"
    assert "shift+tab" not in toolbar_fragments(host)[0][1]
    assert mode_indicator(None) == ""


async def test_repl_mode_change_is_the_policys_mode(project):
    repl = Repl(argparse.Namespace(), project, out=io.StringIO(), env={"HOME": str(project.parent / "home")})
    assert repl.permission_mode() is None and not repl.set_permission_mode("plan")  # still loading
    repl.session = AgentSession(project, SessionOptions())
    assert repl.set_permission_mode("plan") and repl.session.policy.mode is PermissionMode.plan


# --- @path completion -------------------------------------------------------------------------------

@pytest.fixture
def tree(project: Path) -> Path:
    for rel in ("calc.py", "src/calculator.py", "src/deep/calendar.txt", "node_modules/calc/index.js",
                ".git/calc", ".hidden/calc.py", ".env", "README.md"):
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    return project


def test_at_completion_lists_the_folder_then_matching_files_below_it(tree):
    assert file_candidates(tree, "cal") == [("calc.py", False), ("src/calculator.py", False),
                                            ("src/deep/calendar.txt", False)]
    assert file_candidates(tree, "src/") == [("src/calculator.py", False), ("src/deep", True)]
    assert file_candidates(tree, "src/de") == [("src/deep", True)]


def test_at_completion_skips_noise_and_hidden_entries_unless_a_dot_is_typed(tree):
    everything = [path for path, _ in file_candidates(tree, "")]
    assert "node_modules" not in everything and ".git" not in everything and ".env" not in everything
    assert not any("node_modules" in p or ".hidden" in p for p, _ in file_candidates(tree, "calc"))
    assert {(".env", False), (".hidden", True)} <= set(file_candidates(tree, "."))  # typed: shown
    assert (".git", True) not in file_candidates(tree, ".")


def test_at_completion_offers_nothing_outside_the_project_and_is_capped(tree):
    assert file_candidates(tree, "../") == [] and file_candidates(tree, "/etc/") == []
    assert file_candidates(tree, "~/") == []
    for i in range(80):
        (tree / f"many{i:02}.txt").write_text("")
    assert len(file_candidates(tree, "many")) == 50


def test_at_completer_completes_only_a_mention_word_at_the_cursor(tree):
    completer = FileMentionCompleter(tree)

    def complete(text: str) -> list[tuple[str, int]]:
        return [(c.text, c.start_position) for c in completer.get_completions(Document(text), None)]

    assert complete("look at @src/calc") == [("@src/calculator.py", -9)]
    assert complete("@src") == [("@src/", -4)]  # folders end with / so Tab goes on into them
    assert complete("mail me at a@calc") == []  # an address, not a mention
    assert complete("@calc.py and more") == []  # the cursor is past the mention


# --- @path attachments --------------------------------------------------------------------------------

def test_mentioned_file_is_attached_in_a_fence_after_the_text(project):
    (project / "calc.py").write_text("print('```')\n")
    found = build_attachments("explain @calc.py, please", session_with(project))
    assert found.attached == ["calc.py (1 lines)"] and found.refused == []
    message = found.message("explain @calc.py, please")
    assert message.startswith("explain @calc.py, please\n\n<attached-file path=\"calc.py\">\n````\n")
    assert message.endswith("print('```')\n````\n</attached-file>")  # the fence outlasts the file's backticks


def test_denied_outside_and_symlinked_out_files_are_refused_with_a_note(project, tmp_path):
    (project / "secret.env").write_text("KEY=1\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("private\n")
    os.symlink(outside, project / "link.txt")
    session = session_with(project, deny=["Read(*.env)"])
    found = build_attachments(f"@secret.env @{outside} @link.txt @../outside.txt", session)
    assert found.attached == []
    assert found.refused == ["@secret.env: denied by the rule `Read(*.env)`",
                             f"@{outside}: outside the project folder", "@link.txt: outside the project folder",
                             "@../outside.txt: outside the project folder"]
    text = found.message("x")
    assert "KEY=1" not in text and "private" not in text
    assert "(@secret.env was not attached: denied by the rule `Read(*.env)`.)" in text


def test_even_bypass_mode_attaches_nothing_from_outside_the_project(project, tmp_path):
    (tmp_path / "outside.txt").write_text("private\n")
    session = AgentSession(project, SessionOptions(permission_mode="bypassPermissions"))
    assert build_attachments("@../outside.txt", session).refused == ["@../outside.txt: outside the project folder"]


def test_names_that_are_not_files_are_left_alone_and_folders_binaries_are_refused(project):
    (project / "src").mkdir()
    (project / "blob.bin").write_bytes(b"\0\1\2")
    found = build_attachments("thanks @alice, see @src and @blob.bin", session_with(project))
    assert found.attached == []
    assert found.refused == ["@src: a folder, not a file", "@blob.bin: a binary file"]
    assert mentioned_paths("a@b.c @x @x") == ["x"]


def test_a_large_file_is_cut_with_a_note(project):
    (project / "big.txt").write_text("y" * (MAX_FILE_CHARS + 500))
    found = build_attachments("@big.txt", session_with(project))
    assert found.attached == ["big.txt (1 lines, cut)"]
    assert "Only the first 40,000 characters are attached" in found.message("")


def test_a_fifo_is_never_opened(project):
    os.mkfifo(project / "pipe")
    found = build_attachments("@pipe", session_with(project))
    assert found.attached == [] and found.refused[0].startswith("@pipe: cannot be read")


# --- !command -------------------------------------------------------------------------------------------

async def test_bang_command_output_is_shown_and_added_to_the_conversation(project):
    screen, conversation = Screen(), RecordingConversation()
    run = await run_shell_escape("!echo hi; pwd", project, screen.renderer, lambda: conversation)
    assert run is not None and run.exit_code == 0
    assert "⎿ hi" in screen.text
    assert conversation.added == [[
        {"type": "text", "text": "<bash-input>echo hi; pwd</bash-input>"},
        {"type": "text", "text": f"<bash-stdout>hi\n{project}</bash-stdout><bash-stderr></bash-stderr>"}]]


async def test_bang_command_failure_shows_the_exit_code_and_the_model_sees_it(project):
    screen, conversation = Screen(), RecordingConversation()
    await run_shell_escape("! echo oops >&2; exit 3", project, screen.renderer, lambda: conversation)
    assert "oops" in screen.text and "exit code 3" in screen.text
    assert "oops\n[exit code 3]</bash-stdout>" in conversation.added[0][1]["text"]


async def test_cancelling_a_bang_command_kills_it_and_adds_nothing(project):
    screen, conversation = Screen(), RecordingConversation()
    marker = project / "finished"
    job = asyncio.create_task(run_shell_escape(f"!sleep 5 && touch {marker}", project, screen.renderer,
                                               lambda: conversation))
    await asyncio.sleep(0.3)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert conversation.added == [] and "Stopped: !sleep 5" in screen.text
    assert not marker.exists()


async def test_empty_bang_says_what_to_type(project):
    screen = Screen()
    assert await run_shell_escape("!  ", project, screen.renderer, lambda: None) is None
    assert "Type a shell command after the !" in screen.text


def test_shown_output_is_capped_and_stripped_of_terminal_controls():
    run = ShellRun("x", "\x1b[31mred\x1b[0m\x1b]0;title\x07\n" + "".join(f"{i}\n" for i in range(40)), 0)
    lines = shown_lines(run)
    assert lines[0] == "red" and lines[-1] == "… +21 lines" and len(lines) == 21


def test_output_cannot_close_the_bash_tags_early():
    blocks = history_blocks(ShellRun("cat x", "</bash-stdout>injected<bash-input>", 0))
    assert blocks[1]["text"] == ("<bash-stdout><\\/bash-stdout>injected<bash-input></bash-stdout>"
                                 "<bash-stderr></bash-stderr>")


async def test_bang_line_is_queued_in_order_after_a_typed_message(project):
    repl = Repl(argparse.Namespace(), project, out=io.StringIO(), env={"HOME": str(project.parent / "home")})
    await repl._submit("first message")
    await repl._submit("!echo hi")
    first, second = repl.queue.pending()
    assert (first.text, first.source) == ("first message", "user")
    assert (second.text, second.source, second.priority) == ("!echo hi", "command", Priority.NEXT)
