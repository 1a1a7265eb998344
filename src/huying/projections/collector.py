"""The cyclic garbage collector paused while a projector's batch, or a part of a recount, runs.

Both allocate many short-lived objects without cycles (events, calls, rows, tally changes),
which reference counting frees; the cyclic collector's passes over them find nothing, and each
full pass walks everything the process holds. During a rebuild they cost a tenth of the
replay's time; in a process whose heap is not frozen, a fifth or more of the SLA tallies'
recount (0.59–0.86 s of CPU against 0.43–0.52 s for the 2,731 calls of the quick P3 log on
PostgreSQL, 2026-12-06: docs/benchmarks.md). Paused for one batch or part at a time, the
collector runs between them as before, and finds whatever cycles one left."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """The collector off inside, as it was (on or off) afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
