"""What a request may say in its query, path and headers, each kind bounded where it is parsed.

Days, periods, instants, positions and versions reach arithmetic behind the endpoints: a day
added, a month's end, a working calendar, a 64-bit column, ``int()``. Each kind has one type
here (bodies share ``schemas.base``), whose shape and range the OpenAPI document declares, so a
value outside it is refused — 422 naming the parameter and what it accepts — before an endpoint
sees it. Shapes are spelled with ``[0-9]``: ``\\d`` and ``str.isdigit()`` also take ``²`` or
``٢``, which ``int()`` or the database then refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from fastapi import Query, Request
from pydantic import AfterValidator, WithJsonSchema

from huying.api.schemas.base import business_year
from huying.domain.errors import InvalidCommand

# A log position is 64 bits in the event log (BIGINT); the read models and the chain keep
# positions in INTEGER columns, 32 bits on PostgreSQL, so a cursor into them stops there.
MAX_POSITION = 2**63 - 1
MAX_ROW_POSITION = 2**31 - 1
MAX_VERSION = 2**31 - 1  # a call's version

_NEXT = "the `next` cursor of the previous page"
Cursor = Annotated[int, Query(ge=0, le=MAX_ROW_POSITION, description=_NEXT)]  # into a read model
LogCursor = Annotated[int, Query(ge=0, le=MAX_POSITION, description=_NEXT)]  # into the event log


@dataclass(frozen=True, eq=False)  # hashed by identity: Annotated metadata must hash
class Shaped(GroupedMetadata):
    """Text that must match ``pattern`` (else "expected …"), declared so in the document."""

    pattern: str
    expected: str
    schema: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[object]:
        shape = re.compile(self.pattern)

        def check(raw: str) -> str:
            if not shape.fullmatch(raw):
                raise ValueError(f"expected {self.expected}")
            return raw

        yield AfterValidator(check)
        yield WithJsonSchema(self.schema or {"type": "string", "pattern": f"^(?:{self.pattern})$"})


def _year_within(what: str) -> AfterValidator:
    """Business time (``schemas.base``), for text whose shape starts with four ASCII digits."""

    def check(raw: str) -> str:
        business_year(int(raw[:4]), what)
        return raw

    return AfterValidator(check)


def _a_date(raw: str) -> str:
    try:
        date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw} is not a date") from None
    return raw


_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_OFFSET_TIME = r"[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
_DATE_SCHEMA = {"type": "string", "format": "date"}

# 考核周期: a month, a quarter or a year.
Period = Annotated[
    str,
    Shaped(r"[0-9]{4}(?:-(?:0[1-9]|1[0-2])|-Q[1-4])?", "YYYY-MM, YYYY-Qn or YYYY, e.g. 2026-11 or 2026-Q4"),
    _year_within("the period"),
]
# A calendar date, kept as text for the parsers that take text (the exports).
DateText = Annotated[
    str, Shaped(_DATE, "a date YYYY-MM-DD", _DATE_SCHEMA), _year_within("the date"), AfterValidator(_a_date)
]
# Business time from or to: a date (a whole Asia/Shanghai day) or an RFC 3339 time with offset.
TimeBound = Annotated[
    str,
    Shaped(
        f"{_DATE}(?:{_OFFSET_TIME})?",
        "YYYY-MM-DD or an RFC 3339 time with offset, e.g. 2026-11-23T09:00:00+08:00",
        {"anyOf": [_DATE_SCHEMA, {"type": "string", "format": "date-time"}]},
    ),
    _year_within("the time"),
]


def _position_within(raw: str) -> str:
    if int(raw.partition(":")[0]) > MAX_POSITION:
        raise ValueError(f"the position must lie between 1 and {MAX_POSITION}")
    return raw


# A checkpoint the caller keeps, POSITION:LINK (防篡改).
GivenCheckpoint = Annotated[
    str,
    Shaped(r"[0-9]{1,19}:[0-9a-f]{64}", "POSITION:LINK, a position and 64 lowercase hex digits"),
    AfterValidator(_position_within),
]


# --- headers --------------------------------------------------------------------------------


def _version_within(tag: str) -> str:
    version = version_of(tag)
    if version is not None and not 1 <= version <= MAX_VERSION:
        raise ValueError(f"the call version must lie between 1 and {MAX_VERSION}")
    return tag


ETag = Annotated[
    str,
    Shaped(
        r'(?:W/)?"[0-9]{1,10}"|[0-9]{1,10}|\*', f'an ETag like "3": a call version from 1 to {MAX_VERSION}'
    ),
    AfterValidator(_version_within),
]
# The IETF draft's sf-string: printable ASCII; no surrounding spaces, which proxies may strip.
IdempotencyKey = Annotated[
    str, Shaped(r"[\x21-\x7e](?:[\x20-\x7e]{0,198}[\x21-\x7e])?", "1 to 200 printable ASCII characters")
]


def version_of(tag: str | None) -> int | None:
    """The call version an ``ETag`` names; None for no If-Match, or ``*`` (RFC 9110: any)."""
    if tag is None or tag == "*":
        return None
    return int(tag.removeprefix("W/").strip('"'))


# --- every parameter ------------------------------------------------------------------------


async def no_nul_in_parameters(request: Request) -> None:
    """PostgreSQL refuses NUL in text: a NUL in any query or path parameter is refused here, as
    in a body (``schemas.base.no_nul``), whichever endpoint it is for. (``async``: it only reads
    the request, and needs no worker thread.)"""
    for name, value in (*request.query_params.multi_items(), *request.path_params.items()):
        if "\x00" in str(value):
            raise InvalidCommand(name, "text must not contain NUL characters")


def enum_list(raw: str | None, allowed: type[StrEnum], field: str) -> tuple[str, ...]:
    """``"signed,dispatched"`` → the values, each checked against the enum (else 422)."""
    if not raw:
        return ()
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [n for n in names if n not in {e.value for e in allowed}]
    if unknown:
        valid = ", ".join(e.value for e in allowed)
        raise InvalidCommand(field, f"unknown {field} {', '.join(unknown)}; valid: {valid}")
    return names


# A window of business time, ``from`` inclusive and ``to`` exclusive (the event feed, search).
From = Annotated[
    TimeBound | None, Query(alias="from", description="business time from (inclusive): RFC 3339, or a date")
]
To = Annotated[
    TimeBound | None, Query(description="business time to (exclusive); a date covers that whole day")
]
