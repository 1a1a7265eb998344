"""The events of the aggregates this process lately read or wrote, so that a command can start
from them instead of reading and vouching for the same rows again.

A command's first try starts from these (``CommandPath.act``). That is safe because a save is
conditional: an event is stored at the version after the one the command started from, and the
store refuses it if anyone — another thread, another process — stored that version first. So a
"yes" given on remembered events is only ever recorded if they were still the whole history.
A "no" is never given on them: a refusal, or a lost race, is judged again on the stored events.

What is kept are events huying wrote in this process or read and vouched for (the mapper checks
every seal it reads): never a row it has not checked. Folding them again gives a new aggregate
each time; the events are immutable, and no event's ``apply`` changes what it hands over
(``test_known_events`` folds a long random history both ways and compares).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from huying.recently_used import RecentlyUsed

# Aggregates remembered at once, the least lately used forgotten first: a few hundred calls are
# in play in a district at any moment; each remembered call costs a few kB.
KNOWN_AGGREGATES = 1024


class KnownEvents:
    def __init__(self, size: int = KNOWN_AGGREGATES) -> None:
        self._events: RecentlyUsed[UUID, tuple[Any, ...]] = RecentlyUsed(size)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._events)

    def of(self, aggregate_id: UUID) -> tuple[Any, ...] | None:
        """Every event of the aggregate, if this process knows them all."""
        with self._lock:
            return self._events.get(aggregate_id)

    def read(self, aggregate_id: UUID, events: Sequence[Any]) -> None:
        """The aggregate's events as just read from the store. A read that raced a save may be
        older than what is known: the longer history wins (versions only grow)."""
        if not events:
            return
        with self._lock:
            known = self._events.get(aggregate_id)
            if known is None or len(known) < len(events):
                self._events.put(aggregate_id, tuple(events))

    def saved(self, events: Sequence[Any]) -> None:
        """Events just stored, in order: each extends its aggregate's known history when it
        follows on from it (a creation starts one); any other makes this process forget it."""
        with self._lock:
            for event in events:
                aggregate_id, version = event.originator_id, event.originator_version
                known = self._events.get(aggregate_id) or ()
                if len(known) == version - 1:
                    self._events.put(aggregate_id, (*known, event))
                else:
                    self._events.pop(aggregate_id)

    def forget(self, aggregate_id: UUID) -> None:
        with self._lock:
            self._events.pop(aggregate_id)
