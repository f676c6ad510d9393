"""The command queue between input sources (typed prompts, /loop, cron fires) and the conversation.

Three priorities, run in this order: `now` (interrupt-level: handled before anything else), `next`
(typed prompts) and `later` (scheduled prompts: they wait until nothing else is queued). FIFO within one
priority. It is used from the event loop only; other threads post with `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    """Lower runs first."""

    NOW = 0
    NEXT = 1
    LATER = 2

    @classmethod
    def parse(cls, value: Priority | str) -> Priority:
        if isinstance(value, Priority):
            return value
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError(f"unknown priority {value!r}: use now, next or later") from None


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class QueuedPrompt:
    """A prompt waiting for its turn. `task` is the scheduled task behind a cron/loop prompt."""

    text: str
    priority: Priority = Priority.NEXT
    source: str = "user"  # "user", "cron", "loop", ...
    task: Any = None
    enqueued_at_ms: int = field(default_factory=_now_ms)


class CommandQueue:
    """A priority queue of QueuedPrompts with an awaitable `get()`."""

    def __init__(self) -> None:
        self._lanes: dict[Priority, deque[QueuedPrompt]] = {p: deque() for p in Priority}
        self._changed: asyncio.Event | None = None

    def put(self, item: QueuedPrompt, priority: Priority | str | None = None) -> QueuedPrompt:
        """Queue `item` (at `priority` when given, else its own); returns the item as queued."""
        if priority is not None:
            item = replace(item, priority=Priority.parse(priority))
        self._lanes[item.priority].append(item)
        if self._changed is not None:
            self._changed.set()
        return item

    def get_nowait(self) -> QueuedPrompt:
        """The next item in run order; raises asyncio.QueueEmpty when there is none."""
        for lane in self._lanes.values():
            if lane:
                return lane.popleft()
        raise asyncio.QueueEmpty

    async def get(self) -> QueuedPrompt:
        """Wait for the next item. Cancelling the wait loses no item."""
        if self._changed is None:
            self._changed = asyncio.Event()
        while True:
            try:
                return self.get_nowait()
            except asyncio.QueueEmpty:
                self._changed.clear()
                await self._changed.wait()

    def pending(self) -> list[QueuedPrompt]:
        """A snapshot of the queued items in the order they will run."""
        return list(self)

    def remove(self, predicate: Callable[[QueuedPrompt], bool]) -> list[QueuedPrompt]:
        """Drop every queued item for which `predicate` is true; returns them in run order."""
        removed: list[QueuedPrompt] = []
        for priority, lane in self._lanes.items():
            keep: deque[QueuedPrompt] = deque()
            for item in lane:
                (removed if predicate(item) else keep).append(item)
            self._lanes[priority] = keep
        return removed

    def clear(self) -> list[QueuedPrompt]:
        return self.remove(lambda item: True)

    def __iter__(self) -> Iterator[QueuedPrompt]:
        for lane in self._lanes.values():
            yield from lane

    def __len__(self) -> int:
        return sum(len(lane) for lane in self._lanes.values())

    def __bool__(self) -> bool:
        return len(self) > 0


__all__ = ["CommandQueue", "Priority", "QueuedPrompt"]
