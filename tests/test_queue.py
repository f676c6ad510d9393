"""CommandQueue: now > next > later, FIFO within a priority, waiting and removal."""

from __future__ import annotations

import asyncio

import pytest

from agent.engine.queue import CommandQueue, Priority, QueuedPrompt


def prompt(text: str, priority: Priority = Priority.NEXT, source: str = "user") -> QueuedPrompt:
    return QueuedPrompt(text, priority, source)


def test_items_run_by_priority_then_in_arrival_order():
    queue = CommandQueue()
    for item in (prompt("cron 1", Priority.LATER, "cron"), prompt("typed 1"), prompt("interrupt", Priority.NOW),
                 prompt("typed 2"), prompt("cron 2", Priority.LATER, "cron")):
        queue.put(item)
    assert [i.text for i in queue.pending()] == ["interrupt", "typed 1", "typed 2", "cron 1", "cron 2"]
    assert len(queue) == 5
    assert [queue.get_nowait().text for _ in range(5)] == ["interrupt", "typed 1", "typed 2", "cron 1", "cron 2"]
    assert len(queue) == 0 and not queue


def test_a_scheduled_prompt_waits_behind_typed_prompts_queued_after_it():
    queue = CommandQueue()
    queue.put(prompt("scheduled", Priority.LATER, "cron"))
    queue.put(prompt("typed"))
    assert queue.get_nowait().text == "typed"


def test_put_can_set_the_priority_by_name_and_returns_the_queued_item():
    queue = CommandQueue()
    queued = queue.put(prompt("x"), "later")
    assert queued.priority is Priority.LATER and queue.pending() == [queued]
    with pytest.raises(ValueError, match="now, next or later"):
        queue.put(prompt("y"), "soon")


def test_get_nowait_on_an_empty_queue_raises_queue_empty():
    with pytest.raises(asyncio.QueueEmpty):
        CommandQueue().get_nowait()


async def test_get_waits_until_something_is_put():
    queue = CommandQueue()
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    queue.put(prompt("arrived", Priority.LATER))
    assert (await asyncio.wait_for(waiter, 1)).text == "arrived"


async def test_cancelling_a_waiting_get_loses_no_item():
    queue = CommandQueue()
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    queue.put(prompt("kept"))
    assert (await asyncio.wait_for(queue.get(), 1)).text == "kept"


async def test_two_waiters_each_get_one_item():
    queue = CommandQueue()
    waiters = [asyncio.create_task(queue.get()) for _ in range(2)]
    await asyncio.sleep(0)
    queue.put(prompt("a"))
    queue.put(prompt("b"))
    got = await asyncio.wait_for(asyncio.gather(*waiters), 1)
    assert sorted(i.text for i in got) == ["a", "b"] and len(queue) == 0


def test_remove_drops_matching_items_and_returns_them_in_run_order():
    queue = CommandQueue()
    for item in (prompt("c1", Priority.LATER, "cron"), prompt("u1"), prompt("c2", Priority.NOW, "cron")):
        queue.put(item)
    removed = queue.remove(lambda item: item.source == "cron")
    assert [i.text for i in removed] == ["c2", "c1"]
    assert [i.text for i in queue.pending()] == ["u1"]


def test_queued_prompt_records_when_it_was_queued_and_its_task():
    task = object()
    item = QueuedPrompt("x", Priority.LATER, "cron", task=task, enqueued_at_ms=1_700_000_000_000)
    assert item.task is task and item.enqueued_at_ms == 1_700_000_000_000
    assert QueuedPrompt("y").enqueued_at_ms > 1_600_000_000_000
