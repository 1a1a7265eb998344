"""Events are forever, for directives and joint meetings too: the log in ``stored_tasks`` (every
event class of both aggregates, and the call's PutOnAgenda and Resolved v2) folds into today's
aggregates with the state the story left, and every answer about it is the one huying gave."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from aggregates import event_topics
from huying.bootstrap import Services
from huying.domain.call import Call
from huying.domain.directive import Directive
from huying.domain.directive_states import Stage
from huying.domain.meeting import Meeting
from huying.projections.tables import DIRECTIVE_TABLES, MEETING_TABLES

from .stored_by_main import (
    Observed,
    answers_as_they_were,
    feed_verify_and_rows_as_they_were,
    observed,
    replay_and_export_agree,
    replayed,
    stored_topics,
)
from .stored_tasks import FIXTURE, aggregates, observe


@pytest.fixture(scope="module")
def today(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Observed, Services]]:
    with replayed(FIXTURE, tmp_path_factory, observe) as found:
        yield found


def test_the_fixture_holds_every_event_class_of_both_aggregates() -> None:
    """A class added since the fixture was written must be added to its story (and the fixture
    written again); a class renamed must keep its stored topic as an alias."""
    stored = stored_topics(FIXTURE)
    wanted = event_topics(Directive) | event_topics(Meeting)
    wanted |= {get_topic(Call.PutOnAgenda), get_topic(Call.Resolved)}
    assert len(wanted) == 20 and wanted <= stored, sorted(wanted - stored)


def test_the_stored_events_fold_into_todays_aggregates(today: tuple[Observed, Services]) -> None:
    services = today[1]
    get = services.app.repository.get
    found = aggregates(services)
    parent, child, cancelled, task = (get(UUID(i)) for i in found["Directive"])
    meeting, called_off = (get(UUID(i)) for i in found["Meeting"])

    assert [(u, t.stage) for u, t in parent.targets.items()] == [
        ("LW-LN", Stage.RECEIVED),
        ("LW-DB", Stage.ISSUED),
    ]
    assert [s.unit for s in parent.supervisions] == ["LW-DB"]
    assert child.parent_id == str(parent.id)
    first, second = child.targets["LW-LN-01"], child.targets["LW-LN-02"]
    assert (first.stage, first.reworks, len(first.reports), len(first.notes)) == (Stage.ACCEPTED, 1, 2, 1)
    assert [e.granted for e in second.extensions] == [True, False]
    assert cancelled.cancelled and cancelled.targets["CG"].stage is Stage.CANCELLED

    assert meeting.stage.value == "closed" and called_off.stage.value == "cancelled"
    assert [a.source.value for a in meeting.agenda] == ["proposal", "call"]
    decision = meeting.decisions[0]
    assert decision.task_id == str(task.id) and task.origin["meeting_id"] == str(meeting.id)
    assert task.targets["CG"].stage is Stage.ACCEPTED and task.responsible.name == "王五"

    call: Call = get(UUID(meeting.agenda[1].call_id))
    assert call.agendas == [str(meeting.id)]
    assert call.settled_by == {"meeting_id": str(meeting.id), "decision_id": decision.id}


def test_every_directive_and_meeting_reads_as_it_did(today: tuple[Observed, Services]) -> None:
    answers_as_they_were(today[0], observed(FIXTURE), ("Directive", "Meeting"))


def test_the_feed_verify_and_rebuilt_read_models_are_as_they_were(today: tuple[Observed, Services]) -> None:
    feed_verify_and_rows_as_they_were(today[0], observed(FIXTURE), today[1])


def test_audit_replay_and_the_export_cover_them(
    today: tuple[Observed, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    """审计回放 rebuilds the directive and meeting read models beside the live ones and finds
    them equal; ``huying export`` writes their events as the feed shows them, filtered by type."""
    types = "Directive.SentBack,Meeting.DecisionRecorded,PutOnAgenda"
    rows = replay_and_export_agree(*today, monkeypatch, types, batch_size=7)
    assert all(rows[t.name] > 0 for t in (*DIRECTIVE_TABLES, *MEETING_TABLES)), rows
