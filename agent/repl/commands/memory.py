"""Claude Code's memory habits: `/init`, `# note`, `/memory`.

- `/init` asks the model to study the project and write a starter CLAUDE.md; the write is an ordinary
  Write call, so the permission question shows the whole file before anything is written.
- A line starting with `#` (`# always run tests with -q`) is a note for memory: a question asks which
  file it goes to (the project's CLAUDE.md, CLAUDE.local.md, or the user's ~/.claude/CLAUDE.md), and it
  is appended there as a list item.
- `/memory [project|local|user]` opens that file in $VISUAL / $EDITOR (the project's by default).
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from agent.repl.commands.base import Command, CommandContext

if TYPE_CHECKING:
    from agent.repl.question import QuestionBox
    from agent.repl.render import Renderer

__all__ = ["INIT_PROMPT", "MEMORY_COMMANDS", "is_memory_note", "memory_files", "remember"]

INIT_PROMPT = (
    "Please study this project and write a starter CLAUDE.md at its root for future sessions of a coding "
    "agent: how to build, test and lint it (the exact commands, including how to run one test), the layout "
    "and architecture in a few lines, and the conventions a newcomer would otherwise get wrong. Keep it "
    "short and specific to this project; no generic advice. If a CLAUDE.md exists, improve it instead. "
    "Read the files you need first (README, build files, CI configs), then write the file with the Write "
    "tool (or Edit, for an existing one).")


def memory_files(project: Path, env: Mapping[str, str]) -> dict[str, tuple[Path, str]]:
    """name -> (path, what it is for)."""
    home = Path(env.get("HOME") or Path.home())
    return {"project": (project / "CLAUDE.md", "project memory, shared with the team"),
            "local": (project / "CLAUDE.local.md", "project memory, just for you (not committed)"),
            "user": (home / ".claude" / "CLAUDE.md", "your memory, for every project")}


def is_memory_note(text: str) -> bool:
    """`# note` on one line (not `##`, not `#!`): Claude Code's quick way to add to memory."""
    stripped = text.strip()
    return stripped.startswith("#") and not stripped.startswith(("##", "#!")) and "\n" not in stripped \
        and bool(stripped[1:].strip())


async def remember(note: str, project: Path, env: Mapping[str, str], questions: QuestionBox,
                   renderer: Renderer) -> Path | None:
    """Ask which memory file gets `note`, then append it there as a list item."""
    from agent.repl.question import Option

    files = memory_files(project, env)
    options = [Option(name, f"{_shown(path, project)}: {purpose}") for name, (path, purpose) in files.items()]
    text = note.strip()[1:].strip()
    choice = await questions.ask("Save this note to memory?", options, detail=text)
    if choice is None or choice.answer not in files:
        renderer.info("Not saved.")
        return None
    path = files[choice.answer][0]
    try:
        await asyncio.to_thread(_append_note, path, text)
    except OSError as exc:
        renderer.error(f"Cannot write {path}: {exc.strerror or exc}")
        return None
    renderer.success(f"Saved to {_shown(path, project)}")
    return path


def _append_note(path: Path, note: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    lead = "" if not old or old.endswith("\n") else "\n"
    with path.open("a", encoding="utf-8") as out:
        out.write(f"{lead}- {note}\n")


def _shown(path: Path, project: Path) -> str:
    try:
        return str(path.relative_to(project))
    except ValueError:
        home = Path.home()
        return "~/" + str(path.relative_to(home)) if path.is_relative_to(home) else str(path)


async def init(ctx: CommandContext, args: str) -> None:
    from agent.engine.queue import Priority, QueuedPrompt

    ctx.queue.put(QueuedPrompt(INIT_PROMPT, Priority.NEXT, source="user"))


async def memory(ctx: CommandContext, args: str) -> None:
    """/memory [project|local|user]: the memory file in the editor."""
    from prompt_toolkit.application import in_terminal

    files = memory_files(ctx.session.project_dir, ctx.session.env)
    which = args.strip().lower() or "project"
    if which not in files:
        ctx.renderer.error(f"Unknown memory {which!r}: use /memory project, /memory local or /memory user.")
        return
    env = ctx.session.env
    editor = env.get("VISUAL") or env.get("EDITOR") or "vi"
    path = files[which][0]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        async with in_terminal():
            process = await asyncio.create_subprocess_exec(*shlex.split(editor), str(path))
            await process.wait()
    except (OSError, ValueError) as exc:
        ctx.renderer.error(f"Cannot open {path} in {editor!r}: {exc}. Set $EDITOR to your editor.")
        return
    ctx.renderer.info(f"Memory: {path} (read at the start of each session)")


MEMORY_COMMANDS = (
    Command("init", "write a starter CLAUDE.md for this project (asks before writing)", init),
    Command("memory", "open a memory file in $EDITOR", memory, usage="[project|local|user]"),
)
