"""Form fields → the API's request bodies: blank fields are left out, and a body model's
refusal is shown beside the field it names."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import ValidationError

from huying.web.labels import BEIJING


def text(values: Mapping[str, str], name: str) -> str | None:
    """A field's text, or None when it was left blank."""
    value = values.get(name, "").strip()
    return value or None


def instant(value: str | None) -> str | None:
    """A ``datetime-local`` field (no offset: the person typed Beijing time) as RFC 3339."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the body model names the field and what it accepts
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)).isoformat()


def field_errors(error: ValidationError) -> dict[str, str]:
    """Each refused field (dotted, as the API's 422 names it) and why."""
    found: dict[str, str] = {}
    for e in error.errors():
        field = ".".join(str(part) for part in e["loc"]) or "form"
        found.setdefault(field, e["msg"].removeprefix("Value error, "))
    return found
