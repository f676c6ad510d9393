"""The chat's question about a host a sandboxed command wants to reach: allow once / always for this
project / no, one question at a time, a scheduled run's time limit, and what each answer tells the proxy."""

from __future__ import annotations

import asyncio

from agent.repl.network_question import NetworkQuestion
from agent.repl.question import QuestionBox


class Screen:
    def __init__(self) -> None:
        self.waiting = False
        self.lines: list[str] = []

    def info(self, text: str) -> None:
        self.lines.append(text)


async def answer(box: QuestionBox, *keys: str) -> None:
    while box.current is None:
        await asyncio.sleep(0.001)
    for key in keys:
        box.key_press(key, key if len(key) == 1 else "")


def text_of(box: QuestionBox) -> str:
    return "".join(text for _style, text in box.fragments())


async def test_the_three_answers_map_to_once_always_and_no() -> None:
    box, screen = QuestionBox(lambda: None, lambda: None, grace_s=0.0), Screen()
    question = NetworkQuestion(box, screen)  # type: ignore[arg-type]
    for key, expected in (("1", "once"), ("2", "always"), ("3", "no"), ("escape", "no")):
        asking = asyncio.create_task(question("example.com", 443))
        await answer(box, key)
        assert await asking == expected
    assert screen.lines[0] == "  network: example.com allowed until this command ends"
    assert "settings.local.json" in screen.lines[1] and len(screen.lines) == 2
    assert not screen.waiting


async def test_the_question_names_the_host_the_port_and_the_setting() -> None:
    box = QuestionBox(lambda: None, lambda: None, grace_s=0.0)
    asking = asyncio.create_task(NetworkQuestion(box, Screen())("::1", 8080))  # type: ignore[arg-type]
    await answer(box)
    shown = text_of(box)
    assert "allow [::1]?" in shown and "[::1]:8080" in shown and "sandbox.network.allowedDomains" in shown
    assert "always for this project" in shown
    await answer(box, "escape")
    assert await asking == "no"


async def test_questions_about_two_hosts_come_one_after_the_other() -> None:
    box = QuestionBox(lambda: None, lambda: None, grace_s=0.0)
    question = NetworkQuestion(box, Screen())  # type: ignore[arg-type]
    first = asyncio.create_task(question("a.example", 443))
    second = asyncio.create_task(question("b.example", 443))
    await answer(box)
    assert "a.example" in text_of(box)
    box.key_press("1", "1")
    assert await first == "once"
    await answer(box)
    assert "b.example" in text_of(box)
    box.key_press("3", "3")
    assert await second == "no"


async def test_a_scheduled_runs_question_unanswered_in_time_is_a_no() -> None:
    box = QuestionBox(lambda: None, lambda: None, grace_s=0.0)
    question = NetworkQuestion(box, Screen(), scheduled=lambda: ("Scheduled task 1a2b3c4d asks", 0.05))  # type: ignore[arg-type]
    assert await question("example.com", 443) == "no"
