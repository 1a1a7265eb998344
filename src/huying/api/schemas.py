"""Wire schemas: the bodies of the HTTP contract. Never domain objects on the wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from huying.domain.contact import InvalidContact, normalise_phone
from huying.domain.levels import Level
from huying.domain.states import Channel, OrderRole, OrderStatus, Satisfaction, Status, Urgency


def _no_nul(text: str) -> str:
    # PostgreSQL refuses NUL in text and JSON: refuse it at the door on every backend alike.
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


def _sane_instant(instant: datetime) -> datetime:
    """RFC 3339 allows year 0001 and 9999 with any offset; business time lies nearer."""
    if not 1970 <= instant.year <= 2200:
        raise ValueError("the time must lie between 1970 and 2200")
    return instant


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_no_nul)
]
OptionalText = (
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_no_nul)] | None
)
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(_no_nul)
]
Instant = Annotated[AwareDatetime, AfterValidator(_sane_instant)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# 随手拍: ids from POST /api/v1/attachments, at most 20 photos per call or note.
Attachments = Annotated[
    list[Code], Field(max_length=20, description="attachment ids (POST /api/v1/attachments)")
]


# --- requests --------------------------------------------------------------------------


class Location(Body):
    address: Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)] | None = None
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
    title: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)
    ]
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), AfterValidator(_no_nul)
    ]
    channel: Channel
    urgency: Urgency = Urgency.NORMAL
    occurred_at: Instant | None = None
    location: Location | None = None
    reporter: ReporterIn | None = None
    attachments: Attachments = Field(default_factory=list)


class AcknowledgeBody(Body):
    note: OptionalText = None


class ReasonBody(Body):
    reason: Text


class DispatchBody(Body):
    lead_department: Code
    assisting_departments: list[Code] = Field(default_factory=list, max_length=20)
    deadline: Instant | None = None  # default: the item's department SLA (限期办理)
    instructions: Text


class ResolveBody(Body):
    summary: Text


class EvaluateBody(Body):
    contacted: bool = True
    solved: bool | None = Field(default=None, validate_default=True)
    satisfaction: Satisfaction | None = Field(default=None, validate_default=True)
    comment: OptionalText = None

    @field_validator("solved", "satisfaction")
    @classmethod
    def _asked_only_when_contacted(cls, value: Any, info: ValidationInfo) -> Any:
        # Checked per field, so a 422 names the field that is missing or out of place.
        contacted = info.data.get("contacted", True)
        if contacted and value is None:
            raise ValueError("required when the reporter was contacted")
        if not contacted and value is not None:
            raise ValueError("not asked when the reporter was unreachable (contacted=false)")
        return value


class NoteBody(Body):
    note: OptionalText = None


class ProgressBody(Body):
    note: Text
    attachments: Attachments = Field(default_factory=list)


class MergeBody(Body):
    into: UUID
    reason: Text


class SuperviseBody(Body):
    reason: Text
    unit: Code | None = None


class ExtensionBody(Body):
    until: Instant
    reason: Text


class CompleteBody(Body):
    result: Text
    attachments: Attachments = Field(default_factory=list)


class ClockBody(Body):
    now: Instant | None = None
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


class DuplicateHint(BaseModel):
    """A call that may be the same matter (一事一呼): its holder can merge one into the other."""

    id: str
    item_code: str
    grid_code: str
    community_code: str
    title: str
    raised_at: datetime
    same_grid: bool
    distance_m: float | None = Field(description="metres between the two locations, when both have lat/lon")


class PossibleDuplicate(DuplicateHint):
    """A possible duplicate as it stands now."""

    status: Status
    level: Level
    holder: str


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
    attachments: list[str] = Field(
        description="every photo on the call, each once: the raise's, then progress and completion notes'"
    )
    work_orders: list[WorkOrderPublic]
    evaluation: EvaluationPublic | None
    merged_into: str | None
    supervised: int
    deadlines: dict[str, Any]
    reporter: ReporterPublic | None
    chain: list[ChainStep]
    possible_duplicates: list[DuplicateHint] = Field(
        description="重复提示, as of the raise: open calls of the same item in the same grid or nearby, "
        "raised in the days before it, that you can see — merge if it is the same matter. "
        "GET /api/v1/calls/{id}/possible-duplicates asks again now."
    )


class DuplicatePage(BaseModel):
    """Open calls now that may be the same matter, best first (same grid, then nearest)."""

    data: list[PossibleDuplicate]
    next: int | None = None
    position: int


class AttachmentPublic(BaseModel):
    """A stored photo: its pixels only (EXIF, GPS and camera metadata stripped), content-addressed."""

    id: str
    sha256: str = Field(description="of the stored bytes")
    content_type: Literal["image/jpeg", "image/png", "image/webp", "image/heic"]
    size: int
    width: int
    height: int


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
    next_due: datetime | None
    due_soon: bool
    remaining_seconds: float | None
    ever_breached: bool
    clock_time: bool
    lat: float | None = None
    lon: float | None = None


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
    sign_due: datetime | None
    next_due: datetime | None
    due_soon: bool
    remaining_seconds: float | None
    ever_breached: bool


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


# --- SLA dashboard and 一呼一评 scores (definitions: docs/metrics.md) ---------------------------


class Percentiles(BaseModel):
    """Nearest-rank percentiles in seconds over ``n`` values (null when n is 0)."""

    n: int
    p50: float | None
    p90: float | None


class SlaFigures(BaseModel):
    """What the obligations that arrived in a period came to, as they stand now."""

    received: int
    reopened: int
    acknowledged: int
    acknowledged_on_time: int
    response_due_known: int
    resolved: int
    resolved_on_time: int
    resolution_due_known: int
    open_now: int
    overdue_now: int
    escalations_caused: int
    returned: int
    ended_otherwise: int
    response_seconds: Percentiles
    resolution_seconds: Percentiles


class SlaBucket(SlaFigures):
    period: str
    start: date
    end: date


class SlaBacklog(BaseModel):
    """Open, overdue and due soon now, whenever they arrived."""

    open: int
    overdue: int
    due_soon: int = Field(description="open, not overdue, and 80% or more of a running clock used")


class SlaSeries(BaseModel):
    unit: str
    unit_kind: str
    level: Level
    totals: SlaFigures
    buckets: list[SlaBucket]
    backlog: SlaBacklog


class SlaDashboard(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    unit: str
    unit_kind: str
    from_: date = Field(alias="from")
    to: date
    granularity: Literal["day", "week", "month"]
    timezone: str
    now: datetime
    series: list[SlaSeries]
    children: list[SlaSeries]
    position: int


class ScoreCounts(BaseModel):
    """Every numerator and denominator behind a unit's rates."""

    received: int
    response_owed: int
    responded_on_time: int
    responses: dict[str, int]
    returned: int | None
    evaluated_rounds: int
    contacted: int
    not_contacted: int
    solved: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    reopened_rounds: int


