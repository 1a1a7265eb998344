"""A published 考评 on the in-memory log: the gate, one publication per period and kind, a
re-publication's reason and diff, and who may see it. The figures come from a scorer standing
in for the read side (the integration tests use the real one, on both backends)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from memory import InMemory

from huying.audit.seal import stored_id
from huying.domain.errors import NotPermitted, PublicationNotFound, TransitionNotAllowed
from huying.domain.org import UnitKind
from huying.domain.principal import Principal, Role
from huying.domain.publication import Publication
from huying.queries.scores import Period, parse_period
from huying.service_layer.command_path import Submission
from huying.service_layer.publications import PublicationService, Scored, publication_path

SUPERVISOR = Principal(Role.SUPERVISOR, "LW")
NOVEMBER = parse_period("2026-11")


def row(unit: str, rank: int | None, composite: float) -> dict[str, Any]:
    return {"unit": unit, "rank": rank, "composite": composite, "response_rate": 1.0}


class Board:
    """What the read side says now: the figures a test sets, and a cutoff an hour ago."""

    def __init__(self, world: InMemory) -> None:
        self.world = world
        self.figures = [row("LW-LN", 1, 0.9), row("LW-HL", 2, 0.8)]
        self.settles_at = world.clock.now() - timedelta(hours=1)

    def __call__(self, kind: UnitKind, period: Period) -> Scored:
        return Scored(self.settles_at, [0.3, 0.35, 0.35], 5, [dict(r) for r in self.figures])


@pytest.fixture
def world() -> tuple[PublicationService, Board]:
    memory = InMemory()
    board = Board(memory)
    return PublicationService(publication_path(memory.app), board), board


def test_published_once_then_only_republished_with_the_diff(world: tuple[PublicationService, Board]) -> None:
    service, board = world
    first = service.publish(SUPERVISOR, Submission(key="k", fingerprint="f"), UnitKind.STREET, NOVEMBER)
    pid = first.aggregate.id
    again = service.publish(SUPERVISOR, Submission(key="k", fingerprint="f"), UnitKind.STREET, NOVEMBER)
    assert again.replayed and again.aggregate.id == pid
    with pytest.raises(TransitionNotAllowed, match="published already"):
        service.publish(SUPERVISOR, Submission(), UnitKind.STREET, NOVEMBER)
    with pytest.raises(NotPermitted):  # who asks comes first
        service.publish(Principal(Role.STREET, "LW-LN"), Submission(), UnitKind.STREET, NOVEMBER)
    board.figures = [row("LW-LN", 2, 0.7), row("LW-HL", 1, 0.8)]
    second = service.republish(SUPERVISOR, pid, Submission(), "数据更正")
    latest = second.aggregate.latest
    assert (latest.version, latest.replaces, latest.reason) == (2, 1, "数据更正")
    assert latest.changes == [
        {"unit": "LW-LN", "rank": [1, 2], "composite": [0.9, 0.7]},
        {"unit": "LW-HL", "rank": [2, 1]},
    ]
    assert second.aggregate.editions[0].figures == [row("LW-LN", 1, 0.9), row("LW-HL", 2, 0.8)]


def test_the_gate_refuses_other_roles_and_unsettled_periods(world: tuple[PublicationService, Board]) -> None:
    service, board = world
    with pytest.raises(NotPermitted):
        service.publish(Principal(Role.AUDITOR, "LW"), Submission(), UnitKind.STREET, NOVEMBER)
    board.settles_at = board.world.clock.now() + timedelta(minutes=1)
    with pytest.raises(TransitionNotAllowed, match="not settled until"):
        service.publish(SUPERVISOR, Submission(), UnitKind.STREET, NOVEMBER)


def test_a_publication_exists_for_those_who_may_read_one_of_its_rows(
    world: tuple[PublicationService, Board],
) -> None:
    service, _ = world
    pid = service.publish(SUPERVISOR, Submission(), UnitKind.STREET, NOVEMBER).aggregate.id
    street = Principal(Role.STREET, "LW-LN")
    assert service.rows_for(street, service.then(street, pid).latest.figures) == [row("LW-LN", 1, 0.9)]
    for outsider in (Principal(Role.DEPARTMENT, "CG"), Principal(Role.COMMUNITY, "LW-HL-01")):
        with pytest.raises(PublicationNotFound):
            service.then(outsider, pid)
    assert isinstance(service.then(Principal(Role.AUDITOR, "LW"), pid, version=1).latest.at, datetime)


def test_a_publication_stored_before_assessments_were_published_reads_as_it_did(
    world: tuple[PublicationService, Board],
) -> None:
    """Its events were version 1, with no deduction per 督办: the upcaster gives them none."""
    service, _ = world
    pid = service.publish(SUPERVISOR, Submission(), UnitKind.STREET, NOVEMBER).aggregate.id
    mapper = service.path.log.mapper
    stored = service.path.log.recorder.select_events(pid)[0]
    where = (stored_id(stored.originator_id), stored.originator_version, stored.topic)
    state = mapper.transcoder.decode(mapper.voucher.check(*where, stored.state, None).body)
    assert (state.pop("class_version"), state.pop("supervision_deduction")) == (2, None)
    # Sealed as huying sealed it before the assessment was published.
    v1 = replace(stored, state=mapper.voucher.keys.seal(*where, mapper.transcoder.encode(state)))
    event = mapper.to_domain_event(v1)
    assert isinstance(event, Publication.Published) and event.supervision_deduction is None
    publication = event.mutate(None)
    assert publication is not None and publication.latest.supervision_deduction is None
    assert publication.latest.figures == service.then(SUPERVISOR, pid).latest.figures
