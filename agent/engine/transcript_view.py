"""A saved message as the person saw it, for session lists and the resumed screen (pure).

What the model got is not always what the user typed: a `!command` is stored as `<bash-input>` and
`<bash-stdout>` blocks, a scheduled fire as the prompt fenced under a note that nobody typed it, and our
own notes (`[The user interrupted …]`) join the user's message. `display_text` turns such text back
into what a person recognises (`!ls`, `scheduled a1b2c3d4: check the deploy`); a `/command` expansion
cannot be undone, which is why the chat records what was typed (`TranscriptWriter.note_prompt`).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["NOTES", "display_text", "is_scheduled_text", "key_argument"]

_BASH_INPUT = re.compile(r"<bash-input>(.*?)</bash-input>", re.DOTALL)
_BASH_OUTPUT = re.compile(r"<bash-(?:stdout|stderr)>.*?</bash-(?:stdout|stderr)>", re.DOTALL)
_SCHEDULED = re.compile(r"\A\[Scheduled task (?P<id>[^\s\]]+) \([^\n]*\)\]\n.*?\n(?P<fence>`{3,})\n(?P<prompt>.*?)\n"
                        r"(?P=fence)", re.DOTALL)
NOTES = ("[The user interrupted the previous response.]", "[Request interrupted by user for tool use]")
_KEYS = ("command", "file_path", "pattern", "path", "url", "cron", "task_id", "id", "prompt")


def is_scheduled_text(text: str) -> bool:
    return _SCHEDULED.match(text.lstrip()) is not None


def display_text(text: str) -> str:
    """What the user typed (or what started the turn), from the text the model was given."""
    text = text.strip()
    scheduled = _SCHEDULED.match(text)
    if scheduled:
        return f"scheduled {scheduled['id']}: {scheduled['prompt'].strip()}"
    commands = [f"!{command.strip()}" for command in _BASH_INPUT.findall(text)]
    rest = _BASH_OUTPUT.sub("", _BASH_INPUT.sub("", text))
    for note in NOTES:
        rest = rest.replace(note, "")
    return "\n".join([*commands, rest.strip()] if rest.strip() else commands)


def key_argument(tool_input: Any) -> str:
    """The argument a tool call is known by (`Bash(ls)`, `Edit(src/app.py)`), from its stored input."""
    if not isinstance(tool_input, dict):
        return ""
    for key in _KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""
