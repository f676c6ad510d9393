"""Text that arrives as bytes nobody checked: argv, stdin, stream-json lines. Never a traceback.

Python decodes argv with `surrogateescape`, so an undecodable byte becomes a lone surrogate that fails
the first UTF-8 write (the transcript, the request body, stdout). Such text is carried through with
U+FFFD in place of each bad byte, as editors show it; a model name, which must be exact, is refused.
"""

from __future__ import annotations

import argparse
import re
from typing import Any, TextIO

from agent.cli.common import UsageError

_SURROGATE = re.compile("[\ud800-\udfff]")
_MODEL_NAME = re.compile(r"[\x21-\x7e]{1,200}")  # ids, aliases (`opus[1m]`), Bedrock ARNs, Vertex `@` dates
_TEXT_ARGS = ("prompt", "append_system_prompt", "session_id", "resume")


def clean_text(text: str) -> str:
    """`text` with each lone surrogate (an undecodable byte, a "\\ud800" escape) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def clean_args(args: argparse.Namespace, prog: str = "agent") -> None:
    """Carry the free-text arguments through with U+FFFD; refuse a model name that cannot be one."""
    for name in _TEXT_ARGS:
        value = getattr(args, name, None)
        if isinstance(value, str):
            setattr(args, name, clean_text(value))
    for name in ("allowed_tools", "disallowed_tools"):
        setattr(args, name, [clean_text(v) for v in getattr(args, name, None) or []])
    model = getattr(args, "model", None)
    if model is not None and not _MODEL_NAME.fullmatch(model):
        shown = clean_text(model).encode("unicode_escape").decode("ascii")
        raise UsageError(f"{prog}: --model '{shown}' is not a model name: use letters, digits and "
                         "punctuation without spaces, e.g. --model claude-sonnet-4-6")


def read_text(stdin: TextIO) -> str:
    """All of stdin as text: UTF-8, each undecodable byte as U+FFFD (never UnicodeDecodeError)."""
    raw: Any = getattr(stdin, "buffer", None)
    data = raw.read() if raw is not None else stdin.read()
    return clean_text(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)


def text_lines(stdin: TextIO):
    """stdin line by line, decoded as `read_text` does."""
    raw: Any = getattr(stdin, "buffer", None)
    for line in raw if raw is not None else stdin:
        yield clean_text(line.decode("utf-8", "replace") if isinstance(line, bytes) else line)


__all__ = ["clean_args", "clean_text", "read_text", "text_lines"]
