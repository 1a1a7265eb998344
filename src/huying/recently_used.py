"""What a process keeps of what it has read or made, up to a limit, the least recently used going
first: the one shape of its memos (the dashboards' spreads, the history entries presented)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentlyUsed(Generic[K, V]):
    """Items kept up to a total weight (each item's 1 unless told), the least recently used
    going first; one that alone weighs more than the limit is not kept. Not locked: its owner
    holds the lock its threads share."""

    def __init__(self, limit: int, weight: Callable[[V], int] = lambda _: 1) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._limit, self._weight, self._total = limit, weight, 0

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key``, in place of any kept there before."""
        if self._weight(value) > self._limit:
            return
        if (before := self._items.pop(key, None)) is not None:
            self._total -= self._weight(before)
        self._items[key] = value
        self._total += self._weight(value)
        while self._total > self._limit:
            self._total -= self._weight(self._items.popitem(last=False)[1])

    def clear(self) -> None:
        self._items.clear()
        self._total = 0

    def __len__(self) -> int:
        return len(self._items)
