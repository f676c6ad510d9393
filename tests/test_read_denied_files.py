"""Issue 19, item 3: a file a Read deny rule covers stays unread, whatever tool or name is used.

Edit and Write of such a file are asked (denied headless) and return none of its text (no snippet, no
diff, no near-match hint), in the tool result and in the transcript events; the question shows no diff.
A hard link to it (another name for the same device and inode) is denied like the file itself to Read,
Grep and Glob, and asked with the text hidden for Edit. All through the real gate and real tools.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rules_harness import gated_call

from agent.engine.events import ToolCallFinished
from agent.permissions.hard_links import LinkCheck, denied_inodes, literal_start
from agent.permissions.policy import PermissionPolicy
from agent.tools.files import EditTool, ReadTool, WriteTool

SECRET = "API_TOKEN=sk-live-0123456789abcdef"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / ".env").write_text(f"{SECRET}\nDEBUG=0\n")
    (root / "app.py").write_text("print('hello')\n")
    return root


def policy_for(project: Path, *, deny: tuple[str, ...] = ("Read(./.env)",), mode: str = "default",
               allow: tuple[str, ...] = ("Edit", "Write")) -> PermissionPolicy:
    return PermissionPolicy(project, mode, allow=allow, deny=deny)


def leaked(run) -> bool:
    """Whether any part of the secret reached the model or the transcript events."""
    texts = [run.result, *(str(getattr(e, "content", "")) + str(getattr(e, "change", "")) for e in run.events)]
    return any(part in text for text in texts for part in ("sk-live", "API_TOKEN", "DEBUG=0"))


# (tool, input): writes to the Read-denied file, by its name or another spelling.
HIDDEN_WRITES = [
    ("Edit", {"file_path": ".env", "old_string": "DEBUG=0", "new_string": "DEBUG=1"}),
    ("Edit", {"file_path": "./.env", "old_string": "DEBUG=0", "new_string": "DEBUG=1"}),
    ("Edit", {"file_path": "sub/../.env", "old_string": "DEBUG=0", "new_string": "DEBUG=1"}),
    ("Edit", {"file_path": ".env", "old_string": "NOPE", "new_string": "x"}),  # the miss must not hint
    ("Edit", {"file_path": ".env", "old_string": "DEBUG=0 ", "new_string": "x"}),  # near match: no hint
    ("Write", {"file_path": ".env", "content": "DEBUG=1\n"}),
    ("Write", {"file_path": "./.env", "content": "DEBUG=1\n"}),
]


@pytest.mark.parametrize(("tool", "args"), HIDDEN_WRITES)
async def test_edit_or_write_of_a_read_denied_file_is_denied_headless_and_changes_nothing(
        fake_api, project, tool, args):
    (project / "sub").mkdir()
    run = await gated_call(fake_api, policy_for(project, mode="acceptEdits"), tool, args)
    assert run.is_error and not leaked(run)
    assert (project / ".env").read_text() == f"{SECRET}\nDEBUG=0\n"


@pytest.mark.parametrize(("tool", "args"), HIDDEN_WRITES)
async def test_edit_or_write_of_a_read_denied_file_asks_and_shows_no_text_even_when_allowed(
        fake_api, project, tool, args):
    (project / "sub").mkdir()
    run = await gated_call(fake_api, policy_for(project), tool, args, chat=True, answer=True)
    assert len(run.questions) == 1 and run.questions[0].conceal  # the chat's question shows no diff
    assert not leaked(run), run.result
    finished = [e for e in run.events if isinstance(e, ToolCallFinished)]
    assert finished and all(e.change is None for e in finished)


async def test_a_refused_edit_of_a_read_denied_file_leaves_it_alone(fake_api, project):
    args = {"file_path": ".env", "old_string": "DEBUG=0", "new_string": "DEBUG=1"}
    run = await gated_call(fake_api, policy_for(project), "Edit", args, chat=True, answer=False)
    assert run.is_error and (project / ".env").read_text().endswith("DEBUG=0\n")


def test_edits_of_other_files_still_show_their_diff(project):
    decision = policy_for(project).check(EditTool(), {"file_path": "app.py", "old_string": "hello",
                                                      "new_string": "hi"})
    assert decision.behavior == "allow" and not decision.conceal


def test_a_deny_rule_on_a_folder_or_pattern_hides_files_below_it(tmp_path):
    root = tmp_path / "p"
    (root / "secrets").mkdir(parents=True)
    (root / "secrets" / "k.pem").write_text("KEY")
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "prod.env").write_text("X")
    policy = PermissionPolicy(root, allow=["Edit"], deny=["Read(./secrets/**)", "Read(*.env)"])
    for path in ("secrets/k.pem", "a/b/prod.env"):
        decision = policy.check(WriteTool(), {"file_path": path, "content": "y"})
        assert decision.behavior == "ask" and decision.conceal, path


# --- hard links ------------------------------------------------------------------------------------

def hard_link(project: Path, name: str = "notes.txt") -> Path:
    link = project / name
    os.link(project / ".env", link)
    return link


async def test_read_of_a_hard_link_to_a_read_denied_file_is_denied(fake_api, project):
    hard_link(project)
    policy = policy_for(project)
    assert policy.check(ReadTool(), {"file_path": "notes.txt"}).behavior == "deny"
    run = await gated_call(fake_api, policy, "Read", {"file_path": "notes.txt"})
    assert run.is_error and not leaked(run)
    chat = await gated_call(fake_api, policy, "Read", {"file_path": "notes.txt"}, chat=True, answer=True)
    assert chat.is_error and not chat.questions and not leaked(chat)


async def test_grep_skips_a_hard_link_to_a_read_denied_file(fake_api, project):
    hard_link(project, "innocent.txt")
    (project / "other.txt").write_text("API_TOKEN is documented here\n")
    run = await gated_call(fake_api, policy_for(project), "Grep",
                           {"pattern": "API_TOKEN", "output_mode": "content"})
    assert "other.txt" in run.result and "innocent.txt" not in run.result and "sk-live" not in run.result


async def test_glob_does_not_list_a_hard_link_to_a_read_denied_file(fake_api, project):
    hard_link(project, "innocent.txt")
    run = await gated_call(fake_api, policy_for(project), "Glob", {"pattern": "*.txt"})
    assert "innocent.txt" not in run.result


async def test_edit_of_a_hard_link_to_a_read_denied_file_is_asked_with_its_text_hidden(fake_api, project):
    hard_link(project)
    args = {"file_path": "notes.txt", "old_string": "DEBUG=0", "new_string": "DEBUG=1"}
    decision = policy_for(project).check(EditTool(), args)
    assert decision.behavior == "ask" and decision.conceal
    headless = await gated_call(fake_api, policy_for(project, mode="acceptEdits"), "Edit", args)
    assert headless.is_error and (project / ".env").read_text().endswith("DEBUG=0\n")
    chat = await gated_call(fake_api, policy_for(project), "Edit", args, chat=True, answer=True)
    assert not leaked(chat)


def test_a_hard_link_into_the_project_to_a_denied_file_in_home_is_denied(tmp_path):
    home, project = tmp_path / "home", tmp_path / "project"
    (home / ".ssh").mkdir(parents=True)
    project.mkdir()
    (home / ".ssh" / "id_rsa").write_text("PRIVATE KEY")
    os.link(home / ".ssh" / "id_rsa", project / "readme.txt")
    policy = PermissionPolicy(project, allow=["Read"], deny=["Read(~/.ssh/**)"], home=home)
    assert policy.check(ReadTool(), {"file_path": "readme.txt"}).behavior == "deny"


def test_files_with_one_link_and_links_to_allowed_files_are_not_affected(project):
    (project / "a.txt").write_text("a")
    os.link(project / "a.txt", project / "b.txt")
    policy = policy_for(project)
    assert policy.check(ReadTool(), {"file_path": "app.py"}).behavior == "allow"
    assert policy.check(ReadTool(), {"file_path": "b.txt"}).behavior == "allow"


def test_a_walk_cut_short_counts_every_multi_linked_file_as_denied(project):
    (project / "a.txt").write_text("a")
    os.link(project / "a.txt", project / "b.txt")
    walk = denied_inodes([(project, lambda p: p.endswith(".env"))], budget=1)
    assert not walk.complete
    check = LinkCheck(lambda: [(project, lambda p: p.endswith(".env"))])
    assert check(str(project / "app.py")) is False  # one link: nothing to compare


def test_the_walk_starts_at_the_rule_literal_folder():
    assert literal_start(Path("/h"), ".ssh/**") == Path("/h/.ssh")
    assert literal_start(Path("/p"), "**/.env") == Path("/p")
    assert literal_start(Path("/p"), "a/b/*.env") == Path("/p/a/b")
    assert literal_start(Path("/p"), ".env") == Path("/p/.env")


# --- the chat's question ------------------------------------------------------------------------------

async def test_the_chat_question_for_a_read_denied_edit_shows_no_diff(tmp_path, project, monkeypatch):
    import argparse
    import asyncio
    import io

    from agent.engine.queue import Priority, QueuedPrompt
    from agent.repl.app import Repl

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    repl = Repl(argparse.Namespace(), project, out=io.StringIO(), env={"HOME": str(tmp_path / "home")})
    repl.turns.current = QueuedPrompt("edit", Priority.NEXT, source="user")
    args = EditTool().parse_input({"file_path": ".env", "old_string": "DEBUG=0", "new_string": "DEBUG=1"})
    shown = {}
    for name, policy in (("hidden", policy_for(project)), ("plain", policy_for(project, deny=()))):
        decision = policy.check(EditTool(), args)
        if name == "plain":
            decision = type(decision)("ask", "needs your permission")
        asking = asyncio.create_task(repl.asker.ask(EditTool(), args, decision))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if repl.questions.current is not None:
                break
        shown[name] = "".join(text for _, text in repl.questions.fragments())
        asking.cancel()
        await asyncio.gather(asking, return_exceptions=True)
    assert "DEBUG=1" in shown["plain"]  # the ordinary question does show the change
    assert "DEBUG" not in shown["hidden"] and "sk-live" not in shown["hidden"]
