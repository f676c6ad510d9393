"""Whether a credential from the environment can be sent at all, said without ever showing it.

A key pasted with a trailing carriage return or space (a Windows clipboard, `export KEY="$(cat file)"`
from a CRLF file) cannot go into an HTTP header: the HTTP library refuses it with an error that quotes
the header, key included. Checking first gives a one-line message that names the variable and the flaw.
"""

from __future__ import annotations

import re

_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_ENDINGS = (("\r\n", "a carriage return and a line feed"), ("\r", "a carriage return (\\r)"),
            ("\n", "a line feed (\\n)"), ("\t", "a tab"), (" ", "a space"))


def credential_problem(name: str, value: str) -> str | None:
    """None when `value` can be a key; else one line naming `name` and the flaw (never the value)."""
    if _PRINTABLE_ASCII.fullmatch(value):
        return None
    stripped = value.strip()
    if stripped and _PRINTABLE_ASCII.fullmatch(stripped):
        ending = next((what for end, what in _ENDINGS if value.endswith(end)), None)
        flaw = f"ends with {ending}" if ending else "starts or ends with white space"
    elif not stripped:
        flaw = "holds only white space"
    else:
        flaw = "holds a space, a control character or a non-ASCII character"
    return (f"{name} is malformed: it {flaw}, which no key has. Set it again without it "
            f"(copy the key afresh, or: export {name}=\"$(printf %s \"${name}\" | tr -d ' \\r\\n\\t')\")")


__all__ = ["credential_problem"]
