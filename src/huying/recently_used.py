"""What a process keeps of what it has read, made or counted, up to a limit, the least recently
used going first: the one shape of its memos — the dashboards' spreads, the history entries
presented, the events of the aggregates lately in play (``KnownEvents``) and their log positions
(``Positions``), the past events vouched for and decoded (``PastEvents``), the projector's
aggregates (``CallCache``) and the tally rows it committed (``KnownRows``), and the failed
authentications of each client address (``FailureBudget``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentlyUsed(Generic[K, V]):
    """Items kept up to a total weight (each item's 1 unless told), the least recently used
    going first; one that alone weighs more than the limit is not kept. Not locked: its owner
    holds the lock its threads share."""

    def __init__(self, limit: int, weight: Callable[[V], int] | None = None) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        # Without a weight, every item weighs 1 and the total is the number kept: not counted.
        self._limit, self._weight, self._total = limit, weight, 0

    def get(self, key: K) -> V | None:
        """The item kept under ``key``, now the most recently used; None if none is."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key``, in place of any kept there before."""
        items, weight = self._items, self._weight
        if weight is None:
            if self._limit < 1:
                return
            items[key] = value
            items.move_to_end(key)
            while len(items) > self._limit:
                items.popitem(last=False)
            return
        if weight(value) > self._limit:
            return
        if (before := items.pop(key, None)) is not None:
            self._total -= weight(before)
        items[key] = value
        self._total += weight(value)
        while self._total > self._limit:
            self._total -= weight(items.popitem(last=False)[1])

    def pop(self, key: K) -> V | None:
        """Forget the item kept under ``key``, and hand it over; None if none was kept."""
        found = self._items.pop(key, None)
        if found is not None and self._weight is not None:
            self._total -= self._weight(found)
        return found

    def clear(self) -> None:
        self._items.clear()
        self._total = 0

    def __contains__(self, key: object) -> bool:
        """Whether an item is kept under ``key``; it is not marked used."""
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        """The keys kept, the least recently used first; none is marked used. Not to be kept
        open across a change."""
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
