"""Log positions of an aggregate's events (``eventlog.Positions``): one query reads every row of
an aggregate with its position; a position this process stored or read is answered from memory
(an event's position is fixed when it is stored); and what audits the log reads the rows again
every time, so an event moved behind huying's back shows where it now lies."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest

from huying.audit.mapper import PastEvents
from huying.bootstrap import Services
from huying.domain.principal import Principal, Role
from tampering import events_of

from .one_call import resolved_call

AUDITOR = Principal(Role.AUDITOR, "LW")


def counting_reads(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    """Every read of one aggregate's positions the process makes from now on."""
    positions = services.app.positions
    reads: list[UUID] = []
    read: Callable[[UUID], dict[int, int]] = positions.of_call

    def counted(call_id: UUID) -> dict[int, int]:
        reads.append(call_id)
        return read(call_id)

    monkeypatch.setattr(positions, "of_call", counted)
    return reads


def test_every_row_is_read_at_once_with_its_position(services: Services) -> None:
    call_id = resolved_call(services)
    logged = services.app.positions.logged(call_id)
    assert [n.originator_version for n in logged] == [1, 2, 3]
    assert {n.originator_version: n.id for n in logged} == services.app.positions.of_call(call_id)
    decoded = [services.app.mapper.to_domain_event(n) for n in logged]
    assert decoded == list(services.app.events.get(call_id))


def test_positions_this_process_stored_are_answered_without_a_read(
    services: Services, elsewhere: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id = resolved_call(services)
    reads = counting_reads(services, monkeypatch)
    stored = elsewhere.app.positions.of_call(call_id)
    assert [services.app.positions.at(call_id, v) for v in (1, 2, 3)] == [stored[1], stored[2], stored[3]]
    assert reads == []


def test_positions_stored_elsewhere_are_read_once(
    services: Services, elsewhere: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_id = resolved_call(elsewhere)
    reads = counting_reads(services, monkeypatch)
    stored = elsewhere.app.positions.of_call(call_id)
    assert services.app.positions.at(call_id, 3) == stored[3]
    assert services.app.positions.at(call_id, 1) == stored[1]
    assert reads == [call_id]
    with pytest.raises(KeyError):
        services.app.positions.at(call_id, 4)  # not stored: asked of the store, and not there


def test_a_history_reads_the_rows_again_each_time(services: Services) -> None:
    call_id = resolved_call(services)
    before = services.calls.history(AUDITOR, call_id)
    acknowledged = before.events[1][0]
    events = events_of(services.settings)
    moved_to = events.head() + 5
    events.move(acknowledged, moved_to)
    after = services.calls.history(AUDITOR, call_id)
    assert [(p, e.originator_version) for p, e in after.events if e.originator_version == 2] == [
        (moved_to, 2)
    ]


def test_a_history_read_again_hands_back_the_events_it_decoded(services: Services) -> None:
    """Rows read again exactly as they were are not vouched for and decoded anew
    (``PastEvents``); rows that changed are (above, and ``tests/e2e/test_tamper_api.py``)."""
    call_id = resolved_call(services)
    first = services.calls.history(AUDITOR, call_id)
    again = services.calls.history(AUDITOR, call_id)
    assert [p for p, _ in again.events] == [p for p, _ in first.events]
    assert all(e is f for (_, e), (_, f) in zip(again.events, first.events, strict=True))


def test_the_past_remembers_only_the_rows_read_last(services: Services) -> None:
    call_id = resolved_call(services)
    logged = services.app.positions.logged(call_id)
    past = PastEvents(services.app.mapper, size=2)
    first = [past.decoded(n) for n in logged]
    assert len(past) == 2
    assert past.decoded(logged[2]) is first[2]  # among the last two
    assert past.decoded(logged[0]) is not first[0]  # forgotten: decoded again, equal
    assert past.decoded(logged[0]) == first[0]
