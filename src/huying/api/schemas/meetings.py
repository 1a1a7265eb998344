"""Wire shapes of joint meetings (联席会议): what a client sends, and what it is shown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from huying.api.schemas.base import Body, Code, Instant, OptionalText, Text
from huying.api.schemas.calls import HistoryEntry, UnvouchedEvent
from huying.domain.meeting_states import MeetingKind, Source, Stage

Title = Annotated[str, Field(min_length=1, max_length=200)]
Units = Annotated[list[Code], Field(max_length=100)]


class MeetingCreate(Body):
    kind: MeetingKind
    title: Title
    scheduled_for: Instant
    invited: Units = Field(default_factory=list)


class ProposalBody(Body):
    title: Title
    note: OptionalText = None


class TableCallBody(Body):
    call_id: UUID


class MinutesBody(Body):
    attended: Units
    discussion: Text


class ResponsibleBody(Body):
    """责任人: an official in office — name and post, not a resident's personal data."""

    name: Annotated[str, Field(min_length=1, max_length=50)]
    post: Annotated[str, Field(min_length=1, max_length=100)]


class DecisionBody(Body):
    title: Title
    lead_unit: Code
    assisting_units: Annotated[list[Code], Field(max_length=20)] = Field(default_factory=list)
    responsible: ResponsibleBody
    deadline: Instant
    agenda_item: Code | None = None
    settles_call: bool = False


class CitedDecision(Body):
    """The joint meeting's decision (议定事项) that settled a call."""

    meeting_id: UUID
    decision_id: Code


class AgendaItemPublic(BaseModel):
    id: str
    source: Source
    title: str
    tabled_by: str
    call_id: str | None
    note: str | None


class MinutesPublic(BaseModel):
    attended: list[str]
    absent: list[str]
    discussion: str
    recorded_at: datetime


class ResponsiblePublic(BaseModel):
    name: str
    post: str


class DecisionPublic(BaseModel):
    id: str
    title: str
    lead_unit: str
    assisting_units: list[str]
    responsible: ResponsiblePublic
    deadline: datetime
    agenda_item: str | None
    settles_call: str | None
    task_id: str
    decided_at: datetime | None


class MeetingPublic(BaseModel):
    id: str
    version: int
    position: int
    convener: str
    kind: MeetingKind
    title: str
    scheduled_for: datetime
    invited: list[str]
    stage: Stage
    agenda: list[AgendaItemPublic]
    minutes: MinutesPublic | None
    decisions: list[DecisionPublic]


class MeetingHistory(BaseModel):
    meeting_id: str
    data: list[HistoryEntry]
    unvouched: list[UnvouchedEvent] = Field(default_factory=list)


class MeetingSummary(BaseModel):
    """A meeting as the read model lists it (``GET /api/v1/meetings``)."""

    id: str
    seq: int
    position: int
    convener: str
    kind: MeetingKind
    title: str
    scheduled_for: datetime
    stage: Stage
    invited: list[str]
    agenda_items: int
    calls_tabled: int
    decisions: int
    convening: bool = Field(description="the unit asked about convened it")
    attended: bool | None = Field(description="whether the unit attended; null until the minutes")


class MeetingPage(BaseModel):
    data: list[MeetingSummary]
    next: int | None
    position: int


class DecisionStanding(BaseModel):
    """A decision (议定事项) as the read model lists it, with how far its task has come."""

    meeting_id: str
    decision_id: str
    convener: str
    title: str
    lead_unit: str
    assisting_units: list[str]
    responsible: ResponsiblePublic
    deadline: datetime
    decided_at: datetime
    task_id: str
    settles_call: str | None
    done: bool = Field(description="every target of its task accepted (验收), the task not cancelled")
    done_at: datetime | None
    done_on_time: bool
    due: bool = Field(description="its deadline has passed, or it is done")


class Completion(BaseModel):
    """议定事项落实率 (docs/metrics.md §9)."""

    decisions: int
    due: int
    done: int
    done_on_time: int
    overdue: int
    rate: float | None = Field(description="done on time / due; null when none is due")


class DecisionsPage(BaseModel):
    unit: str
    figures: Completion
    data: list[DecisionStanding]
    position: int
