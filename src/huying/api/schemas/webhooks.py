"""Webhook subscriptions on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator

from huying.api.schemas.base import Body, Code, no_nul
from huying.webhooks.signing import key_of

Url = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(no_nul)
]
Kind = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(no_nul)
]
Kinds = Annotated[
    list[Kind],
    Field(
        min_length=1,
        max_length=40,
        description="event kinds (call.escalated, work_order.dispatched, …); call.*, work_order.*, * for all",
    ),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), AfterValidator(no_nul)]


class WebhookCreate(Body):
    url: Url = Field(description="where deliveries are POSTed: http(s), a public address")
    kinds: Kinds
    description: Description = ""
    unit: Code | None = Field(
        default=None, description="admin only: subscribe for this unit (default: your own)"
    )
    secret: str | None = Field(
        default=None, description="a whsec_<base64> signing secret of 24–64 bytes; one is made when left out"
    )

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        if v is not None:
            key_of(v)  # ValueError names what is wrong
        return v


class WebhookChange(Body):
    url: Url | None = None
    kinds: Kinds | None = None
    description: Description | None = None
    status: Literal["active", "paused"] | None = Field(default=None, description="pause, or resume")


class ReplayBody(Body):
    from_position: int = Field(
        ge=0, le=2**63 - 1, description="deliver again every wanted step after this position"
    )


class WebhookPublic(BaseModel):
    id: str
    role: str
    unit: str
    url: str
    kinds: list[str]
    description: str
    status: Literal["active", "paused"]
    paused_reason: str | None
    failures: int = Field(description="failed attempts in a row on the next step")
    next_attempt_at: datetime | None
    position: int = Field(description="the log position delivered up to")
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="the signing secret: shown at creation (and to a retry of it) only")


class WebhookPage(BaseModel):
    data: list[WebhookPublic]
    next: int | None = None


class DeliveryPublic(BaseModel):
    id: int
    position: int
    webhook_id: str
    kind: str
    call_id: str
    attempt: int
    at: datetime
    status_code: int | None
    outcome: Literal["delivered", "failed"]
    error: str | None
    duration_ms: int


class DeliveryPage(BaseModel):
    data: list[DeliveryPublic]
    next: int | None
