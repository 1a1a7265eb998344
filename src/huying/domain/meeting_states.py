"""A joint meeting's typed state (联席会议): its kind and stage, the agenda, the minutes and the
decisions (议定事项) — small dataclasses the aggregate folds and the read side reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from huying.domain.directive_states import Responsible  # 责任人: one shape for both


class MeetingKind(StrEnum):
    """Which body meets: a street's 大工委 (quarterly), a community's 大党委 (monthly), or another
    joint meeting (经济社大支部, a special session)."""

    WORKING_COMMITTEE = "working_committee"  # 街道大工委
    PARTY_COMMITTEE = "party_committee"  # 社区大党委
    OTHER = "other"


class Stage(StrEnum):
    CONVENED = "convened"  # called; its agenda is open
    HELD = "held"  # minutes recorded; decisions may be recorded
    CLOSED = "closed"  # its record is complete
    CANCELLED = "cancelled"


class Source(StrEnum):
    """Where an agenda item came from: a hard call submitted bottom-up (难题自下而上提交), or
    a member's proposal."""

    CALL = "call"
    PROPOSAL = "proposal"


@dataclass(frozen=True)
class AgendaItem:
    id: str  # "A1", "A2"… in the order tabled
    source: Source
    title: str
    tabled_by: str  # the unit that put it on the agenda
    call_id: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Minutes:
    """会议纪要: who attended, and what was discussed."""

    attended: tuple[str, ...]
    discussion: str
    recorded_at: datetime


@dataclass(frozen=True)
class Decision:
    """议定事项: what was decided, who leads and assists it, who answers for it, by when — and
    the task (a directive) that carries it out."""

    id: str  # "D1", "D2"… in the order decided
    title: str
    lead_unit: str
    assisting_units: tuple[str, ...]
    responsible: Responsible
    deadline: datetime
    task_id: str
    agenda_item: str | None = None
    settles_call: str | None = None
    decided_at: datetime | None = None

    @property
    def units(self) -> tuple[str, ...]:
        return (self.lead_unit, *self.assisting_units)


@dataclass(frozen=True)
class DecisionSpec:
    """What a decision says, before it is recorded. ``settles_call``: the decision settles the
    call on its agenda item, whose holder may then resolve it citing the decision."""

    title: str
    lead_unit: str
    assisting_units: tuple[str, ...]
    responsible: Responsible
    deadline: datetime
    agenda_item: str | None = None
    settles_call: bool = False
