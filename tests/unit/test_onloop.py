"""``huying.onloop``: blocking code run on the event loop's thread, suspended where it waits —
the loop runs on meanwhile; its result, its errors and its context come through; a cancelled
request still waits for what it waits on; code holding a lock never suspends."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from huying.onloop import no_suspension, off_loop, on_loop, suspend_until, suspendable

ASKED: contextvars.ContextVar[str] = contextvars.ContextVar("asked")


async def _nothing() -> None:
    return None


async def a_turn_of_the_loop() -> None:
    """Every task already scheduled runs once: a task made now runs after them."""
    await asyncio.create_task(_nothing())


def test_blocking_code_suspends_until_its_future_is_done_while_the_loop_runs_on() -> None:
    seen: list[str] = []

    async def main() -> int:
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def work() -> int:
            seen.append("suspending")
            got = suspend_until(done)
            seen.append(f"woken with {got}")
            return got * 2

        async def meanwhile() -> None:
            seen.append("the loop ran on")
            done.set_result(21)

        waiting = asyncio.create_task(on_loop(work))
        await a_turn_of_the_loop()  # the task starts, and suspends
        await meanwhile()
        return await waiting

    assert asyncio.run(main()) == 42
    assert seen == ["suspending", "the loop ran on", "woken with 21"]


def test_the_work_s_error_and_the_future_s_error_come_through() -> None:
    async def main() -> None:
        def fails() -> None:
            raise ValueError("refused")

        with pytest.raises(ValueError, match="refused"):
            await on_loop(fails)

        broken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        broken.set_exception(KeyError("lost"))

        def waits() -> str:
            try:
                suspend_until(broken)
            except KeyError:
                return "caught where it waited"
            return "not raised"

        assert await on_loop(waits) == "caught where it waited"

    asyncio.run(main())


def test_the_request_s_context_variables_are_the_work_s() -> None:
    async def main() -> str:
        ASKED.set("supervisor:LW")
        return await on_loop(ASKED.get)

    assert asyncio.run(main()) == "supervisor:LW"


def test_a_cancelled_request_still_waits_for_what_it_waits_on_then_is_cancelled() -> None:
    seen: list[str] = []

    async def main() -> None:
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def work() -> None:
            suspend_until(committed)
            seen.append("went on after its commit")

        waiting = asyncio.create_task(on_loop(work))
        await a_turn_of_the_loop()  # it starts, and suspends
        waiting.cancel()
        await a_turn_of_the_loop()  # the cancellation reaches it
        assert not waiting.done() and not committed.cancelled(), "cancelled before its commit"
        committed.set_result(None)
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(main())
    assert seen == ["went on after its commit"]


def test_code_holding_a_lock_does_not_suspend_and_outside_the_loop_nothing_does() -> None:
    async def main() -> tuple[bool, bool, bool]:
        def work() -> tuple[bool, bool, bool]:
            before = suspendable()
            with no_suspension():
                holding = suspendable()
            return before, holding, suspendable()

        return await on_loop(work)

    assert asyncio.run(main()) == (True, False, True)
    assert not suspendable()
    with no_suspension():
        assert not suspendable()


def test_what_waits_on_the_database_runs_in_another_thread_only_from_the_loop() -> None:
    here = threading.get_ident()

    async def main() -> tuple[int, int]:
        def work() -> tuple[int, int]:
            return off_loop(threading.get_ident), threading.get_ident()

        return await on_loop(work)

    elsewhere, loop_thread = asyncio.run(main())
    assert loop_thread == here and elsewhere != here
    assert off_loop(threading.get_ident) == here
