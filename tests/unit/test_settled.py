"""A period's cutoff, and an obligation as it stood at it (docs/metrics.md §12)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from huying.domain.levels import Level
from huying.domain.worktime import WorkCalendar
from huying.projections.obligations import Arrival, Obligation, Response
from huying.queries.settled import as_it_stood, cutoff

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def test_the_cutoff_is_the_end_of_the_last_working_day_of_the_settling_window() -> None:
    calendar = WorkCalendar()
    # Tuesday 1 – Monday 7 December are the five working days after November; 17:30 in Guangzhou.
    assert cutoff(*NOVEMBER, calendar, 5) == datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert cutoff(*NOVEMBER, calendar, 1) == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert cutoff(*NOVEMBER, calendar, 0) == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # local midnight


def obligation(**given: datetime | None) -> Obligation:
    fields = {"responded_at": None, "ended_at": None, "response_due": datetime(2026, 12, 1, 1, tzinfo=UTC)}
    fields.update(given)
    return Obligation(
        call_id="c",
        unit="LW-LN",
        level=Level.STREET,
        grid_code="g",
        round=1,
        arrived_by=Arrival.ESCALATION,
        arrived_at=datetime(2026, 11, 30, 8, tzinfo=UTC),
        outcome=None,
        resolution_due=None,
        is_open=fields["ended_at"] is None,
        ref="stint2",
        **fields,  # type: ignore[arg-type]
    )


def test_what_happened_after_the_cutoff_had_not_happened_yet() -> None:
    at = datetime(2026, 11, 30, 16, tzinfo=UTC)
    answered_in_time_later = obligation(responded_at=datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    assert answered_in_time_later.response(at) is Response.ON_TIME
    assert as_it_stood(answered_in_time_later, at).response(at) is Response.PENDING
    overdue_at_cutoff = obligation(response_due=datetime(2026, 11, 30, 10, tzinfo=UTC))
    assert as_it_stood(overdue_at_cutoff, at).response(at) is Response.LATE
    answered_before = obligation(responded_at=datetime(2026, 11, 30, 9, tzinfo=UTC))
    assert as_it_stood(answered_before, at) == answered_before
    ended_later = obligation(ended_at=datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    assert ended_later.response(at) is Response.ENDED_BEFORE_DUE
    assert as_it_stood(ended_later, at).response(at) is Response.PENDING
