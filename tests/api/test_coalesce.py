"""app/api/coalesce.py: a read answers the calls that arrived before it started, never one that
arrived while it ran (a commit may have finished in between)."""

import asyncio

import pytest

from app.api.coalesce import Coalesced


class Gated:
    """A read that returns how many reads have started, and waits for the test to let it end."""

    def __init__(self) -> None:
        self.started = 0
        self.gates: list[asyncio.Event] = []
        self.fail: Exception | None = None

    async def __call__(self) -> int:
        self.started += 1
        number = self.started
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        if self.fail is not None:
            raise self.fail
        return number


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_calls_during_a_read_wait_for_the_next_one_and_share_it() -> None:
    async def scenario() -> None:
        read = Gated()
        shared = Coalesced(read)
        first = asyncio.ensure_future(shared())
        await _settle()
        assert read.started == 1
        # Arrived while read 1 runs: read 1 may predate a commit they must see.
        later = [asyncio.ensure_future(shared()) for _ in range(5)]
        await _settle()
        assert read.started == 1
        read.gates[0].set()
        assert await first == 1
        await _settle()
        assert read.started == 2  # one more read for all five
        read.gates[1].set()
        assert await asyncio.gather(*later) == [2] * 5

    asyncio.run(scenario())


def test_an_error_reaches_its_batch_and_the_next_call_reads_again() -> None:
    async def scenario() -> None:
        read = Gated()
        shared = Coalesced(read)
        read.fail = RuntimeError("database gone")
        failing = [asyncio.ensure_future(shared()) for _ in range(3)]
        await _settle()
        read.gates[0].set()  # the first call's read; the other two arrived during it
        await _settle()
        assert read.started == 2
        read.gates[1].set()
        for call in failing:
            with pytest.raises(RuntimeError, match="database gone"):
                await call
        read.fail = None
        again = asyncio.ensure_future(shared())
        await _settle()
        read.gates[-1].set()
        assert await again == read.started

    asyncio.run(scenario())


def test_a_caller_that_goes_away_leaves_the_read_to_the_others() -> None:
    async def scenario() -> None:
        read = Gated()
        shared = Coalesced(read)
        first = asyncio.ensure_future(shared())
        await _settle()
        gone, staying = asyncio.ensure_future(shared()), asyncio.ensure_future(shared())
        await _settle()
        read.gates[0].set()
        assert await first == 1
        await _settle()
        gone.cancel()
        await _settle()
        read.gates[1].set()
        assert await staying == 2
        assert gone.cancelled()

    asyncio.run(scenario())


def test_a_new_event_loop_starts_afresh() -> None:
    read = Gated()
    shared = Coalesced(read)

    async def once() -> int:
        call = asyncio.ensure_future(shared())
        await _settle()
        read.gates[-1].set()
        return await call

    assert asyncio.run(once()) == 1
    assert asyncio.run(once()) == 2
