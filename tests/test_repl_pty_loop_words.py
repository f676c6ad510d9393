"""/loop on a real screen (pyte), at 120 and 60 columns: calendar words become their cron, a schedule it
cannot read is refused with the forms it understands (nothing scheduled, nothing run), and `61s` says
how it rounded, with the run at once never seconds away from the first scheduled one."""

from __future__ import annotations

import re
import time

import pytest
from fake_api import text_reply
from pty_support import PTY_ONLY
from screen_support import ScreenTerminal, spawn_screen

pytestmark = PTY_ONLY

START_S = 40.0
WIDTHS = pytest.mark.parametrize("cols", [120, 60])


@pytest.fixture
def chat(fake_api, tmp_path, project):
    started: list[ScreenTerminal] = []

    def start(cols: int, rows: int = 30) -> ScreenTerminal:
        term = spawn_screen(fake_api, tmp_path / "home", project, rows=rows, cols=cols)
        started.append(term)
        term.wait_for(lambda: "/help" in term.rows()[-1], "the idle toolbar", timeout=START_S)
        return term

    yield start
    for term in started:
        if term.child.isalive():
            term.child.terminate(force=True)


def joined(term: ScreenTerminal) -> str:
    return " ".join(row.strip() for row in term.all_lines())


@WIDTHS
def test_a_schedule_it_cannot_read_is_refused_and_nothing_runs(chat, fake_api, cols):
    term = chat(cols)
    for count, words in enumerate(("every tuesday x", "each morning check the logs"), start=1):
        term.type(f"/loop {words}\r")
        term.wait_for(lambda n=count: joined(term).count("Nothing was scheduled") == n, "the refusal", timeout=START_S)
        text = joined(term)
        assert text.count("every tuesday at 9:30") == count  # the forms it understands
        term.type("/cron\r")
        term.wait_for(lambda n=count: joined(term).count("No scheduled tasks") == n, "an empty task list",
                      timeout=START_S)
    term.settle(1.0)
    assert fake_api.requests == []  # never the 10-minute default, never a run


@WIDTHS
def test_calendar_words_become_their_cron(chat, fake_api, cols):
    fake_api.set_default(text_reply("ran"))
    term = chat(cols)
    term.type("/loop check daily at 9am\r")
    term.wait_for(lambda: "(0 9 * * *)" in joined(term), "the daily cron", timeout=START_S)
    term.type("/loop every tuesday at 9 x\r")
    term.wait_for(lambda: "(0 9 * * 2)" in joined(term), "the weekly cron", timeout=START_S)


@WIDTHS
def test_61s_says_how_it_rounded_and_the_next_run_is_not_seconds_after_the_first(chat, fake_api, cols):
    fake_api.set_default(text_reply("looked"))
    term = chat(cols)
    typed = time.time()
    term.type("/loop 61s x\r")
    term.wait_for(lambda: "Stop it with /cron delete" in joined(term), "the loop's summary", timeout=START_S)
    text = joined(term)
    assert "61s was rounded up to 2m" in text
    found = re.search(r"Next run: [^(]*\(in ((?:\d+[ms] ?)+)\)", text)
    assert found, text
    seconds = sum(int(n) * (60 if unit == "m" else 1) for n, unit in re.findall(r"(\d+)([ms])", found.group(1)))
    assert seconds + (time.time() - typed) >= 55  # at least about half the 2-minute period after the run now
    term.wait_for(lambda: "looked" in joined(term), "the run at once", timeout=START_S)
