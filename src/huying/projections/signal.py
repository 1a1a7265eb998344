"""The projector's progress, for waiters: read-your-writes and long-polling queues.

A request's waiter is a future in some event loop, not a thread: many may wait and none holds
a worker (``wait_for`` does block a thread, for short bounded waits only). The runner's thread,
or the watcher of another process's projector, calls ``advance`` after each committed batch,
which wakes exactly the waiters whose position has been reached. Each waiter belongs to the
loop it was made in (TestClient runs one loop per client thread) and is woken through it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass


@dataclass(eq=False)
class _Waiter:
    position: int
    loop: asyncio.AbstractEventLoop
    reached: asyncio.Future[None]


def _wake(waiter: _Waiter) -> None:
    if not waiter.reached.done():
        waiter.reached.set_result(None)


class Progress:
    def __init__(self, position: int = 0) -> None:
        self._position = position
        self._lock = threading.Condition(threading.Lock())
        self._waiters: list[_Waiter] = []

    @property
    def position(self) -> int:
        return self._position

    @property
    def waiting(self) -> int:
        """How many are waiting for a position not yet reached."""
        return len(self._waiters)

    def advance(self, position: int) -> None:
        """Called after each committed batch (from any thread)."""
        with self._lock:
            self._position = max(self._position, position)
            due = [w for w in self._waiters if w.position <= self._position]
            self._waiters = [w for w in self._waiters if w.position > self._position]
            self._lock.notify_all()
        for waiter in due:
            if not waiter.loop.is_closed():
                waiter.loop.call_soon_threadsafe(_wake, waiter)

    def reset(self, position: int) -> None:
        with self._lock:
            self._position = position

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block this thread until ``position`` is reached, or ``timeout``."""
        with self._lock:
            return self._lock.wait_for(lambda: self._position >= position, timeout)

    async def reached(self, position: int, timeout: float) -> bool:
        """Wait in the event loop (no thread held) until ``position`` is reached, or ``timeout``."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._position >= position:
                return True
            waiter = _Waiter(position, loop, loop.create_future())
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter.reached, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self._position >= position
