"""读写延迟 — how long after its save an event becomes visible in the read models (targets.md P5).

Measured in the process that saves and serves the read, where both ends are known. A save's
commit is noted when the application tells its listeners (``on_saved``); the event is visible
when the read models this process reads are known to hold it: its own projector's batch has
committed, or — the projector running in another process (`huying serve`'s child on SQLite,
`huying project` on PostgreSQL) — news of that batch has arrived (``huying.wakeups``), which is
when a request waiting there with ``min_position`` is answered. The time between is one sample.
A process that neither projects nor hears the projector's news notes nothing.

The samples go into cumulative buckets, as a Prometheus histogram
(``huying_projection_visible_seconds``), labelled with the process's pid: each worker of a server
measures its own saves, and a scrape reaches one of them. ``bench/lag.py`` reads every worker's
before and after P5's load.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator

from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# Upper bounds of the buckets, in seconds: fine around P5's target (p99 ≤ 200 ms).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
# Saves noted and not yet visible, at most: beyond this the oldest are let go (``dropped``).
MAX_WAITING = 10_000


class LagWatch:
    """Saves noted with their time, until the projector commits past them."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: deque[tuple[int, float]] = deque()
        self._applied = 0
        self.counts = [0] * (len(BUCKETS) + 1)  # per bucket; the last: above every bound
        self.total_seconds = 0.0
        self.dropped = 0

    def saved(self, position: int) -> None:
        """A local save committed, its newest event at ``position``."""
        with self._lock:
            if position <= self._applied:  # the projector was quicker than the listeners
                self._observe(0.0)
                return
            if len(self._waiting) == MAX_WAITING:
                self._waiting.popleft()
                self.dropped += 1
            self._waiting.append((position, self._clock()))

    def applied(self, through: int) -> None:
        """The projector committed a batch through ``through``: those saves are visible now."""
        now = self._clock()
        with self._lock:
            self._applied = max(self._applied, through)
            while self._waiting and self._waiting[0][0] <= through:
                _, at = self._waiting.popleft()
                self._observe(now - at)

    def _observe(self, seconds: float) -> None:
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total_seconds += seconds


class LagMetrics(Collector):
    """``huying_projection_visible_seconds``: the samples of this process's ``LagWatch``."""

    def __init__(self, watch: LagWatch) -> None:
        self.watch = watch

    def collect(self) -> Iterator[Metric]:
        w = self.watch
        cumulative, running = [], 0
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), w.counts, strict=True):
            running += count
            cumulative.append((bound, running))
        family = HistogramMetricFamily(
            "huying_projection_visible_seconds",
            "from a local save's commit to the projector batch holding it being visible here",
            labels=["pid"],
        )
        family.add_metric([str(os.getpid())], cumulative, w.total_seconds)
        yield family
