"""The keeper's own whole-log check is paced: it rests between pages (``Pacer``) and chains what
was stored meanwhile — a long check neither holds the chain back nor mistakes the events and
checkpoints that arrive during it for tampering."""

from __future__ import annotations

import time

from huying.audit.checkpoints import stored
from huying.audit.verify import Verifier
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
