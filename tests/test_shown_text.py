"""ShownText: a retried stream never shows text twice, and says so when the retry answers differently."""

from __future__ import annotations

from agent.engine.events import RetryNotice, TextBlockDone, TextDelta
from agent.engine.shown_text import ShownText


def attempt(shown: ShownText, number: int, *pieces: str) -> None:
    """Feed one attempt: strings are deltas, None ends the text block so far."""
    shown.new_attempt(number)
    block = ""
    for piece in pieces:
        if piece is None:
            shown.block_done(block)
            block = ""
        else:
            block += piece
            shown.delta(piece)


def test_a_retry_that_fails_again_earlier_then_completes_shows_each_character_once():
    events: list = []
    shown = ShownText(events.append)
    attempt(shown, 1, "The ans", "wer is")
    attempt(shown, 2, "The ", "an")  # cut again, before reaching what was shown
    attempt(shown, 3, "The a", "nswer is 42", ".", None)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "The answer is 42."
    assert [e.text for e in events if isinstance(e, TextBlockDone)] == ["The answer is 42."]
    assert not any(isinstance(e, RetryNotice) for e in events)


def test_a_retry_that_differs_after_a_finished_block_discards_and_replays_it_from_the_start():
    events: list = []
    shown = ShownText(events.append)
    attempt(shown, 1, "Plan A.", None, "Then")
    attempt(shown, 2, "Plan B.", None)
    notice_at = next(i for i, e in enumerate(events) if isinstance(e, RetryNotice))
    assert events[notice_at].discarded_output and events[notice_at].attempt == 2
    after = events[notice_at + 1:]
    assert [type(e) for e in after] == [TextDelta, TextBlockDone]
    assert after[0].text == "Plan B." and after[1].text == "Plan B."


def test_without_a_listener_the_text_is_still_tracked():
    shown = ShownText(None)
    attempt(shown, 1, "same text")
    events: list = []
    shown._emit = events.append
    attempt(shown, 2, "same text", " and more")
    assert [e.text for e in events] == [" and more"]
