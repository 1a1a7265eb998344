"""联席会议 on the in-memory store: a street's 大工委 meets with its member units, a community puts
its hard call on the agenda (the call's history shows it), the minutes are taken, a decision names
who carries it out — and the call's holder resolves the call citing that decision."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from calls import COMMUNITY, STREET, T0, P
from memory import InMemory

from huying.domain.commands import Command
from huying.domain.directive_states import Responsible
from huying.domain.errors import (
    IdempotencyKeyReused,
    InvalidCommand,
    MeetingNotFound,
    NotPermitted,
    TransitionNotAllowed,
)
from huying.domain.meeting import Meeting
from huying.domain.meeting_states import DecisionSpec, MeetingKind, Source, Stage
from huying.domain.principal import Principal, Role
from huying.domain.states import Status
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission

NOBODY = Submission()
HOSPITAL = Principal(Role.MEMBER, "LW-LN-M01")  # 驻区单位 of 岭南街道's 大工委
ENTERPRISE = Principal(Role.MEMBER, "LW-LN-M02")  # a member not invited below
OTHER_MEMBER = Principal(Role.MEMBER, "LW-DB-M01")  # of another street's 大工委
RESPONSIBLE = Responsible("李明", "岭南街道党工委副书记")


@pytest.fixture
def huying() -> InMemory:
    return InMemory()


def convened(huying: InMemory, **changes: object) -> Meeting:
    args: dict[str, object] = {
        "kind": MeetingKind.WORKING_COMMITTEE,
        "title": "岭南街道大工委2026年第四季度联席会议",
        "scheduled_for": T0 + timedelta(days=3),
        "invited": [HOSPITAL.unit, "LW-LN-01", "CG"],
        **changes,
    }
    return huying.meetings.convene(P["street"], NOBODY, **args).aggregate  # type: ignore[arg-type]


def hard_call(huying: InMemory) -> UUID:
    draft = CallDraft("C01-01", "LW-LN-01-G01", "十三行路口垃圾长期堆积", "清运责任不清", "grid_worker")
    call = huying.calls.raise_call(P["grid worker"], draft, NOBODY).call
    huying.calls.acknowledge(P["community"], call.id, NOBODY, None)
    return call.id


def decision(**changes: object) -> DecisionSpec:
    base: dict[str, object] = {
        "title": "城管牵头、医院配合，两周内清理并设置分类收集点",
        "lead_unit": "CG",
        "assisting_units": (HOSPITAL.unit, COMMUNITY),
        "responsible": RESPONSIBLE,
        "deadline": T0 + timedelta(days=17),
        "agenda_item": "A1",
        "settles_call": True,
        **changes,
    }
    return DecisionSpec(**base)  # type: ignore[arg-type]


def held(huying: InMemory) -> tuple[Meeting, UUID]:
    meeting = convened(huying)
    call_id = hard_call(huying)
    huying.meetings.table_call(P["community"], meeting.id, NOBODY, call_id)
    huying.meetings.propose(HOSPITAL, meeting.id, NOBODY, "院区周边交通疏导", None)
    attended = [STREET, HOSPITAL.unit, "LW-LN-01"]
    huying.meetings.record_minutes(P["street"], meeting.id, NOBODY, attended, "逐项讨论")
    return meeting, call_id


def test_a_community_puts_its_hard_call_on_its_streets_agenda_and_the_calls_history_shows_it(
    huying: InMemory,
) -> None:
    meeting = convened(huying)
    call_id = hard_call(huying)
    tabled = huying.meetings.table_call(P["community"], meeting.id, NOBODY, call_id).aggregate
    [item] = tabled.agenda
    assert (item.id, item.source, item.call_id, item.tabled_by) == (
        "A1",
        Source.CALL,
        str(call_id),
        COMMUNITY,
    )
    events = [type(e).__name__ for _, e in huying.calls.history(P["community"], call_id).events]
    assert events[-1] == "PutOnAgenda"
    assert huying.calls.call_for(P["community"], call_id).agendas == [str(meeting.id)]
    with pytest.raises(TransitionNotAllowed, match="already on meeting"):
        huying.meetings.table_call(P["community"], meeting.id, NOBODY, call_id)


def test_only_the_calls_holder_may_table_it(huying: InMemory) -> None:
    meeting = convened(huying)
    call_id = hard_call(huying)
    with pytest.raises(NotPermitted, match="put-on-agenda"):
        huying.meetings.table_call(P["street"], meeting.id, NOBODY, call_id)  # the community holds it
    assert huying.meetings.meeting_for(P["street"], meeting.id).agenda == []


def test_a_decision_names_who_carries_it_out_and_a_retry_records_it_once(huying: InMemory) -> None:
    meeting, call_id = held(huying)
    key = Submission(key="d-1", fingerprint="body")
    first = huying.meetings.decide(P["street"], meeting.id, key, decision())
    again = huying.meetings.decide(P["street"], meeting.id, key, decision())
    assert again.replayed and again.position == first.position
    [made] = huying.meetings.meeting_for(P["auditor"], meeting.id).decisions
    assert (made.id, made.lead_unit, made.assisting_units) == ("D1", "CG", (HOSPITAL.unit, COMMUNITY))
    assert made.responsible == RESPONSIBLE and made.settles_call == str(call_id)
    task = huying.directives.directive_for(P["street"], UUID(made.task_id))
    assert {u: t.role.value for u, t in task.targets.items()} == {
        "CG": "lead",
        HOSPITAL.unit: "assist",
        COMMUNITY: "assist",
    }
    assert task.origin == {"kind": "meeting-decision", "meeting_id": str(meeting.id), "decision_no": "D1"}
    assert task.responsible == RESPONSIBLE
    assert huying.directives.directive_for(HOSPITAL, task.id).id == task.id  # a member sees its task
    assert len([1 for n in huying.app.recorder.select_notifications(1, 100) if "Directive" in n.topic]) == 1
    with pytest.raises(IdempotencyKeyReused):
        huying.meetings.decide(
            P["street"], meeting.id, Submission(key="d-1", fingerprint="other"), decision()
        )


def test_a_decisions_task_is_carried_out_and_the_calls_holder_resolves_the_call_citing_it(
    huying: InMemory,
) -> None:
    meeting, call_id = held(huying)
    made = huying.meetings.decide(P["street"], meeting.id, NOBODY, decision()).aggregate.decisions[0]
    task = UUID(made.task_id)
    huying.directives.receive(P["department"], task, "CG", NOBODY)
    huying.directives.report_done(P["department"], task, "CG", NOBODY, "已清理，设置分类收集点")
    done = huying.directives.accept(P["street"], task, "CG", NOBODY).aggregate
    assert done.targets["CG"].stage.value == "accepted"
    huying.meetings.decide(P["street"], meeting.id, NOBODY, decision(agenda_item="A2", settles_call=False))
    with pytest.raises(InvalidCommand, match="does not settle call"):
        huying.meetings.resolve_citing(P["community"], call_id, NOBODY, "已清理", meeting.id, "D2")
    with pytest.raises(InvalidCommand, match="no decision D9"):
        huying.meetings.resolve_citing(P["community"], call_id, NOBODY, "已清理", meeting.id, "D9")
    call = huying.meetings.resolve_citing(P["community"], call_id, NOBODY, "已清理", meeting.id, "D1").call
    assert call.status is Status.RESOLVED
    assert call.settled_by == {"meeting_id": str(meeting.id), "decision_id": "D1"}
    _, resolved = huying.calls.history(P["community"], call_id).events[-1]
    assert resolved.decision == call.settled_by


def test_what_a_meeting_will_not_take(huying: InMemory) -> None:
    with pytest.raises(InvalidCommand, match="convened by a street"):
        huying.meetings.convene(
            P["community"],
            NOBODY,
            kind=MeetingKind.WORKING_COMMITTEE,
            title="t",
            scheduled_for=T0,
            invited=[],
        )
    with pytest.raises(InvalidCommand, match="LW-DB-M01"):
        convened(huying, invited=[OTHER_MEMBER.unit])
    meeting, _ = held(huying)
    with pytest.raises(InvalidCommand, match="'LW-DB-01'"):
        huying.meetings.decide(P["street"], meeting.id, NOBODY, decision(lead_unit="LW-DB-01"))
    with pytest.raises(InvalidCommand, match="deadline"):
        huying.meetings.decide(P["street"], meeting.id, NOBODY, decision(deadline=T0))
    with pytest.raises(InvalidCommand, match="only a decision on a call's agenda item settles a call"):
        huying.meetings.decide(P["street"], meeting.id, NOBODY, decision(agenda_item="A2"))
    with pytest.raises(InvalidCommand, match="twice"):
        huying.meetings.decide(P["street"], meeting.id, NOBODY, decision(assisting_units=("CG",)))


def test_minutes_name_only_those_in_the_meeting_and_then_the_agenda_closes(huying: InMemory) -> None:
    meeting = convened(huying)
    with pytest.raises(InvalidCommand, match="LW-LN-M02 was not invited"):
        huying.meetings.record_minutes(P["street"], meeting.id, NOBODY, [ENTERPRISE.unit], "…")
    with pytest.raises(TransitionNotAllowed, match="the meeting is convened; this needs it held"):
        huying.meetings.decide(
            P["street"], meeting.id, NOBODY, decision(agenda_item=None, settles_call=False)
        )
    huying.meetings.record_minutes(P["street"], meeting.id, NOBODY, [STREET], "…")
    with pytest.raises(TransitionNotAllowed, match="propose: the meeting is held"):
        huying.meetings.propose(HOSPITAL, meeting.id, NOBODY, "迟到的议题", None)
    huying.meetings.close(P["street"], meeting.id, NOBODY, None)
    assert huying.meetings.meeting_for(P["street"], meeting.id).stage is Stage.CLOSED


def test_a_member_unit_sees_only_the_meetings_it_is_invited_to(huying: InMemory) -> None:
    meeting = convened(huying)
    assert huying.meetings.meeting_for(HOSPITAL, meeting.id).id == meeting.id
    # 岭南's communities bring matters to its 大工委, so they see its meetings; no one else below does
    assert huying.meetings.meeting_for(Principal(Role.COMMUNITY, "LW-LN-03"), meeting.id).id == meeting.id
    outsiders = (
        ENTERPRISE,
        OTHER_MEMBER,
        P["other street"],
        Principal(Role.COMMUNITY, "LW-DB-01"),
        P["grid worker"],
    )
    for outsider in outsiders:
        with pytest.raises(MeetingNotFound):
            huying.meetings.meeting_for(outsider, meeting.id)


def test_a_keyed_convening_is_one_meeting(huying: InMemory) -> None:
    key = Submission(key="m-1", fingerprint="b")
    args: dict[str, object] = {
        "kind": MeetingKind.PARTY_COMMITTEE,
        "title": "十三行社区大党委十一月联席会议",
        "scheduled_for": T0,
        "invited": ["LW-LN-01-M02"],
    }
    first = huying.meetings.convene(P["community"], key, **args)  # type: ignore[arg-type]
    again = huying.meetings.convene(P["community"], key, **args)  # type: ignore[arg-type]
    assert again.replayed and again.aggregate.id == first.aggregate.id and huying.head == 1


def test_every_call_event_a_meeting_makes_has_a_webhook_kind_and_a_feed_type(huying: InMemory) -> None:
    from eventsourcing.persistence import Notification

    from huying.audit.feed import EVENT_TYPES
    from huying.webhooks.kinds import Before, envelope

    meeting = convened(huying)
    call_id = hard_call(huying)
    before = huying.calls.call_for(P["community"], call_id)
    huying.meetings.table_call(P["community"], meeting.id, NOBODY, call_id)
    position, event = huying.calls.history(P["community"], call_id).events[-1]
    n = Notification(id=position, originator_id=call_id, originator_version=3, topic="", state=b"")
    after = huying.calls.call_for(P["community"], call_id)
    sent = envelope(n, event, Before.of(before), after)
    assert sent.kind == "call.put_on_agenda" and b'"meeting_id"' in sent.body
    assert {"PutOnAgenda", "Meeting.Convened", "Meeting.DecisionRecorded"} <= set(EVENT_TYPES)


def test_a_decision_whose_task_was_not_issued_gets_it_on_the_retry(huying: InMemory) -> None:
    meeting, _ = held(huying)
    key, spec, street = Submission(key="d-9", fingerprint="b"), decision(), P["street"]

    # The process stopped after the decision was stored and before its task was issued.
    def decide_only(m: Meeting, cmd: Command) -> None:
        m.decide(cmd, huying.app.org, spec, lambda d: huying.meetings.task_id_for(street, m.id, d))

    recorded = huying.meetings.path.act(street, meeting.id, key, "decide", decide_only)
    task_id = UUID(recorded.aggregate.decisions[0].task_id)
    assert huying.directives.path.current(task_id) is None
    again = huying.meetings.decide(street, meeting.id, key, spec)
    assert again.replayed and huying.directives.directive_for(street, task_id).targets["CG"]


def test_a_tabled_call_repeated_after_the_minutes_is_answered_as_before(huying: InMemory) -> None:
    meeting = convened(huying)
    call_id = hard_call(huying)
    key = Submission(key="t-1", fingerprint="b")
    first = huying.meetings.table_call(P["community"], meeting.id, key, call_id)
    huying.meetings.record_minutes(P["street"], meeting.id, NOBODY, [STREET], "…")
    again = huying.meetings.table_call(P["community"], meeting.id, key, call_id)
    assert again.replayed and again.position == first.position and again.aggregate.stage is Stage.CONVENED
