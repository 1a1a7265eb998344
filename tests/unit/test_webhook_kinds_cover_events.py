"""Every event class of every aggregate has a webhook kind, or its aggregate is deliberately
left out of the webhooks and the reader passes its events over.

A call's (directive's, meeting's) event without a kind would stop the webhook reader at it
(a KeyError in the envelope); an aggregate added without a decision here fails the first test.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from memory import InMemory

from aggregates import event_classes, every_aggregate
from huying.domain.aggregate import HuyingAggregate
from huying.domain.call import Call
from huying.domain.catalog_edits import CatalogEdits
from huying.domain.directive import Directive
from huying.domain.meeting import Meeting
from huying.domain.org import UnitKind
from huying.domain.principal import Principal, Role
from huying.domain.publication import Publication
from huying.queries.scores import parse_period
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.service_layer.publications import PublicationService, Scored, publication_path
from huying.webhooks.kinds import KIND_OF_DIRECTIVE_EVENT, KIND_OF_EVENT, KIND_OF_MEETING_EVENT
from huying.webhooks.reader import LogReader

KINDS_OF: dict[type[HuyingAggregate], dict[str, str]] = {
    Call: KIND_OF_EVENT,
    Directive: KIND_OF_DIRECTIVE_EVENT,
    Meeting: KIND_OF_MEETING_EVENT,
}
# A publication is the district's own frozen record of unit scores (docs/publications.md): it
# concerns no call, directive or meeting, and whoever needs it reads it through the API. So are
# the admin's catalog edits: reference data every token reads (GET /api/v1/catalog, its version
# changed), concerning no unit's work until a call is raised under them.
WITHOUT_WEBHOOKS = {Publication, CatalogEdits}


def event_names(aggregate: type[HuyingAggregate]) -> set[str]:
    return {c.__name__ for c in event_classes(aggregate)}


def test_each_aggregate_is_given_kinds_or_left_out_on_purpose() -> None:
    assert every_aggregate() == set(KINDS_OF) | WITHOUT_WEBHOOKS


def test_every_event_class_has_a_kind_and_every_kind_an_event() -> None:
    for aggregate, kinds in KINDS_OF.items():
        assert event_names(aggregate) == set(kinds), aggregate.__name__
    assert event_names(Publication) == {"Published", "Republished"}
    edits = {"Begun", "ItemAdded", "ItemChanged", "ItemRetired", "ItemRestored"}
    assert event_names(CatalogEdits) == edits


def test_the_reader_passes_over_a_publications_events() -> None:
    """Published and Republished in the log between a call's steps: the reader makes envelopes
    for the call's steps only, and reads past the publication's to the head."""
    memory = InMemory()
    supervisor, grid = Principal(Role.SUPERVISOR, "LW"), Principal(Role.GRID_WORKER, "LW-LN-01-G01")
    draft = CallDraft("C01-01", "LW-LN-01-G01", "垃圾堆积", "十三行路口", "grid_worker")
    memory.calls.raise_call(grid, draft, Submission())
    row: dict[str, Any] = {"unit": "LW-LN", "rank": 1, "composite": 0.9}
    cutoff = memory.clock.now() - timedelta(hours=1)
    service = PublicationService(
        publication_path(memory.app), lambda kind, period: Scored(cutoff, [0.3, 0.35, 0.35], 5, [row])
    )
    pid = service.publish(supervisor, Submission(), UnitKind.STREET, parse_period("2026-09")).aggregate.id
    service.republish(supervisor, pid, Submission(), "更正")
    memory.calls.raise_call(grid, draft, Submission())

    envelopes, reached = LogReader(memory.app).read(0, 100)
    assert [e.kind for e in envelopes] == ["call.raised", "call.raised"]
    assert str(pid) not in {e.call_id for e in envelopes} and reached == memory.head == 4
