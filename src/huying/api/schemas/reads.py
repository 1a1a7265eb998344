"""Read-model pages: call search, department queues, the ledger (台账)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from huying.domain.levels import Level
from huying.domain.states import Channel, OrderRole, OrderStatus, Status, Urgency


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
    next_due: datetime | None = Field(description="the next deadline still ahead (never a past one)")
    due_soon: bool
    remaining_seconds: float | None = Field(description="time left until next_due")
    overdue_since: datetime | None = Field(description="the earliest deadline missed, while it runs")
    overdue_seconds: float | None = Field(description="how long past overdue_since")
    ever_breached: bool
    clock_time: bool
    item_name: str | None
    grid_name: str | None
    community_name: str | None
    street_name: str | None
    holder_name: str | None
    lat: float | None = None
    lon: float | None = None
    ready_to_resolve: bool = Field(description="the lead order is completed: the street can resolve (办结)")
    pending_extension: bool = Field(
        description="an extension request (申请延期) awaits the street's decision"
    )
    returned_order: bool = Field(description="an order of the latest dispatch was returned (退单)")


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
    next_due: datetime | None = Field(description="the next deadline still ahead (never a past one)")
    due_soon: bool
    remaining_seconds: float | None = Field(description="time left until next_due")
    overdue_since: datetime | None = Field(description="the earliest deadline missed, while it runs")
    overdue_seconds: float | None = Field(description="how long past overdue_since")
    ever_breached: bool
    item_name: str | None
    department_name: str | None
    street_name: str | None


class QueuePage(BaseModel):
    data: list[QueueItem]
    next: int | None
    position: int


class LedgerSummary(BaseModel):
    unit: str
    unit_name: str | None
    open: int
    overdue: int
    by_status: dict[str, int]
    ready_to_resolve: int = Field(description="the lead order is completed: the street can resolve")
    pending_extension: int = Field(description="an extension request awaits the street's decision")
    returned_order: int = Field(description="an order of the latest dispatch was returned (退单)")


class LedgerPage(BaseModel):
    summary: LedgerSummary
    data: list[CallSummary]
    next: int | None
    position: int
