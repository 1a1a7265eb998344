"""A paced background job takes its share of the time: it rests in proportion to each slice."""

from __future__ import annotations

import pytest

from huying.background import Pacer, Stopping


class Ticks:
    """A monotonic clock moved by hand, and the rests asked of it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.rests: list[float] = []
        self.stopping = False

    def clock(self) -> float:
        return self.now

    def rest(self, seconds: float) -> bool:
        self.rests.append(seconds)
        self.now += seconds
        return not self.stopping


def test_a_quarter_share_rests_three_times_as_long_as_each_slice_took() -> None:
    ticks = Ticks()
    pace = Pacer(0.25, ticks.rest, ticks.clock)
    for worked in (0.010, 0.040, 0.0):
        ticks.now += worked
        pace()
    assert ticks.rests == pytest.approx([0.030, 0.120, 0.0])


def test_a_whole_share_never_rests() -> None:
    ticks = Ticks()
    pace = Pacer(1.0, ticks.rest, ticks.clock)
    ticks.now += 5
    pace()
    assert ticks.rests == []


def test_a_stop_asked_during_a_rest_ends_the_job() -> None:
    ticks = Ticks()
    pace = Pacer(0.5, ticks.rest, ticks.clock)
    ticks.now += 0.01
    pace()
    ticks.stopping = True
    ticks.now += 0.01
    with pytest.raises(Stopping):
        pace()


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5])
def test_a_share_outside_zero_to_one_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        Pacer(share, Ticks().rest)
