"""Wire shapes of 令行禁止: a directive's create body and action bodies, the directive as it
stands, its board, the pending lists and the figures (docs/directives.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from huying.api.schemas.base import Attachments, Body, Code, Instant, OptionalText, Text, no_nul
from huying.api.schemas.calls import HistoryEntry, UnvouchedEvent

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(no_nul)
]
LongText = Annotated[str, StringConstraints(max_length=5000), AfterValidator(no_nul)]


class DirectiveCreate(Body):
    title: Title
    body: LongText = ""
    targets: list[Code] = Field(min_length=1, max_length=100)
    lead: Code | None = None
    deadline: Instant | None = None
    working_days: int | None = Field(default=None, ge=1, le=250)
    receipt_due: Instant | None = None
    evidence: list[Literal["text", "photos"]] = Field(default=["text"], max_length=2)
    parent_id: UUID | None = None


class ReceiveBody(Body):
    """签收 says nothing but that the target has it."""


class ProgressBody(Body):
    note: Text
    attachments: Attachments = Field(default_factory=list)


class ReportBody(Body):
    result: Text
    attachments: Attachments = Field(default_factory=list)


class NoteBody(Body):
    note: OptionalText = None


class ReasonBody(Body):
    reason: Text


class ExtensionBody(Body):
    until: Instant
    reason: Text


class NotePublic(BaseModel):
    text: str
    photos: list[str]
    at: datetime


class ReportPublic(BaseModel):
    result: str
    photos: list[str]
    at: datetime


class ExtensionPublic(BaseModel):
    until: datetime
    reason: str
    requested_at: datetime
    granted: bool | None
    decided_at: datetime | None


class SupervisionPublic(BaseModel):
    unit: str
    reason: str
    at: datetime
    clock: str | None


class TargetPublic(BaseModel):
    unit: str
    role: Literal["lead", "assist"]
    stage: Literal["issued", "received", "reported", "rework", "accepted", "cancelled"]
    receipt_due: datetime
    due: datetime
    received_at: datetime | None
    reported_at: datetime | None
    accepted_at: datetime | None
    cancelled_at: datetime | None
    reworks: int
    receipt_overdue: bool
    completion_overdue: bool
    notes: list[NotePublic]
    reports: list[ReportPublic]
    extensions: list[ExtensionPublic]


class Responsible(BaseModel):
    name: str
    post: str


class DirectivePublic(BaseModel):
    id: str
    version: int
    position: int
    issuer: str
    title: str
    body: str
    deadline: datetime
    evidence: list[str]
    parent_id: str | None
    origin: dict[str, str] | None
    responsible: Responsible | None
    issued_at: datetime
    cancelled: bool
    cancel_reason: str | None
    targets: list[TargetPublic]
    supervisions: list[SupervisionPublic]


class DirectiveSummary(BaseModel):
    id: str
    seq: int
    version: int
    issuer: str
    title: str
    parent_id: str | None
    origin_kind: str | None
    issued_at: datetime
    deadline: datetime
    cancelled: bool
    targets: int
    accepted: int
    supervised: int


class DirectivePage(BaseModel):
    data: list[DirectiveSummary]
    next: int | None
    position: int


class TargetRow(BaseModel):
    """A target as the read model has it, with its lateness as of now."""

    directive_id: str
    unit: str
    issuer: str
    role: str
    stage: str
    receipt_due: datetime
    due: datetime
    received_at: datetime | None
    reported_at: datetime | None
    accepted_at: datetime | None
    reworks: int
    reports: int
    notes: int
    result: str | None
    photos: list[str]
    extension_pending: bool
    supervised: int
    receipt_overdue: bool
    completion_overdue: bool
    updated_position: int


class Standing(BaseModel):
    by_stage: dict[str, int]
    overdue: int


class Breakdown(DirectiveSummary):
    standing: Standing


class Board(BaseModel):
    directive: DirectiveSummary
    targets: list[TargetRow]
    standing: Standing
    children: list[Breakdown]
    position: int


class PendingItem(TargetRow):
    title: str


class PendingPage(BaseModel):
    data: list[PendingItem]
    next: int | None
    position: int


class UnitFigures(BaseModel):
    unit: str
    targets: int
    receipt_judged: int
    received_on_time: int
    on_time_receipt_rate: float | None
    completion_judged: int
    completed_on_time: int
    on_time_completion_rate: float | None
    accepted: int
    accepted_first_time: int
    first_time_acceptance_rate: float | None
    supervised: int


class FiguresPage(BaseModel):
    data: list[UnitFigures]
    position: int


class DirectiveHistory(BaseModel):
    directive_id: str
    data: list[HistoryEntry]
    unvouched: list[UnvouchedEvent] = Field(default_factory=list)
