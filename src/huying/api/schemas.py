"""Wire schemas: the bodies of the HTTP contract. Never domain objects on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from huying.domain.contact import InvalidContact, normalise_phone
from huying.domain.levels import Level
from huying.domain.states import Channel, OrderRole, OrderStatus, Satisfaction, Status, Urgency

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests --------------------------------------------------------------------------


class Location(Body):
    address: Annotated[str, StringConstraints(max_length=500)] | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _pair(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon come together")
        if self.address is None and self.lat is None:
            raise ValueError("give an address, or lat and lon")
        return self


class ReporterIn(Body):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None = None
    phone: str | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            return normalise_phone(v)
        except InvalidContact as e:
            raise ValueError(str(e)) from None


class CallCreate(Body):
    item_code: Code
    grid_code: Code
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    channel: Channel
    urgency: Urgency = Urgency.NORMAL
    occurred_at: AwareDatetime | None = None
    location: Location | None = None
    reporter: ReporterIn | None = None
    attachments: list[Code] = Field(default_factory=list, max_length=20)


class AcknowledgeBody(Body):
    note: OptionalText = None


class ReasonBody(Body):
    reason: Text


class DispatchBody(Body):
    lead_department: Code
    assisting_departments: list[Code] = Field(default_factory=list, max_length=20)
    deadline: AwareDatetime
    instructions: Text


class ResolveBody(Body):
    summary: Text


class EvaluateBody(Body):
    contacted: bool = True
    solved: bool | None = None
    satisfaction: Satisfaction | None = None
    comment: OptionalText = None

    @model_validator(mode="after")
    def _answers(self) -> EvaluateBody:
        if self.contacted and (self.solved is None or self.satisfaction is None):
            raise ValueError("when the reporter was contacted, solved and satisfaction are required")
        if not self.contacted and (self.solved is not None or self.satisfaction is not None):
            raise ValueError("an unreachable reporter (contacted=false) gives no solved/satisfaction")
        return self


class NoteBody(Body):
    note: OptionalText = None


class ProgressBody(Body):
    note: Text


class MergeBody(Body):
    into: UUID
    reason: Text


class SuperviseBody(Body):
    reason: Text
    unit: Code | None = None


class ExtensionBody(Body):
    until: AwareDatetime
    reason: Text


class CompleteBody(Body):
    result: Text


class ClockBody(Body):
    now: AwareDatetime | None = None
    advance_seconds: float | None = Field(default=None, ge=0, le=10 * 365 * 86400)

    @model_validator(mode="after")
    def _one(self) -> ClockBody:
        if (self.now is None) == (self.advance_seconds is None):
            raise ValueError("give exactly one of now, advance_seconds")
        return self


# --- responses -------------------------------------------------------------------------


class Actor(BaseModel):
    role: str
    unit: str


class ExtensionPublic(BaseModel):
    until: datetime
    reason: str
    requested_at: datetime


class WorkOrderPublic(BaseModel):
    id: str
    call_id: str
    department_code: str
    role: OrderRole
    status: OrderStatus
    deadline: datetime
    instructions: str
    extension: ExtensionPublic | None
    result: str | None
    dispatched_at: datetime
    signed_at: datetime | None
    completed_at: datetime | None
    call_version: int | None = None


class EvaluationPublic(BaseModel):
    round: int
    contacted: bool
    solved: bool | None
    satisfaction: Satisfaction | None
    comment: str | None
    at: datetime


class ReporterPublic(BaseModel):
    name: str | None
    phone: str | None


class ChainStep(BaseModel):
    """One stint: a unit holding the call at a level (departments hold work orders instead)."""

    level: Level
    holder: str
    round: int
    at: datetime
    acknowledged_at: datetime | None
    ended_at: datetime | None
    outcome: Literal["escalated", "resolved", "withdrawn", "merged"] | None


class CallPublic(BaseModel):
    id: str
    version: int
    position: int
    item_code: str
    catalog_version: str
    grid_code: str
    community_code: str
    street_code: str
    title: str
    description: str
    channel: Channel
    urgency: Urgency
    level: Level
    holder: str
    status: Status
    round: int
    raised_at: datetime
    occurred_at: datetime | None
    location: dict[str, Any] | None
    attachments: list[str]
    work_orders: list[WorkOrderPublic]
    evaluation: EvaluationPublic | None
    merged_into: str | None
    supervised: int
    deadlines: dict[str, Any]
    reporter: ReporterPublic | None
    chain: list[ChainStep]


class HistoryEntry(BaseModel):
    position: int
    version: int
    type: str
    actor: Actor
    at: datetime
    recorded_at: datetime
    idempotency_key: str | None
    data: dict[str, Any]


class History(BaseModel):
    call_id: str
    data: list[HistoryEntry]


class ClockPublic(BaseModel):
    now: datetime
    fake: Literal[True] = True


# --- read models -----------------------------------------------------------------------


class CallSummary(BaseModel):
    id: str
    seq: int
    position: int
    version: int
    item_code: str
    grid_code: str
    community_code: str
    street_code: str
    level: Level
    holder: str
    status: Status
    round: int
    urgency: Urgency
    channel: Channel
    title: str
    raised_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    supervised: int
    response_due: datetime | None
    resolution_due: datetime | None
    overdue: bool


class CallPage(BaseModel):
    data: list[CallSummary]
    next: int | None
    position: int


class QueueItem(BaseModel):
    id: str
    call_id: str
    department_code: str
    role: OrderRole
    status: OrderStatus
    deadline: datetime
    instructions: str
    dispatched_at: datetime
    signed_at: datetime | None
    completed_at: datetime | None
    extension_until: datetime | None
    result: str | None
    round: int
    cursor: int
    item_code: str
    title: str
    street_code: str
    call_status: Status
    overdue: bool


class QueuePage(BaseModel):
    data: list[QueueItem]
    next: int | None
    position: int


class LedgerSummary(BaseModel):
    unit: str
    open: int
    overdue: int
    by_status: dict[str, int]


class LedgerPage(BaseModel):
    summary: LedgerSummary
    data: list[CallSummary]
    next: int | None
    position: int
