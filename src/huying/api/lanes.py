"""Slots that requests wait for in the event loop, holding no thread: a ``Lane`` (so many per
key at once) and a ``FairShare`` (the server's running requests shared among principals).
What each lane is for, and how many it holds, is the policy of ``limits.py``."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class Busy(Exception):
    """One lane of a principal (or a client address) is full: 429 with Retry-After."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class Lane:
    """Slots per key (a principal, a client address): ``capacity`` at once, ``queue`` more
    waiting their turn (in their event loop, holding no thread), anyone beyond refused with
    ``Busy``. Thread-safe: TestClient and several servers in one process each bring their own
    event loop."""

    def __init__(self, what: str, capacity: int, queue: int = 0) -> None:
        self.what = what
        self.capacity = capacity
        self.queue = queue
        self._lock = threading.Lock()
        self._held: dict[Hashable, int] = {}
        # Keys with someone waiting, in the order they began to wait.
        self._queued: dict[Hashable, deque[asyncio.Future[None]]] = {}

    def held(self, who: Hashable) -> int:
        return self._held.get(who, 0)

    def queued(self, who: Hashable) -> int:
        return len(self._queued.get(who, ()))

    async def acquire(self, who: Hashable) -> None:
        with self._lock:
            if self._room(who):
                self._count(who)
                return
            line = self._queued.setdefault(who, deque())
            if len(line) >= self.queue:
                if not line:
                    del self._queued[who]
                raise Busy(self._refusal())
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            line.append(turn)
        try:
            await turn
        except BaseException:
            if not self._leave(who, turn):
                self.release(who)  # the turn came as we gave up: pass it on
            raise

    def release(self, who: Hashable) -> None:
        """Frees a slot, or hands it straight to the next in line."""
        with self._lock:
            self._uncount(who)
            while (whom := self._next_waiting(who)) is not None:
                line = self._queued[whom]
                turn = line.popleft()
                if not line:
                    del self._queued[whom]
                self._count(whom)
                loop = turn.get_loop()
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_grant, turn)
                    return
                self._uncount(whom)  # its loop is gone: nobody to hand it to

    @asynccontextmanager
    async def slot(self, who: Hashable) -> AsyncIterator[None]:
        await self.acquire(who)
        try:
            yield
        finally:
            self.release(who)

    # --- the accounting, which FairShare changes (each called under the lock) -----------

    def _room(self, who: Hashable) -> bool:
        return self._held.get(who, 0) < self.capacity

    def _next_waiting(self, freed_by: Hashable) -> Hashable | None:
        """Whose turn the slot ``freed_by`` just freed is: only its own line can use it."""
        return freed_by if freed_by in self._queued else None

    def _count(self, who: Hashable) -> None:
        self._held[who] = self._held.get(who, 0) + 1

    def _uncount(self, who: Hashable) -> None:
        held = self._held[who] - 1
        if held:
            self._held[who] = held
        else:
            del self._held[who]

    def _refusal(self) -> str:
        waiting = f", and {self.queue} waiting their turn" if self.queue else ""
        return f"at most {self.capacity} {self.what} at a time{waiting}; retry shortly"

    def _leave(self, who: Hashable, turn: asyncio.Future[None]) -> bool:
        """Takes a turn out of line; False if it was already handed a slot."""
        with self._lock:
            line = self._queued.get(who)
            if line is None or turn not in line:
                return False
            line.remove(turn)
            if not line:
                del self._queued[who]
            return True


class FairShare(Lane):
    """The server's running requests, shared among principals so that none can stall the
    others, yet a lone busy one is not held back:

    - each principal's first ``own`` running requests run at once, whatever the others do;
    - beyond that, a principal borrows from ``pool`` slots shared by all; while the pool is
      taken its requests wait their turn (``queue`` of them; beyond that 429);
    - a freed slot of the pool goes to the waiting principal running the fewest requests (the
      longest waiting among equals), so a newcomer is served before a busy principal's queue.

    Alone, a principal runs up to ``own + pool`` at once (work-conserving); with others about,
    each still has its own share at once and the pool is shared out evenly."""

    def __init__(self, what: str, own: int, pool: int, queue: int) -> None:
        super().__init__(what, own, queue)
        self.pool = pool
        self.borrowed = 0  # slots of the pool in use

    @property
    def running(self) -> int:
        """Requests running now, all principals together."""
        with self._lock:
            return sum(self._held.values())

    def _room(self, who: Hashable) -> bool:
        return super()._room(who) or self.borrowed < self.pool

    def _next_waiting(self, freed_by: Hashable) -> Hashable | None:
        if freed_by in self._queued and super()._room(freed_by):
            return freed_by  # its own share has room again
        if self.borrowed >= self.pool or not self._queued:
            return None
        fewest = min(self._queued, key=self.held)  # the first such in waiting order
        # Round the others: it waits again (if it still does) behind those that waited with it.
        self._queued[fewest] = self._queued.pop(fewest)
        return fewest

    def _count(self, who: Hashable) -> None:
        if not super()._room(who):
            self.borrowed += 1
        super()._count(who)

    def _uncount(self, who: Hashable) -> None:
        super()._uncount(who)
        if not super()._room(who):
            self.borrowed -= 1

    def _refusal(self) -> str:
        return (
            f"at most {self.capacity} {self.what} at a time while the server is busy, and "
            f"{self.queue} waiting their turn; retry shortly"
        )


def _grant(turn: asyncio.Future[None]) -> None:
    if not turn.done():
        turn.set_result(None)
