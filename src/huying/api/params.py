"""Query parameters shared by the read endpoints."""

from __future__ import annotations

from enum import StrEnum

from huying.domain.errors import InvalidCommand


def enum_list(raw: str | None, allowed: type[StrEnum], field: str) -> tuple[str, ...]:
    """``"signed,dispatched"`` → the values, each checked against the enum (else 422)."""
    if not raw:
        return ()
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [n for n in names if n not in {e.value for e in allowed}]
    if unknown:
        raise InvalidCommand(field, f"unknown {field} {', '.join(unknown)}")
    return names
