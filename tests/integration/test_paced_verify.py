"""The keeper's own whole-log check is paced: it rests between pages (``Pacer``) and chains what
was stored meanwhile — a long check neither holds the chain back nor mistakes the events and
checkpoints that arrive during it for tampering."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from huying.audit.checkpoints import stored
from huying.audit.verify import Report, Verifier
from huying.bootstrap import Services
from huying.clock import FakeClock

from .chained import log_length, verify, write_more

__all__ = ["log_length"]


def test_events_chained_between_the_pages_of_a_check_leave_it_ok(
    services: Services, clock: FakeClock, log_length: int
) -> None:
    arrived: list[int] = []

    def between_pages() -> None:
        if not arrived:  # after the first page: more history, chained, a checkpoint beyond the check's head
            arrived.append(write_more(services, clock))
            services.chain.checkpoint_every = 5
            services.chain.catch_up()

    checking = Verifier(
        services.chain.log, services.engine, services.app.voucher, batch=37, between_pages=between_pages
    )
    report = services.chain.verify(verifier=checking)

    assert report.ok, report.broken
    assert (report.log_head, report.checked) == (log_length, log_length)
    assert arrived and services.chain.head()[0] == arrived[0] > log_length
    assert max(c.position for c in stored(services.engine)) > log_length
    again = verify(services)
    assert again.ok and again.checked == arrived[0]


def test_the_keepers_own_check_at_start_reaches_the_verdict_a_full_speed_check_gives(
    services: Services, log_length: int
) -> None:
    keeper = services.chain
    keeper.verify_share = 0.5
    keeper.start()
    try:
        deadline = time.monotonic() + 60
        while keeper.verdict is None and time.monotonic() < deadline:
            keeper.wake()
            time.sleep(0.01)  # a poll with a deadline, not a timed assertion
    finally:
        keeper.stop()
    assert keeper.verdict is not None, "the keeper's check at start gave no verdict within 60 s"
    assert keeper.verdict.report == verify(services)


def test_the_next_check_is_due_an_hour_after_the_last_one_ended(services: Services, log_length: int) -> None:
    """A check whose work grows with the log must rest between passes: the next begins
    ``verify_seconds`` after the last one ended, not after it began — else a pass longer than
    that would follow the one before it without rest."""
    keeper = services.chain
    keeper.verify_share = 1.0  # no rest between pages: the check's length is the fake clock's
    keeper.clock = wall = FakeClock(start=datetime(2026, 12, 5, 1, 0, tzinfo=UTC))
    began: list[datetime] = []
    check = keeper.verify

    def a_long_check(*args: Any, **kwargs: Any) -> Report:
        began.append(wall.now())
        wall.advance(50 * 60)  # the pass takes 50 minutes
        return check(*args, **kwargs)

    keeper.verify = a_long_check  # type: ignore[method-assign]
    keeper._follow()  # at start: a check, ending at 01:50
    wall.advance(59 * 60)  # 02:49: an hour after it began, not after it ended
    keeper._follow()
    assert began == [datetime(2026, 12, 5, 1, 0, tzinfo=UTC)]
    wall.advance(60)  # 02:50
    keeper._follow()
    assert began[1:] == [datetime(2026, 12, 5, 2, 50, tzinfo=UTC)]
    assert keeper.verdict is not None and keeper.verdict.report.ok
