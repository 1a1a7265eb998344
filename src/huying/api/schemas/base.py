"""Building blocks of the wire schemas: text, codes, instants, days, photo ids, strict bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from huying.domain.business_time import FIRST_DAY, LAST_DAY, business_year

# Query parameters (api/params.py) and bodies share the one rule of business time.
__all__ = ["FIRST_DAY", "LAST_DAY", "business_year"]


def no_nul(text: str) -> str:
    # PostgreSQL refuses NUL in text and JSON: refuse it at the door on every backend alike.
    if "\x00" in text:
        raise ValueError("text must not contain NUL characters")
    return text


def sane_instant(instant: datetime) -> datetime:
    """RFC 3339 allows year 0001 and 9999 with any offset; business time lies nearer."""
    business_year(instant.year, "the time")
    return instant


def business_day(day: date) -> date:
    business_year(day.year, "the date")
    return day


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
Day = Annotated[date, AfterValidator(business_day)]


def web_link(text: str) -> str:
    """An absolute http(s) URL, kept exactly as given (no normalising: it is the reporter's link)."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("give an absolute http:// or https:// URL")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ValueError("a URL has no spaces or control characters")
    return text


# A link to a photo or video of the matter (Open311's media_url): shown, never fetched.
MediaUrl = Annotated[
    str, StringConstraints(max_length=2000), AfterValidator(no_nul), AfterValidator(web_link)
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# 随手拍: ids from POST /api/v1/attachments, at most 20 photos per call or note.
Attachments = Annotated[
    list[Code], Field(max_length=20, description="attachment ids (POST /api/v1/attachments)")
]
