"""One background worker shape for huying's followers of the log: the projector, the audit
chain keeper and the SLA watchdog each run a step at once when woken, else every so often.

Under sustained writes a follower woken by every save would run one small step per save, its
fixed cost (queries, a commit) paid each time and competing with the requests for the one
interpreter. A follower given ``gather_seconds`` waits that long before its next step when saves
came in during the last one, so it takes them together; an idle follower woken by one save still
starts at once."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# How long a busy follower of the log lets saves gather before its next batch: for the read
# models, 2 ms — they run in the duties' own process (``supervision``), so a batch no longer
# takes the requests' interpreter, and every millisecond here is projection lag (targets.md P5:
# p99 200 ms). 50 ms left P5's probe at p50 ~110-135 ms, 10 ms at ~80 ms. Under P1's load the
# projector is never idle: a save waits for the batch under way, the gathering, then its own
# batch. At 2 ms instead of 10 the batches were ~18 events instead of ~33, at about the same CPU
# an event, and the server's lag fell from p50 75-100 / p99 300 ms to 50 / 200 ms in seven
# pairs of loads on SQLite (docs/benchmarks.md, 2026-12-07). For the audit chain and webhook
# deliveries, which no request waits for, longer.
GATHER_SECONDS = 0.002
GATHER_SECONDS_UNWAITED = 0.25
# A long job beside the requests of the process it lives in (the watchdog's sweep): at most this
# share of the time (``Pacer``). The chain keeper's whole-log check, whose work grows with the
# log, has a smaller share of its own (``chain.VERIFY_SHARE``).
BACKGROUND_SHARE = 0.25


class Follower:
    """Runs ``step`` in a daemon thread: at once when woken, otherwise every ``poll_seconds``."""

    def __init__(
        self, name: str, step: Callable[[], object], poll_seconds: float, gather_seconds: float = 0.0
    ) -> None:
        self._name = name
        self._step = step
        self._poll_seconds = poll_seconds
        self._gather_seconds = gather_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self, _position: int | None = None) -> None:
        self._wake.set()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def rest(self, seconds: float) -> bool:
        """Pause this follower's step for ``seconds``; False if it is being stopped (the step
        should end, not go on)."""
        return not self._stop.wait(seconds)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                log.exception("%s: batch failed; retrying from the stored position", self._name)
            if self._gather_seconds and self._wake.is_set():  # busy: let the next batch gather
                self._stop.wait(self._gather_seconds)
            self._wake.wait(self._poll_seconds)
            self._wake.clear()


class Stopping(Exception):
    """A paced job was interrupted: its follower is being stopped."""


class Pacer:
    """Keeps a long job in a follower's thread to ``share`` of the time: called between slices
    of the work, it rests ``(1/share - 1)`` times as long as the slice took. The requests this
    process serves meanwhile share its one interpreter with the job; paced, a whole-log check
    at start takes longer but no longer doubles their latency while it runs."""

    def __init__(
        self,
        share: float,
        rest: Callable[[float], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"a pacer's share is in (0, 1], not {share}")
        self._factor = 1 / share - 1
        self._rest = rest
        self._clock = clock
        self._since = clock()

    def __call__(self) -> None:
        """One slice done: rest in proportion (raises ``Stopping`` if asked to stop)."""
        worked = self._clock() - self._since
        if self._factor and not self._rest(worked * self._factor):
            raise Stopping
        self._since = self._clock()
