"""Incremental Markdown: which parts of a streaming block are final, and the live tail drawn without raw markers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.repl.stream_markdown import MarkdownStream, close_open_inline, find_boundaries, last_lines_for_drawing

DOCUMENT = """## Plan

First I read **the config** and `setup.py`.
It spans two lines.

- one item
- two items with **bold**
  and a second line

1. first
2. second

```python
def f():

    return "**not bold**"
```

> a quote
lazy continuation

---
After the rule.

| a | b |
|---|---|
| 1 | 2 |

~~~
tilde fence
~~~
Last words, *italic* at the end."""


def cut_texts(text: str) -> list[str]:
    return [text[:b.offset] for b in find_boundaries(text)]


def test_a_heading_is_final_once_its_line_ends():
    assert cut_texts("## Heading") == []
    assert cut_texts("## Heading\n") == ["## Heading\n"]


def test_a_paragraph_is_final_after_a_blank_line_or_the_next_block_not_before():
    assert cut_texts("Some words\nmore words\n") == []
    assert cut_texts("Some words\n\n") == ["Some words\n"]
    assert cut_texts("Some words\n# Next\n")[0] == "Some words\n"


def test_only_complete_lines_count():
    assert cut_texts("Some words\n\nNext par") == ["Some words\n"]
    assert cut_texts("para\n#") == []  # `#` could still become `#tag`, which would continue the paragraph


def test_list_items_are_final_once_the_next_item_starts():
    bounds = find_boundaries("- one\n- two\n- thr")
    assert [b.offset for b in bounds] == [len("- one\n")]
    assert bounds[0].blank_before is False  # the next item follows without a blank line
    assert cut_texts("- one\n\n  still one\n") == []  # indented: the item goes on after a blank line


def test_a_code_fence_is_final_only_once_closed():
    assert cut_texts("```py\nx = 1\n\ny = 2\n") == []  # blank lines inside do not split it
    assert cut_texts("```py\nx = 1\n```") == []  # the closing line is not complete yet
    assert cut_texts("```py\nx = 1\n```\n") == ["```py\nx = 1\n```\n"]
    assert cut_texts("````\n```\nstill code\n") == []  # a shorter fence does not close it
    assert cut_texts("~~~\ncode\n~~~~\n") == ["~~~\ncode\n~~~~\n"]


def test_a_rule_is_final_and_what_follows_it_has_no_blank_line_before():
    bounds = find_boundaries("---\n")
    assert [b.offset for b in bounds] == [4] and bounds[0].blank_before is False


def feed_in_chunks(text: str, sizes: list[int]) -> tuple[MarkdownStream, list[str]]:
    """Feed `text` in chunks, each printed piece shown at once. After every chunk the printed pieces,
    the blank lines between them and the live tail are exactly the text fed so far, in order."""
    stream, printed, covered = MarkdownStream(), [], 0
    position = 0
    for size in [*sizes, len(text)]:
        chunk = text[position:position + size]
        position += len(chunk)
        for piece in stream.feed(chunk):
            start = piece.end - len(piece.text)
            assert stream.text[start:piece.end] == piece.text and not stream.text[covered:start].strip()
            printed.append(piece.text)
            covered = piece.end
            stream.mark_shown(piece.end)
        live = stream.live().text
        assert text[:position].endswith(live) and not text[covered:position - len(live)].strip()
    last = stream.finish()
    if last is not None:
        printed.append(last.text)
        stream.mark_shown(last.end)
    return stream, printed


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=200))
def test_any_chunking_prints_every_part_once_and_loses_nothing(sizes):
    stream, printed = feed_in_chunks(DOCUMENT, sizes)
    assert "".join(printed) == DOCUMENT  # nothing twice, nothing lost, in order
    assert stream.finished_on_screen and stream.live().text.strip() == ""


def test_one_character_at_a_time_prints_each_block_when_it_completes():
    _, printed = feed_in_chunks(DOCUMENT, [1] * len(DOCUMENT))
    assert printed[0] == "## Plan\n"
    assert any(p.startswith("```python") and p.rstrip().endswith("```") for p in printed)  # the fence whole
    assert "\n- one item\n" in printed  # a list item on its own, once the next began
    assert "".join(printed) == DOCUMENT


def test_live_tail_starts_after_what_is_on_the_screen():
    stream = MarkdownStream()
    pieces = stream.feed("# Title\n\nSome text")
    assert [p.text for p in pieces] == ["# Title\n"]
    assert stream.live().text == "# Title\n\nSome text"  # the printed copy is not on the screen yet
    stream.mark_shown(pieces[0].end)
    assert stream.live().text == "\nSome text" and stream.live().blank_before


def test_discarded_tail_is_not_printed():
    stream = MarkdownStream()
    stream.feed("Done para\n\nhalf")
    stream.discard_tail()
    assert stream.finish() is None and stream.text == "Done para\n"


def test_unclosed_bold_and_code_are_closed_for_drawing():
    assert close_open_inline("Hello **wor") == "Hello **wor**"
    assert close_open_inline("see `conf") == "see `conf`"
    assert close_open_inline("~~old") == "~~old~~"
    assert close_open_inline("**a** and *b") == "**a** and *b*"


def test_a_marker_still_being_typed_is_not_drawn():
    assert close_open_inline("Hello **") == "Hello "
    assert close_open_inline("Hello **bold*") == "Hello **bold**"  # half of the closing pair
    assert close_open_inline("Intro\n\n## ").strip() == "Intro"
    assert close_open_inline("##") == ""


def test_text_that_is_not_an_open_span_is_left_alone():
    assert close_open_inline("2 * 3 * 4") == "2 * 3 * 4"
    assert close_open_inline("- item\n* other item") == "- item\n* other item"
    assert close_open_inline("snake_case_name") == "snake_case_name"
    assert close_open_inline("```py\nx = **kwargs") == "```py\nx = **kwargs"  # inside an open fence
    assert close_open_inline(r"an \*escaped star") == r"an \*escaped star"


def test_spans_do_not_reach_across_paragraphs():
    assert close_open_inline("a **b\n\nnew para") == "a **b\n\nnew para"


def test_a_long_open_code_block_is_drawn_from_its_end_still_as_code():
    text = "Intro\n\n```python\n" + "\n".join(f"x{i} = {i}" for i in range(300))
    drawn = last_lines_for_drawing(text, 24, 2000)
    assert drawn.startswith("```python\n") and drawn.endswith("x299 = 299") and "x200 = 200" not in drawn
    assert last_lines_for_drawing("short\ntext", 24, 2000) == "short\ntext"


def test_one_long_line_is_drawn_from_a_word_near_its_end():
    drawn = last_lines_for_drawing("word " * 1000 + "last", 24, 300)
    assert drawn.endswith("word last") and len(drawn) <= 300 and drawn.startswith("word")
