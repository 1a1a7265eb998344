"""Building blocks of the wire schemas: text, codes, instants, photo ids, strict bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints


def no_nul(text: str) -> str:
    # PostgreSQL refuses NUL in text and JSON: refuse it at the door on every backend alike.
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


def sane_instant(instant: datetime) -> datetime:
    """RFC 3339 allows year 0001 and 9999 with any offset; business time lies nearer."""
    if not 1970 <= instant.year <= 2200:
        raise ValueError("the time must lie between 1970 and 2200")
    return instant


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(no_nul)
]
OptionalText = (
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(no_nul)] | None
)
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), AfterValidator(no_nul)
]
Instant = Annotated[AwareDatetime, AfterValidator(sane_instant)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# 随手拍: ids from POST /api/v1/attachments, at most 20 photos per call or note.
Attachments = Annotated[
    list[Code], Field(max_length=20, description="attachment ids (POST /api/v1/attachments)")
]
