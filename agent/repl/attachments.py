"""`@path` in a sent message attaches that project file, as in Claude Code.

Each `@path` (at the start or after white space) that names a file is judged before anything is read:
a path that resolves outside the project folder (symlinks followed) is refused whatever the mode says,
and then the permission policy decides exactly as for the model's Read tool, so a deny rule (or an ask
rule: nobody is asked here) keeps the file out. A refused file gets a note for the user and a line for
the model; a mention that names nothing (`@alice`) is left alone. Contents are data: each sits in its
own fence, one backtick longer than any run inside it, and is capped in size.
Blocking work (stat, realpath, reading) runs in a worker thread: call `attach_mentions` from the loop.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from agent.cron.missed import code_fence
from agent.tools.safe_open import UnsafeFileError, open_regular

if TYPE_CHECKING:
    from agent.engine.session import AgentSession
    from agent.permissions.policy import PermissionPolicy
    from agent.repl.render import Renderer
    from agent.tools.base import Tool, ToolContext

MENTION = re.compile(r"(?:^|(?<=\s))@([^\s@]+)")
TRAILING_PUNCTUATION = ".,;:!?)]}'\""
MAX_FILE_CHARS = 40_000  # of one file; the model can Read the rest
MAX_TOTAL_CHARS = 120_000  # of all files in one message
MAX_FILES = 10
SNIFF_BYTES = 8192


@dataclass
class Attachments:
    """What a message's mentions gave: blocks for the model, lines for the user."""

    blocks: list[str] = field(default_factory=list)  # fenced file contents and refusal lines, for the model
    attached: list[str] = field(default_factory=list)  # `calc.py (12 lines)`, for the user
    refused: list[str] = field(default_factory=list)  # `@/etc/passwd: outside the project folder`

    def message(self, text: str) -> str:
        """The user's text followed by the attachment blocks."""
        return "\n\n".join([text, *self.blocks]) if self.blocks else text


def mentioned_paths(text: str) -> list[str]:
    """The `@path` words of `text`, in order, without repeats (trailing punctuation kept for now)."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(text):
        seen.setdefault(match.group(1), None)
    return list(seen)


def _existing(project: Path, word: str) -> tuple[str, Path] | None:
    """The mention as written and its absolute path, trying it without trailing punctuation too."""
    candidates = [word]
    while word and word[-1] in TRAILING_PUNCTUATION:
        word = word[:-1]
        candidates.append(word)
    for written in candidates:
        if not written:
            continue
        path = Path(written).expanduser()
        path = path if path.is_absolute() else project / path
        if os.path.lexists(path):
            return written, path
    return None


def _refusal(policy: PermissionPolicy, read_tool: Tool, ctx: ToolContext, path: Path) -> str | None:
    """Why the file may not be attached, or None when the Read tool's rules allow reading it."""
    real, project = Path(os.path.realpath(path)), Path(os.path.realpath(policy.project_dir))
    if not real.is_relative_to(project):
        return "outside the project folder"
    decision = policy.check(read_tool, {"file_path": str(path)}, ctx)
    if decision.behavior == "allow":
        return None
    if decision.behavior == "deny":
        return f"denied by the rule `{decision.rule}`" if decision.rule else "denied by the permission rules"
    return f"the rule `{decision.rule}` asks first: ask the model to Read it" if decision.rule else \
        "reading it needs permission: ask the model to Read it"


def _read_capped(path: Path, limit: int) -> tuple[str, bool]:
    """The file's text (at most `limit` characters) and whether it was cut. UnsafeFileError, OSError or
    ValueError (binary) when it cannot be attached."""
    with open_regular(path) as handle:
        data = handle.read(limit * 4 + 1)  # utf-8: at most 4 bytes a character
    if b"\0" in data[:SNIFF_BYTES]:
        raise ValueError("a binary file")
    text = data.decode("utf-8", "replace")
    cut = len(text) > limit or len(data) > limit * 4
    return text[:limit], cut


def _block(written: str, text: str, cut: bool) -> str:
    fence = code_fence(text)
    note = (f"\n[Only the first {len(text):,} characters are attached; Read the file for the rest.]"
            if cut else "")
    name = written.replace('"', "%22")  # keep the attribute whole whatever the file is called
    return (f'<attached-file path="{name}">\n{fence}\n{text.rstrip(chr(10))}\n{fence}{note}\n'
            "</attached-file>")


def build_attachments(text: str, session: AgentSession) -> Attachments:
    """Judge and read every `@path` of `text` (blocking: run it in a thread)."""
    out = Attachments()
    read_tool = session.tools.get("Read")
    room = MAX_TOTAL_CHARS
    for word in mentioned_paths(text):
        found = _existing(session.project_dir, word)
        if found is None:
            continue  # not a path at all (`@alice`)
        written, path = found
        reason = _refusal(session.policy, read_tool, session.ctx, path) if read_tool is not None else \
            "the Read tool is not available"
        if reason is None and os.path.isdir(path):
            reason = "a folder, not a file"
        if reason is None and (len(out.attached) >= MAX_FILES or room <= 0):
            reason = f"at most {MAX_FILES} files and {MAX_TOTAL_CHARS:,} characters are attached at once"
        if reason is None:
            try:
                content, cut = _read_capped(Path(os.path.realpath(path)), min(MAX_FILE_CHARS, room))
            except (UnsafeFileError, OSError, ValueError) as exc:
                reason = str(exc) if isinstance(exc, ValueError) else f"cannot be read ({exc})"
            else:
                room -= len(content)
                out.blocks.append(_block(written, content, cut))
                lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
                out.attached.append(f"{written} ({lines} lines{', cut' if cut else ''})")
                continue
        out.refused.append(f"@{written}: {reason}")
        out.blocks.append(f"(@{written} was not attached: {reason}.)")
    return out


async def attach_mentions(text: str, session: AgentSession, renderer: Renderer) -> str:
    """`text` with its mentioned files attached; says on screen what was attached and what was not."""
    if "@" not in text:
        return text
    found = await asyncio.to_thread(build_attachments, text, session)
    if found.attached:
        renderer.info("Attached " + ", ".join(found.attached))
    for line in found.refused:
        renderer.warn(f"Not attached: {line}")
    return found.message(text)


__all__ = ["Attachments", "attach_mentions", "build_attachments", "mentioned_paths"]
