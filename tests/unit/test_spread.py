"""The spread of times behind the dashboard's percentiles (``huying.projections.spread``):
the percentile of several stored spreads together is the documented rule applied to all their
times at once (docs/metrics.md §3), worked out here by brute force."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from huying.projections import spread

times = st.one_of(
    st.floats(min_value=0, max_value=4e8, allow_nan=False),
    st.integers(min_value=0, max_value=400_000).map(float),  # whole seconds: many equal times
    st.sampled_from([0.0, 0.5, 1.0, 1800.0, 1807.0, 3600.0, 2**20, 2**20 - 1e-6]),
)


def by_hand(values: list[float], p: int) -> float:
    """The nearest-rank value, then the largest time sharing its 1/128 slice of a doubling."""
    ordered = sorted(values)
    value = ordered[max(-(-p * len(ordered) // 100), 1) - 1]

    def slice_of(t: float) -> tuple[int, int]:
        if t < 1:
            return (0, 0)
        mantissa, exponent = math.frexp(t)
        return (exponent, math.floor((mantissa * 2 - 1) * 128))

    return max(t for t in ordered if slice_of(t) == slice_of(value))


@given(
    groups=st.lists(st.lists(times, max_size=40), min_size=1, max_size=6), p=st.sampled_from([1, 50, 90, 100])
)
def test_stored_spreads_together_give_the_rule_over_all_their_times(
    groups: list[list[float]], p: int
) -> None:
    stored = [spread.decode(spread.encode(spread.of_times(g))) for g in groups]
    everything = [t for g in groups for t in g]
    assert sum(s.n for s in stored) == len(everything)
    if not everything:
        assert spread.percentile(stored, p) is None
        return
    found = spread.percentile(stored, p)
    assert found == by_hand(everything, p)
    assert spread.summary(stored) == {
        "n": len(everything),
        "p50": by_hand(everything, 50),
        "p90": by_hand(everything, 90),
    }
    exact = sorted(everything)[max(-(-p * len(everything) // 100), 1) - 1]
    assert exact <= found  # never below the nearest-rank value …
    assert found < max(exact * (1 + 1 / 128), 1.0)  # … and less than 1/128 above it (or under 1 s)


def test_long_spreads_merge_with_short_ones_by_the_same_rule() -> None:
    # Over 256 bins a spread is bisected in place, shorter ones as lists: both give the rule.
    long = [1.5 * 1.01**i for i in range(1500)]
    short = [60.0, 61.0, 3600.0, 90000.0]
    stored = [spread.decode(spread.encode(spread.of_times(g))) for g in (long, short, long[::7])]
    assert len(stored[0].bins) > 256 > len(stored[2].bins)
    everything = long + short + long[::7]
    for p in (1, 10, 50, 90, 99, 100):
        assert spread.percentile(stored, p) == by_hand(everything, p)


def test_many_parts_of_a_year_merge_by_the_same_rule() -> None:
    # A year's totals: months, weeks and days of unequal size whose own percentiles differ, so
    # the search starts near some ranks and far from others, below the bin and above it.
    rng = random.Random(7)
    sizes = [4000] * 11 + [900] * 3 + [120] * 10
    groups = [[rng.lognormvariate(rng.uniform(6, 11), rng.uniform(0.5, 2)) for _ in range(k)] for k in sizes]
    stored = [spread.decode(spread.encode(spread.of_times(g))) for g in groups]
    everything = [t for g in groups for t in g]
    for p in (1, 5, 25, 50, 75, 90, 95, 99, 100):
        assert spread.percentile(stored, p) == by_hand(everything, p)
        assert spread.percentile(stored[::-1], p) == by_hand(everything, p)


def test_a_time_alone_in_its_bin_is_exact_and_close_times_share_one() -> None:
    assert spread.percentile([spread.decode(spread.encode(spread.of_times([900, 1800, 3600])))], 50) == 1800
    # 1800 s and 1807 s lie in one bin (1792–1808 s): the median is reported as 1807 s, a time that
    # occurred, 0.4% above the nearest-rank 1800.
    shared = spread.decode(spread.encode(spread.of_times([1800, 1807, 1807, 5000])))
    assert spread.bin_of(1800) == spread.bin_of(1807) != spread.bin_of(1808)
    assert spread.percentile([shared], 25) == 1807


def test_bins_follow_the_doublings() -> None:
    assert [spread.bin_of(t) for t in (0, 0.999, 1, 1.5, 2, 3, 4)] == [0, 0, 1, 65, 129, 193, 257]
    assert spread.bin_of(-5) == spread.bin_of(float("nan")) == 0
    assert spread.bin_of(2.0**80) == spread.bin_of(2.0**70)  # the top bin holds the rest
    assert spread.encode({}) is None and spread.decode(None).n == 0
