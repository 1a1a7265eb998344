"""The joint meeting's authorisation matrix, generated from its transition table: every action,
tried by every kind of principal, answers 404 outside the meeting's jurisdiction, 403 when the
table does not name the principal, and otherwise carries the move out. Which parties each
principal *is* is written by hand below, so a wrong ``parties`` function fails here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import pytest
from calls import T0, P
from memory import InMemory

from huying.domain.directive_states import Responsible
from huying.domain.errors import CallNotFound, MeetingNotFound, NotPermitted
from huying.domain.meeting_states import DecisionSpec, MeetingKind
from huying.domain.meeting_transitions import TABLE, Action, Party
from huying.domain.principal import Principal, Role
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission

NOBODY = Submission()
INVITED = ["LW-LN-M01", "LW-LN-01", "CG"]

# Who each principal is for a 岭南 大工委 meeting inviting INVITED; None: it cannot see the meeting.
PARTIES_BY_HAND: dict[str, frozenset[Party] | None] = {
    "street": frozenset({Party.CONVENER, Party.SUBMITTER}),
    "community": frozenset({Party.SUBMITTER, Party.INVITEE}),
    "other community": frozenset({Party.SUBMITTER}),
    "invited member": frozenset({Party.INVITEE}),
    "department": frozenset({Party.INVITEE}),  # CG is invited
    "supervisor": frozenset(),
    "auditor": frozenset(),
    "admin": frozenset(),
    "other street": None,
    "member not invited": None,
    "other department": None,
    "grid worker": None,
}
WHO: dict[str, Principal] = {
    **P,
    "invited member": Principal(Role.MEMBER, "LW-LN-M01"),
    "member not invited": Principal(Role.MEMBER, "LW-LN-M02"),
}
# A call is tabled by its holder only (the call's own table): here the community holds it.
TABLE_CALL_BY_THE_CALLS_TABLE: dict[str, type[Exception] | None] = {
    "street": NotPermitted,  # sees the call, does not hold it
    "community": None,
    "other community": CallNotFound,  # not its call
}


def _move(huying: InMemory, action: Action, meeting_id: UUID, call_id: UUID) -> Callable[[Principal], object]:
    m = huying.meetings
    spec = DecisionSpec("议定事项", "CG", (), Responsible("李明", "副书记"), T0 + timedelta(days=9))
    moves: dict[Action, Callable[[Principal], object]] = {
        Action.PROPOSE: lambda p: m.propose(p, meeting_id, NOBODY, "议题", None),
        Action.TABLE_CALL: lambda p: m.table_call(p, meeting_id, NOBODY, call_id),
        Action.RECORD_MINUTES: lambda p: m.record_minutes(p, meeting_id, NOBODY, ["LW-LN"], "讨论"),
        Action.DECIDE: lambda p: m.decide(p, meeting_id, NOBODY, spec),
        Action.CLOSE: lambda p: m.close(p, meeting_id, NOBODY, None),
        Action.CANCEL: lambda p: m.cancel(p, meeting_id, NOBODY, "改期"),
    }
    return moves[action]


def _world(action: Action) -> tuple[InMemory, UUID, UUID]:
    huying = InMemory()
    meeting = huying.meetings.convene(
        P["street"],
        NOBODY,
        kind=MeetingKind.WORKING_COMMITTEE,
        title="大工委",
        scheduled_for=T0,
        invited=INVITED,
    ).aggregate
    draft = CallDraft("C01-01", "LW-LN-01-G01", "难题", "说明", "grid_worker")
    call = huying.calls.raise_call(P["grid worker"], draft, NOBODY).call
    if action in (Action.DECIDE, Action.CLOSE):
        huying.meetings.record_minutes(P["street"], meeting.id, NOBODY, ["LW-LN"], "讨论")
    return huying, meeting.id, call.id


def _expected(name: str, action: Action) -> type[Exception] | None:
    parties = PARTIES_BY_HAND[name]
    if parties is None:
        return MeetingNotFound
    if not TABLE[action].who & parties:
        return NotPermitted
    if action is Action.TABLE_CALL:
        return TABLE_CALL_BY_THE_CALLS_TABLE[name]
    return None


CASES = [(name, action) for action in TABLE if action is not Action.CONVENE for name in PARTIES_BY_HAND]


@pytest.mark.parametrize(("name", "action"), CASES, ids=[f"{a}-{n}" for n, a in CASES])
def test_each_principal_gets_what_the_meeting_table_says(name: str, action: Action) -> None:
    huying, meeting_id, call_id = _world(action)
    head = huying.head
    expected = _expected(name, action)
    move = _move(huying, action, meeting_id, call_id)
    if expected is None:
        move(WHO[name])
        assert huying.head > head
        return
    with pytest.raises(expected):
        move(WHO[name])
    assert huying.head == head  # a refusal writes nothing


@pytest.mark.parametrize("name", sorted(WHO))
def test_only_a_street_or_community_convenes(name: str) -> None:
    huying = InMemory()
    who = WHO[name]
    kind = MeetingKind.PARTY_COMMITTEE if who.role is Role.COMMUNITY else MeetingKind.WORKING_COMMITTEE

    def convene() -> object:
        return huying.meetings.convene(who, NOBODY, kind=kind, title="会", scheduled_for=T0, invited=[])

    if who.role in (Role.STREET, Role.COMMUNITY):
        assert convene() and huying.head == 1
    else:
        with pytest.raises(NotPermitted, match="convene"):
            convene()
