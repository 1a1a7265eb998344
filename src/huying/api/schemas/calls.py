"""What a call looks like on the wire: the call, its history, its photos, its clocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from huying.domain.levels import Level
from huying.domain.states import Channel, OrderRole, OrderStatus, Satisfaction, Status, Urgency


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
    media_url: str | None = Field(default=None, description="the link to media given with the raise")
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
    # Frozen: one entry is handed to every reader of its event (``present.history_entry``).
    model_config = ConfigDict(frozen=True)

    position: int
    version: int
    type: str
    actor: Actor
    at: datetime
    recorded_at: datetime
    idempotency_key: str | None
    data: dict[str, Any]


class UnvouchedEvent(BaseModel):
    """A stored event huying cannot vouch for (防篡改): where it lies, and how it is flawed."""

    position: int | None = Field(description="its log position; null when the event is gone")
    version: int
    kind: Literal["forged", "altered", "missing", "reordered", "unreadable"]
    detail: str


class History(BaseModel):
    call_id: str
    data: list[HistoryEntry]
    unvouched: list[UnvouchedEvent] = Field(
        default_factory=list,
        description="stored events of this call huying cannot vouch for (not in data); empty normally",
    )


class ClockPublic(BaseModel):
    now: datetime
    fake: Literal[True] = True
