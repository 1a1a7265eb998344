"""Form fields → the API's request bodies: blank fields are left out, repeated fields are lists,
``a.b`` fields fill a nested body, ``datetime-local`` fields are Beijing time; and a body model's
refusal is shown beside the field it names. One mechanism for every page's forms."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from huying.api.deps import RequestIdentity
from huying.web.labels import BEIJING

# Fields sent as a list (a multi-select or checkboxes) and as a time typed in Beijing time.
LISTS = frozenset({"assisting_departments", "assisting_units", "targets", "invited", "attended", "evidence"})
TIMES = frozenset({"deadline", "until", "scheduled_for", "receipt_due"})


def text(values: Mapping[str, str], name: str) -> str | None:
    """A field's text, or None when it was left blank."""
    value = values.get(name, "").strip()
    return value or None


def field(form: FormData, name: str) -> str | None:
    """A posted field's text (None when blank, absent, or a file)."""
    value = form.get(name)
    return text({name: value}, name) if isinstance(value, str) else None


def instant(value: str | None) -> str | None:
    """A ``datetime-local`` field (no offset: the person typed Beijing time) as RFC 3339."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # the body model names the field and what it accepts
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)).isoformat()


def body_fields(form: FormData, model: type[BaseModel], photos: list[str] | None = None) -> dict[str, Any]:
    """The fields of ``model`` the form carries, as the API's JSON body would carry them; the
    uploaded photos' ids as ``attachments``. The model then judges them as the API does."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        nested = info.annotation
        if name == "attachments":
            if photos:
                data[name] = photos
        elif name in LISTS:
            data[name] = [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]
        elif isinstance(nested, type) and issubclass(nested, BaseModel):
            parts = {k: v for k in nested.model_fields if (v := field(form, f"{name}.{k}")) is not None}
            if parts:
                data[name] = parts
        elif (value := field(form, name)) is not None:
            data[name] = instant(value) if name in TIMES else value
    return data


def field_errors(error: ValidationError) -> dict[str, str]:
    """Each refused field (dotted, as the API's 422 names it) and why."""
    found: dict[str, str] = {}
    for e in error.errors():
        where = ".".join(str(part) for part in e["loc"]) or "form"
        found.setdefault(where, e["msg"].removeprefix("Value error, "))
    return found


def identity(form: FormData) -> RequestIdentity:
    """The form's Idempotency-Key (a double click is one move) and the page's version as
    If-Match (a page left open while someone else acted is refused, 412)."""
    version = field(form, "version")
    return RequestIdentity(
        field(form, "idempotency_key"), int(version) if version and version.isdigit() else None
    )
