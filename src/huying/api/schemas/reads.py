"""Read-model pages: call search, department queues, the ledger (台账)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

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
