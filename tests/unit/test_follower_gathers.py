"""A busy follower of the log (``huying.background.Follower``) lets saves gather before its next
batch; an idle one woken by a save starts at once."""

from __future__ import annotations

import threading
import time

from huying.background import Follower

GATHER = 0.2
NEVER = 60.0  # the poll: nothing but a wake starts a step within a test


class Steps:
    def __init__(self) -> None:
        self.started: list[float] = []
        self.ended: list[float] = []
        self.release = threading.Event()
        self.release.set()

    def __call__(self) -> None:
        self.started.append(time.monotonic())
        assert self.release.wait(60)
        self.ended.append(time.monotonic())

    def reach(self, n: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.ended) < n:
            assert time.monotonic() < deadline, f"only {len(self.ended)} steps, not {n}"
            threading.Event().wait(0.005)


def test_saves_during_a_step_are_taken_together_after_a_gathering_pause() -> None:
    steps = Steps()
    follower = Follower("test", steps, NEVER, gather_seconds=GATHER)
    steps.release.clear()
    follower.start()  # the first step runs at once and is held
    try:
        while not steps.started:
            threading.Event().wait(0.005)
        for _ in range(10):
            follower.wake()  # ten saves while it works
        steps.release.set()
        steps.reach(2)
        assert steps.started[1] - steps.ended[0] >= GATHER, "it let the next batch gather"
        assert len(steps.started) == 2, "the ten saves made one more step, not ten"

        idle_since = time.monotonic()
        follower.wake()  # one save to an idle follower
        steps.reach(3)
        assert steps.started[2] - idle_since < NEVER / 2, "woken, not polled"
    finally:
        follower.stop()
