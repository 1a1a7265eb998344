"""Events are forever, for the callers' ratings and published 考评 too: the log in
``stored_scores`` (the call's WorkOrderRated and StreetResponseRated, the Publication's Published
and Republished) folds into today's aggregates with the state the story left, and every answer
about them is the one huying gave. And no event class of any aggregate is missing from every
stored fixture."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest

from aggregates import event_topics, every_aggregate
from huying.bootstrap import Services
from huying.domain.call import Call
from huying.domain.org import UnitKind
from huying.domain.publication import Publication
from huying.domain.states import Satisfaction

from . import stored_by_main, stored_catalog, stored_tasks
from .stored_by_main import (
    Observed,
    answers_as_they_were,
    feed_verify_and_rows_as_they_were,
    observed,
    replay_and_export_agree,
    replayed,
    stored_topics,
)
from .stored_scores import FIXTURE, PUBLISHED, observe

FIXTURES = (stored_by_main.FIXTURE, stored_tasks.FIXTURE, FIXTURE, stored_catalog.FIXTURE)


@pytest.fixture(scope="module")
def today(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Observed, Services]]:
    with replayed(FIXTURE, tmp_path_factory, observe) as found:
        yield found


def test_the_fixtures_hold_every_event_class_of_every_aggregate() -> None:
    """A class added since must be added to a fixture's story (and that fixture written again,
    or a new one beside it); a class renamed must keep its stored topic as an alias."""
    stored = set().union(*(stored_topics(f) for f in FIXTURES))
    wanted = set().union(*(event_topics(a) for a in every_aggregate()))
    assert {Call, Publication} <= every_aggregate() and wanted <= stored, sorted(wanted - stored)
    ours = {Call.WorkOrderRated, Call.StreetResponseRated, Publication.Published, Publication.Republished}
    assert {f"{c.__module__}:{c.__qualname__}" for c in ours} <= stored_topics(FIXTURE)


def test_the_stored_events_fold_into_todays_aggregates(today: tuple[Observed, Services]) -> None:
    get = today[1].app.repository.get
    (call_id,) = today[0]["calls"]
    call: Call = get(UUID(call_id))
    (order,) = call.work_orders.values()
    assert order.rating is not None and order.department_code == "CG"
    assert (order.rating.rated_unit, order.rating.satisfaction) == ("CG", Satisfaction.BASICALLY_SATISFIED)
    assert list(call.response_ratings) == [1]
    assert (call.response_ratings[1].rated_unit, call.response_ratings[1].satisfaction) == (
        "LW-LN",
        Satisfaction.DISSATISFIED,
    )

    streets: Publication = get(PUBLISHED[UnitKind.STREET])
    departments: Publication = get(PUBLISHED[UnitKind.DEPARTMENT])
    assert (streets.kind, streets.period, streets.version) == ("street", "2026-11", 2)
    first, second = streets.editions
    assert (second.replaces, second.reason, second.by) == (
        1,
        "复核后重新发布",
        {"role": "supervisor", "unit": "LW"},
    )
    assert first.figures == second.figures and second.changes == []
    assert departments.version == 1 and {r["unit"] for r in departments.editions[0].figures} >= {"CG"}


def test_every_answer_about_them_reads_as_it_did(today: tuple[Observed, Services]) -> None:
    answers_as_they_were(today[0], observed(FIXTURE), ("calls", "publications"))


def test_the_feed_verify_and_rebuilt_read_models_are_as_they_were(today: tuple[Observed, Services]) -> None:
    then = observed(FIXTURE)
    assert then["rows"]["rm_caller_ratings"] and then["rows"]["rm_publications"]
    feed_verify_and_rows_as_they_were(today[0], then, today[1])


def test_audit_replay_and_the_export_cover_them(
    today: tuple[Observed, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    types = "WorkOrderRated,StreetResponseRated,Publication.Published,Publication.Republished"
    rows = replay_and_export_agree(*today, monkeypatch, types, batch_size=5)
    assert (rows["rm_caller_ratings"], rows["rm_publications"]) == (2, 3), rows
