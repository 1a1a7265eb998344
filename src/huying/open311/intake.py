"""An Open311 POST as a raise: the form becomes the same ``CallCreate`` the JSON API takes, so the
raise goes down the one path — its validation, idempotency, duplicate hints and contact store.

Which grid: huying needs one, Open311 has none. ``attribute[grid]`` names it outright; otherwise
the grid is the nearest, by its centre in the org data, of the grids the api_key's principal may
raise in (the transition table's own rule), within ``radius_m`` of ``lat``/``long``: a grid worker
has one, a community its own, a supervisor (hotline intake) all of them. A report located by
``address_string`` alone needs ``attribute[grid]``, unless the principal has only one grid.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from huying.api.schemas.requests import CallCreate, ReporterIn
from huying.domain.call import Call
from huying.domain.catalog import Catalog, Item
from huying.domain.contact import Contact
from huying.domain.org import Org, Unit, UnitKind
from huying.domain.principal import Principal
from huying.domain.states import Channel
from huying.open311.formats import Open311Error
from huying.open311.services import BY_CODE

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{1,63}$")
_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # device and account ids: printable ASCII, no spaces
_EARTH_RADIUS_M = 6_371_000.0
# Where pydantic's field names come from in the form, for 400s that name what the client sent.
_FORM_NAME = {
    "item_code": "service_code",
    "grid_code": "attribute[grid]",
    "title": "attribute[title]",
    "urgency": "attribute[urgency]",
    "occurred_at": "attribute[occurred_at]",
    "location.lat": "lat",
    "location.lon": "long",
    "location.address": "address_string",
    "location": "lat",
    "reporter.name": "first_name",
    "reporter.phone": "phone",
}


@dataclass(frozen=True)
class Report:
    """What an Open311 POST asks for, ready for ``CallService.raise_call``."""

    body: CallCreate  # what the fingerprint and the event are made of
    contact: Contact | None  # personal data: to the contact store, never into an event


class Form:
    """The posted fields (each may repeat: ``attribute[code][]``)."""

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        self._fields: dict[str, list[str]] = {}
        for name, value in fields:
            self._fields.setdefault(name, []).append(value)

    def one(self, name: str) -> str | None:
        """The field's value, or None when absent or empty (the spec's "Optional" rule)."""
        values = [v for v in self._fields.get(name, []) if v.strip()]
        if len(values) > 1:
            raise Open311Error(400, f"{name} was given {len(values)} times; give it once")
        return values[0].strip() if values else None

    def attributes(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for name, values in self._fields.items():
            m = _ATTRIBUTE.match(name)
            if m is None:
                continue
            code = m.group(1)
            if code not in BY_CODE:
                raise Open311Error(400, f"{name}: no attribute {code!r}; see the service definition")
            if len(values) != 1 or m.group(2):
                raise Open311Error(400, f"{name}: attribute {code} takes one value")
            found[code] = values[0].strip()
        return found


def report_of(form: Form, principal: Principal, catalog: Catalog, org: Org, radius_m: float) -> Report:
    item = _service(form, catalog)
    attributes = form.attributes()
    lat, lon = _point(form)
    address = form.one("address_string")
    if lat is None and address is None:
        what = "address_id is not kept here" if form.one("address_id") else "no location"
        raise Open311Error(400, f"{what}: give lat and long, or address_string")
    grid = attributes.get("grid") or _grid_for(principal, org, lat, lon, radius_m)
    description = form.one("description")
    fields: dict[str, Any] = {
        "item_code": item.code,
        "grid_code": grid,
        "title": attributes.get("title") or _title(description, item),
        "description": description or item.name,
        "channel": Channel.OPEN311,
        "urgency": attributes.get("urgency") or "normal",
        "occurred_at": attributes.get("occurred_at"),
        "location": {"address": address, "lat": lat, "lon": lon},
        "media_url": form.one("media_url"),
    }
    try:
        body = CallCreate.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        raise Open311Error(400, *_described(e)) from None
    return Report(body, contact_of(form))


def contact_of(form: Form) -> Contact | None:
    """The reporter's contact: first and last name, phone, email, the app's device and account ids."""
    first, last = form.one("first_name"), form.one("last_name")
    name = _full_name(first, last)
    try:
        reporter = ReporterIn.model_validate({"name": name, "phone": form.one("phone")})
    except ValidationError as e:
        raise Open311Error(400, *_described(e)) from None
    email, device_id, account_id = form.one("email"), form.one("device_id"), form.one("account_id")
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        raise Open311Error(400, "email: not an email address")
    for field, value in (("device_id", device_id), ("account_id", account_id)):
        if value is not None and not _ID.match(value):
            raise Open311Error(400, f"{field}: at most 128 printable ASCII characters, no spaces")
    contact = Contact(reporter.name, reporter.phone, email, device_id, account_id)
    return contact if any(contact.details().values()) else None


def _full_name(first: str | None, last: str | None) -> str | None:
    """姓在前: 张 + 三 → 张三; Latin names keep their order, with a space."""
    if not (first and last):
        return first or last
    cjk = any("\u4e00" <= ch <= "\u9fff" for ch in first + last)
    return f"{last}{first}" if cjk else f"{first} {last}"


def _service(form: Form, catalog: Catalog) -> Item:
    code = form.one("service_code")
    if code is None:
        raise Open311Error(400, "service_code was not provided")
    item = catalog.item(code)
    if item is None:
        raise Open311Error(404, f"service_code {code} was not found")
    return item


def _point(form: Form) -> tuple[float | None, float | None]:
    raw_lat, raw_lon = form.one("lat"), form.one("long")
    if (raw_lat is None) != (raw_lon is None):
        raise Open311Error(400, "lat and long come together")
    if raw_lat is None or raw_lon is None:
        return None, None
    try:
        lat, lon = float(raw_lat), float(raw_lon)
    except ValueError:
        raise Open311Error(400, "lat and long must be numbers (WGS84 degrees)") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):  # also refuses nan and inf
        raise Open311Error(400, "lat must lie within ±90 and long within ±180 degrees")
    return lat, lon


def _grid_for(principal: Principal, org: Org, lat: float | None, lon: float | None, radius_m: float) -> str:
    grids = [g for g in org.of_kind(UnitKind.GRID) if Call.may_raise(principal, g.code, g.parent or "")]
    if not grids:
        raise Open311Error(
            403, f"this api_key acts as {principal.role} of {principal.unit}, which may not raise calls"
        )
    if len(grids) == 1:
        return grids[0].code
    if lat is None or lon is None:
        raise Open311Error(400, "attribute[grid] is needed when the location is an address_string alone")
    placed = [(metres(lat, lon, g.center), g) for g in grids if g.center is not None]
    if not placed:
        raise Open311Error(400, "no grid centres are known here: give attribute[grid]")
    distance, nearest = min(placed, key=_by_distance)
    if distance > radius_m:
        raise Open311Error(
            400,
            f"lat/long lie {distance / 1000:.1f} km from the nearest grid you may report in "
            f"({nearest.code}); give attribute[grid] or a location within the district",
        )
    return nearest.code


def _by_distance(placed: tuple[float, Unit]) -> float:
    return placed[0]


def metres(lat: float, lon: float, center: tuple[float, float] | None) -> float:
    """Great-circle distance (haversine)."""
    if center is None:
        return math.inf
    p1, p2 = math.radians(lat), math.radians(center[0])
    dp, dl = p2 - p1, math.radians(center[1] - lon)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _title(description: str | None, item: Item) -> str:
    """The first line of the description, shortened; the service's name without one."""
    first = (description or "").strip().splitlines()[0].strip() if description and description.strip() else ""
    return (first[:60] + "…" if len(first) > 60 else first) or item.name


def _described(error: ValidationError) -> list[str]:
    out = []
    for e in error.errors():
        field = ".".join(str(p) for p in e["loc"]) or "body"
        out.append(f"{_FORM_NAME.get(field, field)}: {e['msg']}")
    return out


def parse_instant(raw: str | None, name: str) -> datetime | None:
    """A w3 datetime with its offset (2010-01-01T00:00:00Z), as the spec's dates are given."""
    if raw is None:
        return None
    try:
        instant = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name}: not a w3 datetime like 2010-01-01T00:00:00Z") from None
    if instant.tzinfo is None:
        raise Open311Error(400, f"{name}: give a time zone (Z or an offset like +08:00)")
    if not 1970 <= instant.year <= 2200:
        raise Open311Error(400, f"{name}: the time must lie between 1970 and 2200")
    return instant


def parse_list(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]
