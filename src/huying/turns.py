"""Commands on one call take turns, so a busy call loses no valid action.

Within a process, each call has a lock held from reading the call to saving the move: thirty
supervisions at once are thirty turns, each judged on the call as the one before left it,
instead of thirty reads of one version racing to the store where all but one lose and read
again (issue 10: after eight lost races, a valid action was answered 409). Across processes
(several uvicorn workers on one PostgreSQL) only the store orders writes: a lost race is tried
again after a jittered, growing pause, so the few processes contending for one call spread out
instead of colliding again in step.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

from huying.domain.errors import ConcurrentModification
from huying.onloop import no_suspension

_FIRST_PAUSE = 0.004  # seconds; doubled per lost race, jittered from nothing up to it
_MAX_PAUSE = 0.25


def pause_before(attempt: int) -> float:
    """How long to wait before ``attempt`` (1 = the first retry): full jitter over a doubling
    window, so that processes that collided once do not collide again in step."""
    return random.uniform(0, min(_MAX_PAUSE, _FIRST_PAUSE * 2**attempt))


class Turns:
    """One lock per call in use, made on demand and dropped when nobody holds or wants it."""

    def __init__(self, wait_seconds: float = 10.0) -> None:
        self.wait_seconds = wait_seconds
        self._guard = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}  # lock, holders + waiters
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Commands waiting for their turn on some call, in this process."""
        return self._waiting

    @contextmanager
    def of(self, call_id: Hashable) -> Iterator[None]:
        """This call's turn: 409 concurrent-modification if it does not come in ``wait_seconds``."""
        with self._guard:
            lock, users = self._locks.get(call_id, (threading.Lock(), 0))
            self._locks[call_id] = (lock, users + 1)
            self._waiting += 1
        try:
            got = lock.acquire(timeout=self.wait_seconds)
            with self._guard:
                self._waiting -= 1
            if not got:
                raise ConcurrentModification(f"call {call_id} is busy; try again")
            try:
                with no_suspension():  # held across the save: its commit is waited for in place
                    yield
            finally:
                lock.release()
        finally:
            with self._guard:
                lock, users = self._locks[call_id]
                if users == 1:
                    del self._locks[call_id]
                else:
                    self._locks[call_id] = (lock, users - 1)
