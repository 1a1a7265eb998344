"""The watchdog in the background reads the read models once they have reached the log: woken by
a move of the settable clock, a watchdog in another process than the projector swept before the
call just raised was projected, found nothing due, and left the call alone for its whole interval
(seen on PostgreSQL, `tests/e2e/test_duties.py`, where the clock's news arrives at once)."""

from __future__ import annotations

from datetime import datetime

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.domain.worktime import SHANGHAI
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.watchdog import Progress, Watchdog

MONDAY_NINE = datetime(2026, 11, 23, 9, tzinfo=SHANGHAI)


def test_a_look_in_the_background_waits_for_the_call_just_raised_to_be_projected(
    services: Services, clock: FakeClock
) -> None:
    clock.set(MONDAY_NINE)
    grid = principal_for_token(services.app.org, "grid_worker", "LW-LN-01-G01")
    draft = CallDraft("C01-01", "LW-LN-01-G01", "井盖缺失", "人行道井盖丢了", "grid_worker")
    call_id = services.calls.raise_call(grid, draft, Submission()).call.id
    clock.advance(86400)  # two working hours to respond, a day later: the street's turn

    projected: list[int] = []

    def read_models() -> int:
        """Where the read models are; the projector (another process's) gets there after this look."""
        position = services.projector.tracked_position()
        if not projected:
            projected.append(services.projector.catch_up())
        return position

    head = services.app.recorder.max_notification_id() or 0
    dog = Watchdog(services.calls, services.engine, clock, progress=Progress(lambda: head, read_models))
    assert dog.sweep() == []  # the read models do not have the call yet: nothing is due there

    moves = dog.look()

    assert projected and [(m.aggregate_id, m.action) for m in moves] == [(call_id, "escalate")]
