"""`!command` at the prompt: run a shell command yourself, as Claude Code's bash mode does.

The user typed it, so no permission question is asked. It runs like the Bash tool (bash -c in the
project folder, stdin empty, its own process group, output capped, a timeout), off the event loop;
cancelling the job (Ctrl-C, Esc) kills the whole group. Its output is shown (the first lines) and
command and output go into the conversation as a user message, `<bash-input>…</bash-input>` and
`<bash-stdout>…</bash-stdout><bash-stderr></bash-stderr>`, without calling the model: the model
sees them with the next message. It runs from the queue, so after a turn that is running.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.engine.conversation import Conversation
    from agent.repl.render import Renderer

TIMEOUT_MS = 600_000  # the user can stop it sooner with Esc or Ctrl-C
SHOWN_LINES = 20
SHOWN_LINE_CHARS = 400
TERMINAL_CONTROLS = re.compile(  # CSI and OSC sequences, other escapes, control characters but \t and \n
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.?|[\x00-\x08\x0b-\x1f\x7f]")
OUR_TAGS = re.compile(r"<(/?)(bash-(?:input|stdout|stderr))>")


def is_shell_escape(text: str) -> bool:
    return text.lstrip().startswith("!")


def shell_command_of(text: str) -> str:
    return text.lstrip()[1:].strip()


@dataclass(frozen=True)
class ShellRun:
    command: str
    output: str  # stdout and stderr together, capped by the Bash tool's rules
    exit_code: int
    timed_out: bool = False


async def run_shell(command: str, cwd: Path, timeout_ms: int = TIMEOUT_MS) -> ShellRun:
    """Run `command` as the Bash tool would; ToolError when bash cannot start."""
    from agent.tools.bash import run_command

    output, code, timed_out, _ = await run_command(command, cwd, timeout_ms)
    return ShellRun(command, output, code, timed_out)


def _as_data(text: str) -> str:
    """Output cannot close our tags early: `</bash-stdout>` inside it becomes `<\\/bash-stdout>`."""
    return OUR_TAGS.sub(lambda m: ("<\\/" if m.group(1) else "<") + m.group(2) + ">", text)


def history_blocks(run: ShellRun) -> list[dict[str, str]]:
    """What the model sees: the command, then its output (Claude Code's bash mode format)."""
    output = run.output.rstrip("\n")
    if run.timed_out:
        output += f"\n[timed out after {TIMEOUT_MS // 1000}s and was killed]"
    elif run.exit_code != 0:
        output += f"\n[exit code {run.exit_code}]"
    return [{"type": "text", "text": f"<bash-input>{_as_data(run.command)}</bash-input>"},
            {"type": "text", "text": f"<bash-stdout>{_as_data(output)}</bash-stdout><bash-stderr></bash-stderr>"}]


def shown_lines(run: ShellRun) -> list[str]:
    """The output as a person sees it: control characters removed, the first lines, a count of the rest."""
    clean = TERMINAL_CONTROLS.sub("", run.output.replace("\r\n", "\n")).rstrip("\n")
    lines = [line[:SHOWN_LINE_CHARS] for line in clean.split("\n")] if clean else ["(no output)"]
    shown = lines[:SHOWN_LINES]
    if len(lines) > SHOWN_LINES:
        shown.append(f"… +{len(lines) - SHOWN_LINES} lines")
    if run.timed_out:
        shown.append(f"timed out after {TIMEOUT_MS // 1000}s and was killed")
    elif run.exit_code != 0:
        shown.append(f"exit code {run.exit_code}")
    return shown


async def run_shell_escape(text: str, cwd: Path, renderer: Renderer,
                           conversation: Callable[[], Conversation | None]) -> ShellRun | None:
    """The job queued for a `!command` line: run, show, and add to the conversation."""
    from agent.tools.base import ToolError

    command = shell_command_of(text)
    if not command:
        renderer.error("Type a shell command after the !, e.g. !git status")
        return None
    try:
        run = await run_shell(command, cwd)
    except ToolError as exc:
        renderer.error(str(exc))
        return None
    except asyncio.CancelledError:
        renderer.warn(f"Stopped: !{command} (killed with every process it started; nothing was added to "
                      "the conversation)")
        raise
    lines = shown_lines(run)
    renderer.line("  ⎿ " + "\n    ".join(lines), "red" if run.exit_code or run.timed_out else "dim")
    target = conversation()
    if target is None:
        renderer.info("The output was not added to the conversation: there is no model connection.")
    else:
        target.add_user_blocks(history_blocks(run))
    return run


__all__ = ["ShellRun", "history_blocks", "is_shell_escape", "run_shell", "run_shell_escape", "shown_lines"]
