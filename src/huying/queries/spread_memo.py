"""Spreads already read, by their digest, and the percentiles merged from them, by their parts'
digests — kept by each process for the dashboards it answers.

A dashboard's totals merge the spreads of every block its range covers: a year by month of the
district at a million calls read 6.7 MB of them and merged 40 sets of twelve months, at every
request. A past month's spread rarely changes once its obligations have ended. The projector
stores each spread's digest beside it (``spread.digest``, 128 bits of BLAKE2b of its bytes), so
a reader that has seen the spread of a digest knows it without reading it again, and the
percentiles of a set of digests are what they were: nothing here can go stale, since a changed
spread is another digest. What a process keeps is bounded (``SpreadMemo``: the spreads' bytes
and the number of merged summaries, least recently used out first).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from threading import Lock
from typing import Any, TypeVar

from huying.projections import spread
from huying.recently_used import RecentlyUsed

Digests = tuple[str, ...]  # a merge's parts, sorted: the same parts in any order are one key
Summary = dict[str, Any]  # ``spread.summary``: n, p50, p90
K = TypeVar("K", bound=Hashable)  # a tally row's key

SPREAD_BYTES = 64 << 20  # a year by month of a million-call district holds ~7 MB of spreads
SUMMARIES = 8_192
ROWS = 65_536  # tally rows whose spreads were asked for (a district's year by month: ~300)


class SpreadMemo:
    """Spreads by digest (as stored, decoded in place when asked for), merged summaries by their
    parts' digests, and the rows whose spreads were asked for; safe to share between a
    process's threads."""

    def __init__(
        self, spread_bytes: int = SPREAD_BYTES, summaries: int = SUMMARIES, rows: int = ROWS
    ) -> None:
        self._blobs: RecentlyUsed[str, bytes] = RecentlyUsed(spread_bytes, len)
        self._summaries: RecentlyUsed[Digests, Summary] = RecentlyUsed(summaries)
        self._rows: RecentlyUsed[Hashable, bool] = RecentlyUsed(rows)
        self._lock = Lock()

    def unseen(self, rows: Iterable[K]) -> set[K]:
        """Of these rows (by key), those whose spreads were never asked for here (``saw``): a
        reader that holds none of a block's had better read them with its rows, in one query,
        than learn their digests first and ask for every one of them after."""
        with self._lock:
            return {r for r in rows if self._rows.get(r) is None}

    def saw(self, rows: Iterable[Hashable]) -> None:
        with self._lock:
            for r in rows:
                self._rows.put(r, True)

    def summary(self, parts: Digests) -> Summary | None:
        with self._lock:
            return self._summaries.get(parts)

    def spreads(self, digests: Iterable[str]) -> dict[str, spread.Spread]:
        """The spreads of those ``digests`` held here."""
        with self._lock:
            held = {d: blob for d in digests if (blob := self._blobs.get(d)) is not None}
        return {d: spread.decode(blob) for d, blob in held.items()}

    def learn(self, digest: str, blob: bytes) -> spread.Spread:
        """A spread just read (its stored ``digest``), kept for the next reader."""
        with self._lock:
            self._blobs.put(digest, blob)
        return spread.decode(blob)

    def remember(self, parts: Digests, summary: Summary) -> None:
        with self._lock:
            self._summaries.put(parts, summary)

    def clear(self) -> None:
        with self._lock:
            for kept in (self._blobs, self._summaries, self._rows):
                kept.clear()


MEMO = SpreadMemo()  # this process's
