"""审计 on the wire: the global event feed and tamper evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from huying.api.schemas.calls import HistoryEntry, UnvouchedEvent


class FeedEntry(HistoryEntry):
    """One event of the global feed: a history entry with the aggregate it belongs to."""

    call_id: str = Field(
        description="the call it belongs to; a directive's or meeting's event (type Directive.*, "
        "Meeting.*): that directive or meeting"
    )


class UnvouchedFeedEntry(UnvouchedEvent):
    call_id: str


class EventPage(BaseModel):
    data: list[FeedEntry]
    next: int | None = Field(description="cursor of the following page; null at the end of the log")
    position: int = Field(description="how far this page looked in the log: resume here when next is null")
    unvouched: list[UnvouchedFeedEntry] = Field(
        default_factory=list,
        description="stored events in this page's range that huying cannot vouch for (not in data)",
    )


class TamperBreak(BaseModel):
    position: int = Field(description="the first log position huying cannot vouch for")
    kind: Literal["forged", "altered", "missing", "reordered", "extra", "truncated", "unreadable"]
    detail: str
    intact_through: int = Field(description="the log is proven intact up to this position")


class AuditVerdict(BaseModel):
    """防篡改 check of the whole log: OK, or the first break and how."""

    model_config = ConfigDict(populate_by_name=True)

    ok: bool
    checked: int = Field(description="stored events checked: seal, place and (when chained) link")
    chained_through: int = Field(description="the hash chain's tracked position")
    log_head: int
    unchained: int = Field(
        description="events newer than the chained head: vouched for by their seals, not yet chained"
    )
    checkpoints_checked: int
    broken: TamperBreak | None = Field(alias="break")
    verified_at: datetime


class CheckpointPublic(BaseModel):
    position: int
    link: str
    at: datetime | None = Field(
        description="when the checkpoint was taken (the head: when it was read) — wall-clock UTC, "
        "never business time"
    )


class CheckpointPage(BaseModel):
    """审计检查点 to keep elsewhere; ``head`` is the chained head now (keep it too)."""

    data: list[CheckpointPublic]
    next: int | None
    head: CheckpointPublic | None
