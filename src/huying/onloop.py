"""Blocking code run on the event loop's own thread, which suspends where it waits for a commit.

A raise is plain blocking code: the domain, the event store, the group commit (``groupcommit``),
written to be run in a thread. Run in one of FastAPI's worker threads, each raise crossed from
the event loop's thread to a worker thread and back, and woke again when its group had
committed: for P1's raise, 1.12–1.14 ms of the API process's CPU against 0.97–1.04 ms run
here (``bench.inprocess``); over HTTP 838–850 against 864–951 raises/s (docs/benchmarks.md,
2026-12-06). ``on_loop`` runs
it in a greenlet on the event loop's thread instead. It never blocks the loop while waiting
for its commit: ``GroupCommit.submit`` sees that it may suspend (``suspendable``), hands the
group to the queue's committing thread and suspends (``suspend_until``); the loop serves other
requests meanwhile, and the greenlet goes on once its group has committed.

Two rules keep the loop free, and each has one place:

- **No suspension while holding a lock.** Suspended, a greenlet would keep its lock while other
  greenlets run on the same thread, and one of them asking for that lock would block the loop
  for good. Code that holds a lock across a save says so (``no_suspension``: ``turns.Turns``);
  its commits are then waited for in place, as in a thread. Only queues whose callers may
  suspend do (``GroupCommit(suspends=True)``: the event store's).
- **What waits on the database elsewhere runs in a thread** (``off_loop``): the rarer paths of a
  raise — undoing its contact after a refused save, finding the first answer to a retried key,
  the duplicate hints when the memory of recent raises cannot tell.

A request cancelled while its commit is under way (a server shutting down) still waits for the
commit before it ends, as a worker thread's request did: what it stored and what it undoes if
refused stay consistent.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import greenlet

P = ParamSpec("P")
T = TypeVar("T")


class _OnLoop(greenlet.greenlet):
    """A greenlet running blocking code for ``on_loop``; ``held`` counts ``no_suspension``."""

    def __init__(self, run: Callable[[], Any], driver: greenlet.greenlet) -> None:
        super().__init__(run, driver)
        self.gr_context = driver.gr_context  # the request's context variables, as in its task
        self.held = 0


async def on_loop(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args, **kwargs)`` on this thread, suspended (the loop running on) wherever it
    waits in ``suspend_until``; its result or its exception."""
    child = _OnLoop(functools.partial(work, *args, **kwargs), greenlet.getcurrent())
    waiting: Any = child.switch()
    cancelled: asyncio.CancelledError | None = None
    while not child.dead:
        try:
            value = await asyncio.shield(waiting)
        except asyncio.CancelledError as e:
            cancelled = e  # the work goes on to its end first
            continue
        except BaseException as e:
            waiting = child.throw(e)
        else:
            waiting = child.switch(value)
    if cancelled is not None:
        raise cancelled
    result: T = waiting
    return result


def suspendable() -> bool:
    """Whether this code runs under ``on_loop`` and holds no lock: it may suspend."""
    current = greenlet.getcurrent()
    return isinstance(current, _OnLoop) and current.held == 0


def suspend_until(done: asyncio.Future[T]) -> T:
    """Suspends (``suspendable`` code only) until ``done`` is, the loop running on; its result."""
    current = greenlet.getcurrent()
    assert isinstance(current, _OnLoop) and current.held == 0, "this code may not suspend"
    assert current.parent is not None
    result: T = current.parent.switch(done)
    return result


@contextmanager
def no_suspension() -> Iterator[None]:
    """A block that holds a lock: what it waits for, it waits for in place."""
    current = greenlet.getcurrent()
    if not isinstance(current, _OnLoop):
        yield
        return
    current.held += 1
    try:
        yield
    finally:
        current.held -= 1


def off_loop(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args, **kwargs)``, which may wait on the database: in the loop's default executor
    while suspendable code suspends, else here and now."""
    if not suspendable():
        return work(*args, **kwargs)
    context = contextvars.copy_context()
    call = functools.partial(context.run, work, *args, **kwargs)
    return suspend_until(asyncio.get_running_loop().run_in_executor(None, call))
