"""Moving bytes for the proxy: both ways through a tunnel or a forwarded request, with an idle timeout,
and a final reply that ends a connection without resetting it."""

from __future__ import annotations

import asyncio
import contextlib
import time

CHUNK = 64 * 1024
LINGER_S, LINGER_BYTES = 1.0, 1024 * 1024  # after a final reply: how long and how much input is dropped


async def reply_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, response: bytes) -> None:
    """Send a final reply and end the connection gently: what the client still sends (a request body)
    is read and dropped for a moment, as closing on unread data would reset the connection before
    the client has read the reply."""
    writer.write(response)
    await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()

    async def drop_input() -> None:
        dropped = 0
        while dropped < LINGER_BYTES and (data := await reader.read(CHUNK)):
            dropped += len(data)

    with contextlib.suppress(Exception):
        await asyncio.wait_for(drop_input(), LINGER_S)


async def pipe_both(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter,
                    u_reader: asyncio.StreamReader, u_writer: asyncio.StreamWriter, idle_timeout: float) -> None:
    """Copy both ways until both sides finished; a side that closes half-closes the other. The
    response side ending ends the exchange (the upstream was told Connection: close)."""
    last = [time.monotonic()]
    up = asyncio.ensure_future(_pipe(c_reader, u_writer, last))
    down = asyncio.ensure_future(_pipe(u_reader, c_writer, last))
    try:
        while not down.done():
            await asyncio.wait({down}, timeout=min(idle_timeout, 5.0))
            if not down.done() and time.monotonic() - last[0] > idle_timeout:
                break
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, last: list[float]) -> None:
    try:
        while data := await reader.read(CHUNK):
            last[0] = time.monotonic()
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass
