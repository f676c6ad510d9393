"""Markdown as people expect it in a terminal (rich's Markdown with a few elements changed).

- headings left-aligned (rich centres the top two levels);
- code blocks without rich's padding rows, so one blank line separates them from the text around;
- tables without their blank top and bottom edge rows, for the same reason;
- ordered lists numbered `1.` `2.` (rich writes `1` `2`);
- links with their URL after the text, `docs (https://…)`, unless the terminal shows hyperlinks.

rich is imported on first use (this module is imported only when a reply is drawn).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich import box
from rich.markdown import CodeBlock, Heading, ListItem, Markdown, TableElement
from rich.segment import Segment
from rich.syntax import Syntax
from rich.table import Table

__all__ = ["ChatMarkdown"]

class _LeftHeading(Heading):
    LEVEL_ALIGN: ClassVar[dict[str, Any]] = {}  # every level left-aligned


class _TightCodeBlock(CodeBlock):
    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield Syntax(str(self.text).rstrip(), self.lexer_name, theme=self.theme, word_wrap=True, padding=0)


class _TightTable(TableElement):
    def __rich_console__(self, console: Any, options: Any) -> Any:
        table = Table(box=box.SIMPLE, pad_edge=False, style="markdown.table.border", show_edge=False,
                      collapse_padding=True)
        if self.header is not None and self.header.row is not None:
            for column in self.header.row.cells:
                heading = column.content.copy()
                heading.stylize("markdown.table.header")
                table.add_column(heading)
        if self.body is not None:
            for row in self.body.rows:
                table.add_row(*[element.content for element in row.cells])
        yield table


class _DottedItem(ListItem):
    def render_number(self, console: Any, options: Any, number: int, last_number: int) -> Any:
        width = len(str(last_number)) + 3  # "12. "
        lines = console.render_lines(self.elements, options.update(width=options.max_width - width),
                                     style=self.style)
        style = console.get_style("markdown.item.number", default="none")
        for index, line in enumerate(lines):
            yield Segment(f"{number}.".rjust(width - 1) + " " if index == 0 else " " * width, style)
            yield from line
            yield Segment("\n")


class ChatMarkdown(Markdown):
    elements: ClassVar[dict[str, Any]] = {**Markdown.elements, "heading_open": _LeftHeading, "fence": _TightCodeBlock,
                "code_block": _TightCodeBlock, "table_open": _TightTable, "list_item_open": _DottedItem}
