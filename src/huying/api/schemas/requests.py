"""Request bodies of the commands on a call and its work orders."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from huying.api.schemas.base import Attachments, Body, Code, Instant, MediaUrl, OptionalText, Text, no_nul
from huying.api.schemas.meetings import CitedDecision
from huying.domain.contact import InvalidContact, ascii_digits_only, normalise_phone
from huying.domain.states import Channel, Satisfaction, Urgency


class Location(Body):
    address: Annotated[str, StringConstraints(max_length=500), AfterValidator(no_nul)] | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _pair(self) -> Location:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon come together")
        if self.address is None and self.lat is None:
            raise ValueError("give an address, or lat and lon")
        return self


class PersonalData(Body):
    """A part of a request that holds someone's personal data (个人信息). It never enters an event,
    nor the request's fingerprint (``api.deps.fingerprint``): a digest of it, seen beside a
    masked ``138****5678``, would give the number away to anyone trying the hidden digits."""


class ReporterIn(PersonalData):
    # NUL refused as everywhere else; digits only 0-9 (１３８… and ١٣٨… are not the number they
    # look like).
    name: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
            AfterValidator(no_nul),
            AfterValidator(ascii_digits_only),
        ]
        | None
    ) = None
    phone: (
        Annotated[
            str, StringConstraints(max_length=40), AfterValidator(no_nul), AfterValidator(ascii_digits_only)
        ]
        | None
    ) = None

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
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(no_nul)
    ]
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000), AfterValidator(no_nul)
    ]
    channel: Channel
    urgency: Urgency = Urgency.NORMAL
    occurred_at: Instant | None = None
    location: Location | None = None
    reporter: ReporterIn | None = None
    attachments: Attachments = Field(default_factory=list)
    media_url: MediaUrl | None = Field(
        default=None, description="a link to a photo or video of the matter, shown as given (never fetched)"
    )


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
    decision: CitedDecision | None = None  # the joint meeting's 议定事项 that settled the call


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