class UnitScore(BaseModel):
    unit: str
    name: str
    kind: Literal["street", "department"]
    rank: int | None
    composite: float | None
    response_rate: float | None
    solve_rate: float | None
    satisfaction_rate: float | None
    return_rate: float | None
    reopen_rate: float | None
    supervised: int
    evaluated_calls: int
    counts: ScoreCounts


class ScoreWeights(BaseModel):
    response: float
    solve: float
    satisfaction: float


class UnitScores(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["street", "department"]
    period: str
    from_: date = Field(alias="from")
    to: date
    timezone: str
    now: datetime
    weights: ScoreWeights
    min_evaluated_for_rank: int
    data: list[UnitScore]
    next: int | None = None
    position: int


class ObligationScore(BaseModel):
    """One unit's part in a round: a stint (community, street) or a work order (department)."""

    level: Level
    unit: str
    order_id: str | None
    role: OrderRole | None
    arrived_by: Literal["raise", "escalation", "reopen", "dispatch"]
    arrived_at: datetime
    responded_at: datetime | None
    response_due: datetime | None
    response: Literal["on_time", "late", "untimed", "pending", "ended_before_due", "not_owed"]
    responded_on_time: bool
    ended_at: datetime | None
    outcome: str | None
    resolution_due: datetime | None
    resolved_on_time: bool


class RoundScore(BaseModel):
    round: int
    obligations: list[ObligationScore]
    evaluated: bool
    evaluated_at: datetime | None
    contacted: bool | None
    solved: bool | None
    satisfaction: Satisfaction | None
    reopened: bool
    resolved_level: Level | None
    street_code: str | None
    lead_department: str | None


class CallScore(BaseModel):
    call_id: str
    status: Status
    round: int
    community_code: str
    street_code: str
    result_round: int | None
    rounds: list[RoundScore]
    position: int


# --- 审计: the event feed and tamper evidence -------------------------------------------


class FeedEntry(HistoryEntry):
    """One event of the global feed: a history entry with the call it belongs to."""

    call_id: str


class EventPage(BaseModel):
    data: list[FeedEntry]
    next: int | None = Field(description="cursor of the following page; null at the end of the log")
    position: int = Field(description="how far this page looked in the log: resume here when next is null")


class TamperBreak(BaseModel):
    position: int = Field(description="the first log position where the record stops matching its chain")
    kind: Literal["altered", "missing", "reordered", "extra", "truncated"]
    detail: str
    intact_through: int = Field(description="the log is proven intact up to this position")


class AuditVerdict(BaseModel):
    """防篡改 check of the whole log: OK, or the first break and how."""

    model_config = ConfigDict(populate_by_name=True)

    ok: bool
    checked: int = Field(description="stored events whose links were recomputed")
    chained_through: int = Field(description="the hash chain's tracked position")
    log_head: int
    unchained: int = Field(description="events newer than the chained head (not yet chained)")
    checkpoints_checked: int
    broken: TamperBreak | None = Field(alias="break")
    verified_at: datetime


class CheckpointPublic(BaseModel):
    position: int
    link: str
    at: datetime | None


class CheckpointPage(BaseModel):
    """审计检查点 to keep elsewhere; ``head`` is the chained head now (keep it too)."""

    data: list[CheckpointPublic]
    next: int | None
    head: CheckpointPublic | None
