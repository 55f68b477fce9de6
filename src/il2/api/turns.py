"""Requests served in the order they arrived, one at a time per server process.

The API's routes run their services on the event loop, so a process serves one request at a
time anyway. What the event loop does not give is order: every request that arrived while
one was being served is started in the next loop iteration, in file-descriptor order, all in
a row, and whatever arrives meanwhile waits for the whole batch. A connection that lands at
the end of each batch keeps missing the next one: measured with benchmarks/api.py (16 clients
recording doses, SQLite on a RAM disk), one connection was served 243 times in 10 s while
another was served 408 times, and the slowest requests waited 2-3 times the median.

`in_turn` gives each request a place in one first-come, first-served queue and lets only the
head of the queue run in a loop iteration. Between two turns the loop polls its sockets, so a
request that arrived during a turn joins the queue behind the ones already waiting, not behind
a batch still to be picked. The turn starts once the request's body has been read (FastAPI
reads it before solving dependencies) and ends as soon as the route returns, before the answer
is sent, so neither a slow upload nor a slow download holds the queue.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from weakref import WeakKeyDictionary


class Turns:
    """A first-come, first-served queue of requests on one event loop."""

    def __init__(self) -> None:
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._busy = False

    def _start_next(self) -> None:
        while self._waiting and not self._busy:
            head = self._waiting.popleft()
            if not head.done():  # a cancelled waiter (client gone) gives its place up
                self._busy = True
                head.set_result(None)

    async def take(self) -> None:
        """Wait for this request's turn; the next one starts only after `done()`."""
        loop = asyncio.get_running_loop()
        mine: asyncio.Future[None] = loop.create_future()
        self._waiting.append(mine)
        loop.call_soon(self._start_next)  # never at once: the loop polls its sockets first
        try:
            await mine
        except asyncio.CancelledError:
            if mine.done() and not mine.cancelled():  # the turn was given, then cancelled
                self.done()
            raise

    def done(self) -> None:
        """End the current turn; the next request in the queue starts in the next iteration."""
        self._busy = False
        asyncio.get_running_loop().call_soon(self._start_next)


_QUEUES: WeakKeyDictionary[asyncio.AbstractEventLoop, Turns] = WeakKeyDictionary()


async def in_turn() -> AsyncGenerator[None, None]:
    """A route dependency: the route runs in its turn (use with `scope="function"`).

    One queue an event loop: a server process has one; a test client may start several.
    """
    loop = asyncio.get_running_loop()
    turns = _QUEUES.get(loop)
    if turns is None:
        turns = _QUEUES[loop] = Turns()
    await turns.take()
    try:
        yield
    finally:
        turns.done()
