"""The server's running requests shared among principals (api/lanes.py, FairShare): a lone
principal may use the whole server, another still runs its own share at once, and a freed slot
of the pool goes to the waiting principal running the fewest before the busy one's queue.

Each request is a task of one event loop; a task "runs" once it holds its slot. Nothing here
waits on time: the loop is only let turn until the handed-on slots have been taken."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from huying.api.lanes import Busy, FairShare

A, B = "hotline", "grid worker"


def share(own: int = 1, pool: int = 2, queue: int = 3) -> FairShare:
    return FairShare("running requests of one principal", own=own, pool=pool, queue=queue)


async def settle() -> None:
    """Lets every task the lane woke take its slot (a handful of loop turns, no time)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def busy(lane: FairShare, queued: int) -> list[asyncio.Task[None]]:
    """A running its own share and the whole pool, ``queued`` more of its requests waiting."""
    for _ in range(lane.capacity + lane.pool):
        await lane.acquire(A)
    waiting = [asyncio.create_task(lane.acquire(A)) for _ in range(queued)]
    await settle()
    return waiting


def run(test: Callable[[FairShare], Coroutine[Any, Any, None]], lane: FairShare) -> None:
    asyncio.run(test(lane))


def test_a_lone_principal_runs_its_own_share_and_the_whole_pool_at_once() -> None:
    async def test(lane: FairShare) -> None:
        for _ in range(1 + 2):
            await lane.acquire(A)
        assert (lane.held(A), lane.borrowed, lane.running) == (3, 2, 3)
        fourth = asyncio.create_task(lane.acquire(A))
        await settle()
        assert not fourth.done() and lane.queued(A) == 1
        lane.release(A)
        await settle()
        assert fourth.done() and lane.held(A) == 3

    run(test, share())


def test_another_principal_runs_its_own_share_while_the_pool_is_taken() -> None:
    async def test(lane: FairShare) -> None:
        waiting_a = await busy(lane, queued=3)
        await lane.acquire(B)  # at once: its own share
        assert lane.held(B) == 1 and lane.running == 4
        assert not any(t.done() for t in waiting_a)
        for t in waiting_a:
            t.cancel()
        await asyncio.gather(*waiting_a, return_exceptions=True)

    run(test, share())


def test_a_freed_slot_of_the_pool_goes_to_the_principal_running_fewest_before_the_busy_queue() -> None:
    async def test(lane: FairShare) -> None:
        queued_a = await busy(lane, queued=3)
        await lane.acquire(B)  # its own share
        queued_b = asyncio.create_task(lane.acquire(B))  # waits for the pool, behind A's three
        await settle()

        lane.release(A)  # A runs 2, B runs 1: B's turn
        await settle()
        assert queued_b.done() and not any(t.done() for t in queued_a)
        assert (lane.held(A), lane.held(B), lane.borrowed) == (2, 2, 2)

        lane.release(B)  # B has nobody waiting: the slot goes back to A's queue, in its order
        await settle()
        assert [t.done() for t in queued_a] == [True, False, False]

    run(test, share())


def test_a_principal_beyond_its_queue_is_refused_while_others_are_not() -> None:
    async def test(lane: FairShare) -> None:
        [queued] = await busy(lane, queued=1)
        with pytest.raises(Busy, match="1 waiting their turn"):
            await lane.acquire(A)
        await lane.acquire(B)
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        assert lane.queued(A) == 0

    run(test, share(queue=1))


def test_a_turn_handed_to_a_request_that_gave_up_passes_on() -> None:
    async def test(lane: FairShare) -> None:
        gives_up, next_one = await busy(lane, queued=2)
        lane.release(A)  # handed to gives_up ...
        gives_up.cancel()  # ... which is cancelled before it takes it
        await settle()
        assert next_one.done() and not next_one.cancelled()
        assert (lane.held(A), lane.borrowed) == (3, 2)

    run(test, share())
