"""One read answering every request that may share it, and no other.

On a database server, the change counter's read (app/api/page_cache.py) is a round trip from a
worker thread: most of what a cached page or a 304 costs. Under load many requests want it at
once. A read may answer each request that arrived before the read started: it sees every commit
that request could expect to see (all that finished before it arrived). It may not answer one
that arrived while it ran: a commit may have finished between the read's start and that
arrival. So at most one read runs; requests arriving meanwhile wait together for the next one,
which starts as soon as it ends. A write seen by one worker's client is still seen by the next
read on any other.

Why not a library: caches such as async-lru or aiocache share a value for a time or until
invalidated; the rule here is about when the read started, not how old its value is.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Coalesced(Generic[T]):
    """`await coalesced()`: the value of a call of `read` that started after this call did."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: asyncio.Future[T] | None = None  # the batch of the next read
        self._running: asyncio.Task[None] | None = None

    async def __call__(self) -> T:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (an app served again, a test's client): nothing carries over.
            self._loop, self._waiting, self._running = loop, None, None
        batch = self._waiting
        if batch is None:
            batch = self._waiting = loop.create_future()
            # Retrieved even when every waiter has gone (a client that hung up).
            batch.add_done_callback(_retrieve)
            if self._running is None:
                self._start()
        # Shielded: a waiter cancelled (its client gone) leaves the read to the others.
        return await asyncio.shield(batch)

    def _start(self) -> None:
        batch, self._waiting = self._waiting, None
        if batch is not None:
            self._running = asyncio.ensure_future(self._run(batch))

    async def _run(self, batch: "asyncio.Future[T]") -> None:
        try:
            value = await self._read()
        except asyncio.CancelledError:
            batch.cancel()
            raise
        except Exception as exc:  # the batch's callers get it, as a read of their own would
            batch.set_exception(exc)
        else:
            batch.set_result(value)
        finally:
            self._running = None
            self._start()


def _retrieve(future: "asyncio.Future[Any]") -> None:
    if not future.cancelled():
        future.exception()
