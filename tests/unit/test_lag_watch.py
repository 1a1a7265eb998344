"""读写延迟: a save's time to visibility, from its commit to the projector batch that holds it."""

from __future__ import annotations

import os

import pytest

from huying.projections import lag
from huying.projections.lag import BUCKETS, LagMetrics, LagWatch


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def bucket_of(seconds: float) -> int:
    return next(i for i, bound in enumerate(BUCKETS) if seconds <= bound)


def test_each_save_counts_from_its_commit_to_the_batch_that_holds_it() -> None:
    clock = Clock()
    watch = LagWatch(clock)
    watch.saved(5)
    clock.now += 0.010
    watch.saved(7)
    clock.now += 0.020
    watch.applied(6)  # the first save's batch: 30 ms after it
    clock.now += 0.060
    watch.applied(9)  # the second's: 80 ms after it
    expected = [0] * (len(BUCKETS) + 1)
    expected[bucket_of(0.030)] += 1
    expected[bucket_of(0.080)] += 1
    assert watch.counts == expected
    assert abs(watch.total_seconds - 0.110) < 1e-9


def test_a_save_the_projector_already_passed_counts_as_visible_at_once() -> None:
    watch = LagWatch(Clock())
    watch.applied(10)
    watch.saved(8)
    assert watch.counts[0] == 1 and sum(watch.counts) == 1


def test_saves_never_applied_here_are_let_go_beyond_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lag, "MAX_WAITING", 3)
    watch = LagWatch(Clock())
    for position in range(1, 6):
        watch.saved(position)
    assert watch.dropped == 2
    watch.applied(5)
    assert sum(watch.counts) == 3


def test_the_histogram_is_cumulative_with_its_sum() -> None:
    clock = Clock()
    watch = LagWatch(clock)
    for position, wait in ((1, 0.004), (2, 0.3), (3, 20.0)):
        watch.saved(position)
        clock.now += wait
        watch.applied(position)
    [family] = list(LagMetrics(watch).collect())
    assert {s.labels["pid"] for s in family.samples} == {str(os.getpid())}  # this process's own
    samples = {(s.name, s.labels.get("le")): s.value for s in family.samples}
    assert samples["huying_projection_visible_seconds_bucket", "0.005"] == 1
    assert samples["huying_projection_visible_seconds_bucket", "0.3"] == 2
    assert samples["huying_projection_visible_seconds_bucket", "10.0"] == 2
    assert samples["huying_projection_visible_seconds_bucket", "+Inf"] == 3
    assert samples["huying_projection_visible_seconds_count", None] == 3
    assert abs(samples["huying_projection_visible_seconds_sum", None] - 20.304) < 1e-9
