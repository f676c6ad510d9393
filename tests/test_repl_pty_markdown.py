"""Markdown as people expect it, on a real screen (pyte) at 120 and 60 columns: a tight list without
blank lines between items, one blank line around code blocks and tables, ordered lists numbered `1.`,
headings left-aligned, links with their URL (a terminal without hyperlinks)."""

from __future__ import annotations

import pytest
from fake_api import text_reply
from pty_support import PTY_ONLY
from screen_support import ScreenTerminal, spawn_screen

pytestmark = PTY_ONLY

START_S = 40.0
READY = "claude-sonnet-4-6 · /help"
REPLY = """# Main heading

Intro with a [docs link](https://example.com/docs) in it.

- apple
- banana
- cherry

1. first step
2. second step

Before the code.

```python
print("inside code")
```

After the code.

| name | size |
|------|------|
| alpha | 1 |

After the table."""


@pytest.fixture
def reply_screen(fake_api, tmp_path, project):
    started: list[ScreenTerminal] = []

    def start(cols: int, chunk_delay_s: float) -> list[str]:
        fake_api.set_default(text_reply(REPLY, chunk_delay_s=chunk_delay_s))
        term = spawn_screen(fake_api, tmp_path / "home", project, rows=50, cols=cols)
        started.append(term)
        term.wait_for(lambda: READY in term.rows()[-1], "the idle toolbar", timeout=START_S)
        term.type("explain\r")
        term.wait_for(lambda: "After the table." in "\n".join(term.rows()) and READY in term.rows()[-1],
                      "the whole reply", timeout=START_S)
        term.settle(0.3)
        lines = term.all_lines()
        return lines[next(i for i, line in enumerate(lines) if "Main heading" in line):]

    yield start
    for term in started:
        if term.child.isalive():
            term.child.terminate(force=True)


def row_of(lines: list[str], text: str) -> int:
    return next(i for i, line in enumerate(lines) if text in line)


@pytest.mark.parametrize("cols", [120, 60])
@pytest.mark.parametrize("chunk_delay_s", [0.0, 0.02], ids=["at-once", "streamed"])
def test_markdown_is_laid_out_as_people_expect(reply_screen, cols, chunk_delay_s):
    lines = reply_screen(cols, chunk_delay_s)
    assert lines[0].startswith("Main heading")  # left-aligned, not centred
    apple, banana, cherry = (row_of(lines, word) for word in ("apple", "banana", "cherry"))
    assert (banana - apple, cherry - banana) == (1, 1)  # a tight list: no blank lines between items
    first, second = row_of(lines, "first step"), row_of(lines, "second step")
    assert lines[first].strip().startswith("1. first step") and lines[second].strip().startswith("2. second")
    assert second - first == 1
    before, code, after = row_of(lines, "Before the code."), row_of(lines, 'print("inside code")'), \
        row_of(lines, "After the code.")
    assert (code - before, after - code) == (2, 2)  # one blank line each side of the code block
    header, table_after = row_of(lines, "name"), row_of(lines, "After the table.")
    assert not lines[header - 1].strip() and lines[header - 2].strip()  # one blank line before the table
    assert table_after - row_of(lines, "alpha") == 2  # and one after it
    assert "docs link (https://example.com/docs)" in " ".join(line.strip() for line in lines)
