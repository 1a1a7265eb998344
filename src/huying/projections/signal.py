"""The projector's progress, for waiters: read-your-writes and long-polling queues.

Thread-safe for the runner's thread; waiters in the event loop get an asyncio-friendly wait.
"""

from __future__ import annotations

import asyncio
import threading


class Progress:
    def __init__(self, position: int = 0) -> None:
        self._position = position
        self._changed = threading.Condition()
        self._loop_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def position(self) -> int:
        return self._position

    def advance(self, position: int) -> None:
        """Called by the runner after each committed batch."""
        with self._changed:
            self._position = max(self._position, position)
            self._changed.notify_all()
            waiters, self._loop_waiters = self._loop_waiters, []
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def reset(self, position: int) -> None:
        with self._changed:
            self._position = position

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the read models reach ``position`` or ``timeout`` passes."""
        with self._changed:
            return self._changed.wait_for(lambda: self._position >= position, timeout)

    async def changed(self, timeout: float) -> bool:
        """Wait in the event loop until the next committed batch (or timeout)."""
        event = asyncio.Event()
        with self._changed:
            self._loop_waiters.append((asyncio.get_running_loop(), event))
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True
