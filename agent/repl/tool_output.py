"""Tool results in the transcript: a few lines under the tool's line, the whole result on request.

Bash, Grep and Read results show their first `PREVIEW_LINES` lines and `… +N lines`; Ctrl-O or
/expand prints the last result whole (`full_output`). Everything here returns ANSI text. Tool output
is data from files and commands, so control characters are made visible before they reach the
terminal: an escape sequence in a file never moves the cursor or retitles the window.
"""

from __future__ import annotations

import re

PREVIEW_TOOLS = ("Bash", "Grep", "Read")
PREVIEW_LINES = 4
TAB = "    "
ELBOW = "  ⎿  "  # Claude Code's mark for a tool's result under its line
INDENT = "     "
EXPAND_HINT = "Ctrl-O to see all"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BASH_EXIT = re.compile(r"\n*Exit code: -?\d+\Z")

RESET, DIM, RED, GREEN = "\x1b[0m", "\x1b[2m", "\x1b[31m", "\x1b[32m"


def paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{RESET}" if color and code else text


def printable(line: str) -> str:
    """One line safe to print: tabs as spaces, other control characters as `^[`-style caret pairs."""
    line = line.replace("\t", TAB)
    return _CONTROL.sub(lambda m: "^" + chr((ord(m.group()) + 64) % 128) if ord(m.group()) < 128
                        else "?", line)


def fit(line: str, width: int) -> str:
    """`line` cut to `width` terminal columns with an ellipsis (wide characters take two)."""
    from rich.cells import cell_len, set_cell_size  # rich is loaded by the time tools run

    width = max(10, width)
    return line if cell_len(line) <= width else set_cell_size(line, width - 1) + "…"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def more_line(hidden: int, color: bool, hint: str = "") -> str:
    """`… +26 lines (Ctrl-O to see all)`."""
    extra = f" ({hint})" if hint else ""
    return paint(f"{INDENT}… +{plural(hidden, 'line')}{extra}", DIM, color)


def result_lines(name: str, content: str, *, whole: bool = False) -> list[str]:
    """The lines a person wants from a result: unless `whole`, Bash's `Exit code: 0` trailer is left
    out (the tool's line says `· exit 0` already)."""
    if name == "Bash" and not whole:
        content = _BASH_EXIT.sub("", content)
    lines = content.rstrip("\n").split("\n")
    return [line.rstrip("\r") for line in lines] if content.strip() else []


def wants_preview(name: str, summary: str, is_error: bool) -> bool:
    """Bash, Grep and Read results get a preview; failures only when the command ran (a Bash exit code
    or timeout), not a refusal or a declined permission, which the tool's line already says."""
    if name not in PREVIEW_TOOLS:
        return False
    return not is_error or (name == "Bash" and summary.startswith(("exit ", "timed out")))


def preview(name: str, content: str, *, color: bool, width: int, lines: int = PREVIEW_LINES) -> str:
    """The first `lines` lines of a result under the tool's line, and `… +N lines`; "" when empty."""
    body = result_lines(name, content)
    if not body:
        return ""
    out = []
    for i, line in enumerate(body[:lines]):
        out.append((ELBOW if i == 0 else INDENT) + fit(printable(line), width - len(INDENT) - 1))
    if len(body) > lines:
        out.append(more_line(len(body) - lines, color, EXPAND_HINT))
    return "\n".join(out) + "\n"


def full_output(title: str, name: str, content: str, *, color: bool) -> str:
    """The whole result (Ctrl-O, /expand): a header naming the call, then every line."""
    body = result_lines(name, content, whole=True) or ["(no output)"]
    header = paint(f"● {title} · full result, {plural(len(body), 'line')}", DIM, color)
    return "\n".join([header, *(INDENT + printable(line) for line in body)]) + "\n"
