"""Quoting a prompt (or a path) for each export target, so that any text arrives as one intact argument.

- POSIX shell: single quotes, with `'` written as `'\\''`. A newline cannot sit on a crontab line, so
  text with newlines becomes `"$(printf '%s\\n' 'line 1' 'line 2')"`; `$(...)` drops trailing newlines,
  which `agent -p` strips anyway.
- crontab: cron turns an unescaped `%` into a newline (and feeds the rest to stdin). Each `%` is written
  `\\%` outside the single quotes (`'a'\\%'b'`), because cron only unescapes `\\%` and a backslash of
  the text itself must not pair with ours.
- systemd: `ExecStart=` words in double quotes with C escapes; `%` is a specifier (`%%`) and `$` an
  environment reference (`$$`).
- comments (any target): one line of printable text, with everything else escaped.
"""

from __future__ import annotations

import json
import unicodedata

__all__ = ["comment_text", "cron_escape", "sh_quote", "sh_word", "systemd_quote"]

_SHELL_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def sh_quote(text: str) -> str:
    """One POSIX shell word (no newlines allowed) that evaluates to `text`."""
    if "\n" in text:
        raise ValueError("sh_quote: use sh_word for text with newlines")
    if text and all(ch in _SHELL_SAFE for ch in text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def sh_word(text: str) -> str:
    """One shell word on one line for any text: newlines go through printf (see the module docstring)."""
    if "\n" not in text:
        return sh_quote(text)
    lines = " ".join("'" + line.replace("'", "'\\''") + "'" for line in text.split("\n"))
    return f"\"$(printf '%s\\n' {lines})\""


def cron_escape(command: str) -> str:
    """A shell command line (from `sh_word`/`sh_quote`) as cron must see it: each `%` as `\\%`, never
    right after a backslash of the text (inside single quotes it is written `'\\%'`)."""
    out: list[str] = []
    quoted = escaped = False
    for ch in command:
        if escaped:  # the character after a backslash outside quotes is literal
            escaped = False
            if ch == "%":  # the shell's backslash is not needed before %, and cron's must come first
                out[-1] = "\\%"
            else:
                out.append(ch)
            continue
        if ch == "'":
            quoted = not quoted
        elif ch == "\\" and not quoted:
            escaped = True
        out.append(("'\\%'" if quoted else "\\%") if ch == "%" else ch)
    return "".join(out)


_SYSTEMD_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "%": "%%", "$": "$$"}


def systemd_quote(text: str) -> str:
    """One `ExecStart=` argument: double-quoted with C escapes, `%%` and `$$`."""
    out: list[str] = []
    for ch in text:
        if ch in _SYSTEMD_ESCAPES:
            out.append(_SYSTEMD_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(_c_escape(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _c_escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def comment_text(text: str, limit: int = 200) -> str:
    """`text` as one quoted, printable line for a comment in any of the files (shortened past `limit`)."""
    short = text if len(text) <= limit else text[:limit] + "…"
    escaped = json.dumps(short, ensure_ascii=False)
    return "".join(ch if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Zs") or ch == " "
                   else f"\\u{ord(ch):04x}" for ch in escaped)
