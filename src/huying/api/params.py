"""Query parameters shared by the read endpoints."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Query

from huying.domain.errors import InvalidCommand

# A list cursor is a log position: a non-negative 64-bit integer.
Cursor = Annotated[int, Query(ge=0, le=2**63 - 1, description="the `next` cursor of the previous page")]


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
