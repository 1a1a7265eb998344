"""The spread of response and resolution times: a histogram kept beside the SLA tallies, so that
the dashboard's percentiles come from a few stored rows instead of every obligation.

Each time (in seconds) falls in a **bin**: times under one second in bin 0; a time t ≥ 1 with
2^e ≤ t < 2^(e+1) in one of ``SUB_BINS`` equal slices of that doubling (as HdrHistogram does),
so a bin is at most 1/128 of its own lower edge wide. A spread keeps, per bin, how many times
fell in it and the largest of them. The percentile it reports (``docs/metrics.md`` §3) is the
largest time of the bin that holds the nearest-rank value: a time that really occurred, never
below the nearest-rank value and less than 0.8% above it — and exactly it whenever that bin
holds one distinct time.

Stored as bytes: the occupied bins (``uint16``), the running count up to and including each
(``uint32``), and each bin's largest time (``float64``), little-endian. Several spreads (the days
of a month, the weeks of a quarter) are combined without decoding them into one: the count at
or below a bin is the sum of each one's running count there, found by bisection, so the bin of
a rank is a search over bins costing a few bisections per spread.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from hashlib import blake2b
from itertools import accumulate
from typing import NamedTuple

SUB_BINS = 128  # slices of each doubling
_TOP = 1 + 62 * SUB_BINS  # times up to 2^62 s; anything larger shares the last bin
_ENDIAN_OK = array("H", [1]).tobytes() == b"\x01\x00"


def bin_of(seconds: float) -> int:
    """The bin of a time: exact in binary floating point (``frexp`` and a multiplication by a
    power of two), so any implementation of the rule finds the same bin."""
    if not seconds >= 1:  # under a second, negative, or NaN
        return 0
    mantissa, exponent = math.frexp(seconds)  # seconds = mantissa · 2^exponent, 0.5 ≤ mantissa < 1
    return min(1 + (exponent - 1) * SUB_BINS + int((mantissa * 2 - 1) * SUB_BINS), _TOP)


def rank_of(n: int, percent: int) -> int:
    """The nearest rank: ⌈percent·n/100⌉, at least 1."""
    return max(-(-percent * n // 100), 1)


class Spread(NamedTuple):
    """One stored spread, read in place: bins, running counts and largest times, in bin order."""

    bins: Sequence[int]
    running: Sequence[int]
    largest: Sequence[float]
    n: int  # how many times: the last running count (0 for none)

    def largest_in(self, b: int) -> float | None:
        i = bisect_left(self.bins, b)
        return float(self.largest[i]) if i < len(self.bins) and self.bins[i] == b else None

    def counts(self) -> dict[int, tuple[int, float]]:
        """bin → (count, largest time): for changing it."""
        before = 0
        found = {}
        for b, total, top in zip(self.bins, self.running, self.largest, strict=True):
            found[b] = (total - before, top)
            before = total
        return found


EMPTY = Spread((), (), (), 0)

Columns = list[tuple[Sequence[int], Sequence[int], int]]  # each part's bins, running counts and n


def decode(blob: bytes | None) -> Spread:
    """The stored bytes, read in place (no copy) where the machine is little-endian as they are."""
    if not blob:
        return EMPTY
    k = len(blob) // 14
    if _ENDIAN_OK:
        view = memoryview(blob)
        counts = view[2 * k : 6 * k].cast("I")
        return Spread(view[: 2 * k].cast("H"), counts, view[6 * k :].cast("d"), counts[-1])
    bins, running, largest = array("H"), array("I"), array("d")
    bins.frombytes(blob[: 2 * k])
    running.frombytes(blob[2 * k : 6 * k])
    largest.frombytes(blob[6 * k :])
    for a in (bins, running, largest):
        a.byteswap()
    return Spread(bins, running, largest, running[-1])


def encode(counts: dict[int, tuple[int, float]]) -> bytes | None:
    """bin → (count, largest) as stored; None when nothing is left."""
    kept = sorted((b, c, top) for b, (c, top) in counts.items() if c > 0)
    if not kept:
        return None
    bins = array("H", [b for b, _, _ in kept])
    running = array("I", accumulate(c for _, c, _ in kept))
    largest = array("d", [top for _, _, top in kept])
    if not _ENDIAN_OK:
        for a in (bins, running, largest):
            a.byteswap()
    return bins.tobytes() + running.tobytes() + largest.tobytes()


def digest(blob: bytes | None) -> str | None:
    """What names a stored spread's bytes (128 bits of BLAKE2b, in hex), stored beside it: a
    reader that holds the spread of a digest, decoded or merged with others, need not read the
    bytes again (``queries.spread_memo``). None for no spread."""
    return blake2b(blob, digest_size=16).hexdigest() if blob else None


def of_times(times: Iterable[float]) -> dict[int, tuple[int, float]]:
    """The counts of some times, as ``encode`` takes them."""
    counts: dict[int, tuple[int, float]] = {}
    for t in times:
        b = bin_of(t)
        c, top = counts.get(b, (0, t))
        counts[b] = (c + 1, max(top, t))
    return counts


def percentile(spreads: Sequence[Spread], percent: int) -> float | None:
    """The largest time in the bin holding the nearest-rank value of all these spreads together
    (None when they hold nothing)."""
    return percentiles(spreads, (percent,))[0]


def percentiles(spreads: Sequence[Spread], percents: Sequence[int]) -> list[float | None]:
    """``percentile`` for each of ``percents``, the spreads sorted out once for all of them."""
    parts = [s for s in spreads if s.n]
    if not parts:
        return [None] * len(percents)
    if len(parts) == 1:  # one spread: its running counts are in order
        only = parts[0]
        return [float(only.largest[bisect_left(only.running, rank_of(only.n, p))]) for p in percents]
    columns = [(_listed(s.bins), _listed(s.running), s.n) for s in parts]
    n = sum(s.n for s in parts)
    return [_merged(parts, columns, n, p) for p in percents]


def _merged(parts: list[Spread], columns: Columns, n: int, percent: int) -> float:
    """The largest time in the first bin whose count, over all the parts, reaches the rank: a
    search over bins, each part's count at or below a bin found by bisection in its own."""
    wanted = rank_of(n, percent)
    # The bin lies between the lowest and the highest of the parts' own percentile bins: as many
    # of each part as its own rank lie at or below the highest, fewer than that below the lowest.
    own = [bins[bisect_left(running, rank_of(count, percent))] for bins, running, count in columns]
    low, high = min(own), max(own)
    if low < high:
        # It mostly lies a few bins from the median of the parts' own bins, each counted as
        # often as its part holds times: galloping from there to a bracket, then bisecting it,
        # counts the parts at fewer bins than bisecting from the bounds (a year by month's
        # merges, 1,000,000 calls: 890 against 1,471; 10,000 calls: 1,298 against 1,468).
        low, high = _bracket(columns, wanted, low, high, _weighted_median(own, columns, n))
    while low < high:
        middle = (low + high) // 2
        if _at_or_below(columns, middle) >= wanted:
            high = middle
        else:
            low = middle + 1
    return max(t for s in parts if (t := s.largest_in(low)) is not None)


