"""A chained history to tamper with, and how tests look at the verdict (the 防篡改 tests share it)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from huying.audit.checkpoints import Checkpoint
from huying.audit.verify import Report, Tamper, Verifier
from huying.bootstrap import Services
from huying.clock import FakeClock

from .histories import Shape, drive

# The wall clock, as the chain keeper sees it here: far from the business clock's time.
WALL = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def log_length(services: Services, clock: FakeClock) -> int:
    """A history of 25 calls (≈ 180 events), chained ten at a time, a checkpoint every 40."""
    services.chain.checkpoint_every = 40
    services.chain.checkpoint_seconds = 10**9
    services.chain.batch_size = 10
    services.chain.clock = FakeClock(start=WALL)  # checkpoints' times: a wall clock of its own
    drive(services, clock, random.Random(6), Shape.tame(calls=25, concurrency=6))
    services.chain.catch_up()
    head = services.app.recorder.max_notification_id()
    assert head > 150
    return int(head)


def write_more(services: Services, clock: FakeClock, calls: int = 4, seed: int = 7) -> int:
    """More history after the chained head (not chained); returns the new head."""
    drive(services, clock, random.Random(seed), Shape.tame(calls=calls, concurrency=2))
    return int(services.app.recorder.max_notification_id())


def verify(services: Services, given: list[Checkpoint] | None = None) -> Report:
    return Verifier(services.chain.log, services.engine, services.app.voucher, batch=37).verify(given or [])


def assert_break(report: Report, position: int, kind: Tamper) -> None:
    assert report.broken is not None, f"expected {kind} at {position}, the log verified OK"
    assert (report.broken.position, report.broken.kind) == (position, kind), report.broken
    assert report.broken.intact_through < position
