"""A resumed session on the screen: where you were, before the prompt.

The last messages of the saved conversation go into the transcript as they looked when they were
new: the user's text as typed (`> /check foo`, `> !ls`), the replies as Markdown, each tool call as its
one-line summary (`● Bash(npm test) · done`). At most `SHOWN_MESSAGES` (older ones scroll away above,
with a line saying how many were left out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.engine.transcript_view import NOTES, display_text, key_argument
from agent.repl.formatting import tool_line
from agent.repl.tool_output import printable

if TYPE_CHECKING:
    from agent.engine.transcript import LoadedTranscript
    from agent.repl.render import Renderer

__all__ = ["CLEAR_SCREEN", "SHOWN_MESSAGES", "show_history"]

SHOWN_MESSAGES = 200
CLEAR_SCREEN = "\x1b[H\x1b[2J"


def show_history(renderer: Renderer, loaded: LoadedTranscript, limit: int = SHOWN_MESSAGES) -> None:
    messages = loaded.messages
    start = max(0, len(messages) - limit)
    if start:
        renderer.info(f"… {start} earlier messages not shown")
    results = _tool_results(messages)
    for index in range(start, len(messages)):
        message = messages[index]
        blocks = _blocks(message.get("content"))
        if message.get("role") == "user":
            text = loaded.displays.get(index) or display_text(_text(blocks))
            if text.strip():
                renderer.user_prompt(printable_lines(text))
            elif any(_text(blocks).strip() == note for note in NOTES):
                renderer.info("Interrupted.")
            continue
        for block in blocks:
            if block.get("type") == "text" and str(block.get("text", "")).strip():
                renderer.markdown(str(block["text"]))
            elif block.get("type") == "tool_use":
                is_error, summary = results.get(str(block.get("id")), (False, ""))
                line = tool_line(str(block.get("name", "?")), printable(key_argument(block.get("input"))), summary,
                                 is_error)
                renderer.line(line, "red" if is_error else None)


def printable_lines(text: str) -> str:
    return "\n".join(printable(line) for line in text.split("\n"))


def _tool_results(messages: list[dict[str, Any]]) -> dict[str, tuple[bool, str]]:
    """tool_use id -> (is_error, a one-line summary of its result)."""
    out: dict[str, tuple[bool, str]] = {}
    for message in messages:
        if message.get("role") != "user":
            continue
        for block in _blocks(message.get("content")):
            if block.get("type") == "tool_result":
                content = block.get("content")
                text = content if isinstance(content, str) else _text(_blocks(content))
                is_error = bool(block.get("is_error"))
                out[str(block.get("tool_use_id"))] = (is_error, _summary(text, is_error))
    return out


def _summary(text: str, is_error: bool) -> str:
    lines = [line for line in text.strip().split("\n") if line.strip()]
    if is_error:
        return printable(lines[0]) if lines else "failed"
    return f"{len(lines)} lines" if len(lines) > 1 else printable(lines[0]) if lines else "done"


def _text(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]