def _bracket(columns: Columns, wanted: int, low: int, high: int, guess: int) -> tuple[int, int]:
    """A narrower ``[low, high]`` holding the first bin whose count reaches ``wanted``: from
    ``guess`` (between them), steps of 1, 2, 4, … towards it until one passes it."""
    step = 1
    if _at_or_below(columns, guess) >= wanted:
        high = guess
        while high - step >= low and _at_or_below(columns, high - step) >= wanted:
            high, step = high - step, step * 2
        return max(low, high - step + 1), high
    low = guess + 1
    while low + step - 1 < high and _at_or_below(columns, low + step - 1) < wanted:
        low, step = low + step, step * 2
    return low, min(high, low + step - 1)


def _weighted_median(own: list[int], columns: Columns, n: int) -> int:
    """The median of the parts' own bins, each counted as many times as its part holds."""
    counted = 0
    for b, count in sorted(zip(own, (count for _, _, count in columns), strict=True)):
        counted += count
        if 2 * counted >= n:
            return b
    return max(own)  # not reached: the counts add up to n


def _at_or_below(columns: Columns, b: int) -> int:
    """How many times of all the parts lie in bin ``b`` or below."""
    below = 0
    for bins, running, _ in columns:
        i = bisect_right(bins, b)
        if i:
            below += running[i - 1]
    return below


def _listed(values: Sequence[int]) -> Sequence[int]:
    """A stored spread's column, to bisect: as a list when it is short. A list's items are there
    to compare, where a memoryview makes each one it is asked for (listing took a tenth off the
    merges' instructions at 10,000 calls). But a list is made item by item too, and a month of a
    million-call district holds ~2,000 bins of which a bisection asks for a few dozen: listed,
    the year's totals took six times the instructions (docs/benchmarks.md)."""
    if len(values) <= _LISTED and isinstance(values, memoryview | array):
        listed: list[int] = values.tolist()
        return listed
    return values


_LISTED = 256  # bins: past this, a column's list costs more than the bisections it would save


def summary(spreads: Sequence[Spread]) -> dict[str, float | int | None]:
    """``{"n", "p50", "p90"}`` as the dashboard shows them."""
    p50, p90 = percentiles(spreads, (50, 90))
    return {"n": sum(s.n for s in spreads), "p50": p50, "p90": p90}
