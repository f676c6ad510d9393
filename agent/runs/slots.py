"""How many scheduled runs go at once (`cron.maxConcurrentRuns`), and one task never beside itself.

    slots = RunSlots(4)
    async with slots.held() as slot:     # waits for a free slot
        ...                              # the run
        async with slot.released():      # a retry's wait: the slot is free for others meanwhile
            await asyncio.sleep(delay)

A slot handle knows whether it holds its place, so a cancel while waiting to take it back never frees
a place twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["RunSlots", "Slot"]


class Slot:
    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self._semaphore = semaphore
        self.held = False

    async def take(self) -> None:
        await self._semaphore.acquire()
        self.held = True

    def give(self) -> None:
        if self.held:
            self.held = False
            self._semaphore.release()

    @asynccontextmanager
    async def released(self) -> AsyncIterator[None]:
        self.give()
        try:
            yield
        finally:
            await self.take()


class RunSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self.in_use = 0

    @asynccontextmanager
    async def held(self) -> AsyncIterator[Slot]:
        slot = Slot(self._semaphore)
        await slot.take()
        self.in_use += 1
        try:
            yield slot
        finally:
            self.in_use -= 1
            slot.give()
