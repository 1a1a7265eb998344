"""A joint meeting's transition table (联席会议), as data through the one gate: who may convene,
table, minute and decide, when, and to what effect. The aggregate consults it before every move,
the API maps its refusals, and the authorisation-matrix tests are generated from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from huying.domain import gate
from huying.domain.jurisdiction import submits_to
from huying.domain.meeting_states import Stage
from huying.domain.org import Org
from huying.domain.principal import Principal, Role


class Party(StrEnum):
    CONVENER = "the convening street or community"
    SUBMITTER = "a street or community that brings matters to this body"
    INVITEE = "an invited unit"


class Action(StrEnum):
    CONVENE = "convene"
    PROPOSE = "propose"
    TABLE_CALL = "table-call"
    RECORD_MINUTES = "minutes"
    DECIDE = "decide"
    CLOSE = "close"
    CANCEL = "cancel"


class MeetingState(Protocol):
    @property
    def convener(self) -> str: ...
    @property
    def invited(self) -> tuple[str, ...]: ...
    @property
    def stage(self) -> Stage: ...


@dataclass(frozen=True)
class Situation:
    """What else the table reads: the time, and the organisation (who is below whom)."""

    now: datetime
    org: Org


Guard = Callable[[MeetingState, Situation], str | None]
Transition = gate.Transition[Action, Party, MeetingState, Situation]

CONVENERS = frozenset({Role.STREET, Role.COMMUNITY})


def parties(principal: Principal, meeting: MeetingState, situation: Situation) -> set[Party]:
    """Which of the table's parties this principal is, for this meeting."""
    found: set[Party] = set()
    if principal.role in CONVENERS and principal.unit == meeting.convener:
        found.add(Party.CONVENER)
    if submits_to(principal, meeting.convener, situation.org):
        found.add(Party.SUBMITTER)
    if principal.unit in meeting.invited and principal.role is not Role.SYSTEM:
        found.add(Party.INVITEE)
    return found


def _stage(*allowed: Stage) -> Guard:
    names = ", ".join(s.value for s in allowed)

    def guard(meeting: MeetingState, _: Situation) -> str | None:
        if meeting.stage in allowed:
            return None
        return f"the meeting is {meeting.stage.value}; this needs it {names}"

    return guard


TABLE = gate.TransitionTable[Action, Party, MeetingState, Situation](
    "meeting",
    parties,
    (
        Transition(
            Action.CONVENE,
            "Convened",
            frozenset({Party.CONVENER}),
            "always (a street convenes its 大工委, a community its 大党委)",
            lambda m, s: None,
            "stage=convened, members invited",
        ),
        Transition(
            Action.PROPOSE,
            "AgendaItemProposed",
            frozenset({Party.CONVENER, Party.INVITEE}),
            "stage=convened",
            _stage(Stage.CONVENED),
            "an agenda item from a proposal",
        ),
        Transition(
            Action.TABLE_CALL,
            "CallTabled",
            frozenset({Party.CONVENER, Party.SUBMITTER}),
            "stage=convened; the call not yet on this agenda",
            _stage(Stage.CONVENED),
            "an agenda item from a call (难题自下而上提交); the call records PutOnAgenda",
        ),
        Transition(
            Action.RECORD_MINUTES,
            "MinutesRecorded",
            frozenset({Party.CONVENER}),
            "stage=convened",
            _stage(Stage.CONVENED),
            "stage=held: attendance and discussion",
        ),
        Transition(
            Action.DECIDE,
            "DecisionRecorded",
            frozenset({Party.CONVENER}),
            "stage=held",
            _stage(Stage.HELD),
            "a decision (议定事项) and its task",
        ),
        Transition(
            Action.CLOSE,
            "Closed",
            frozenset({Party.CONVENER}),
            "stage=held",
            _stage(Stage.HELD),
            "stage=closed: no more decisions",
        ),
        Transition(
            Action.CANCEL,
            "Cancelled",
            frozenset({Party.CONVENER}),
            "stage=convened",
            _stage(Stage.CONVENED),
            "stage=cancelled",
        ),
    ),
)
