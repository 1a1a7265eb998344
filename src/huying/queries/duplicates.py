"""重复提示 — possible duplicates, a query over the escalation state (``rm_calls``).

一事一呼: the same alley problem reported twice should become one call. A call's possible
duplicates are the open calls (not closed, withdrawn or merged) of the same item, raised within
N days, in the same grid — or, when both have lat/lon, within a distance, whichever grid they are
in — that the asker can see (and so could merge into).

Two questions are asked of it:

* ``at_raise`` — what every answer about a call shows: the calls raised in the N days before it
  and still open when it was raised. That depends on nothing that happened since, so a retried
  raise, a later read and an action's answer all show the same hints.
* ``open_now`` — what ``GET /calls/{id}/possible-duplicates`` shows: the calls open now, raised in
  the last N days, before or after it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, or_, select

from huying.domain.org import Org
from huying.domain.principal import Principal
from huying.domain.states import TERMINAL
from huying.projections.tables import rm_calls
from huying.queries.scope import visible_calls

EARTH_RADIUS_M = 6_371_008.8  # mean radius
MAX_HINTS = 10
_CANDIDATES = 200  # read at most this many rows before measuring distances
_CLOSED = tuple(s.value for s in TERMINAL)


@dataclass(frozen=True)
class DuplicateRule:
    radius_m: float = 200.0
    days: int = 7


@dataclass(frozen=True)
class Subject:
    """What a call is compared by."""

    call_id: str
    item_code: str
    grid_code: str
    lat: float | None = None
    lon: float | None = None

    @classmethod
    def of(cls, call_id: str, item_code: str, grid_code: str, location: dict[str, Any] | None) -> Subject:
        where = location or {}
        return cls(call_id, item_code, grid_code, where.get("lat"), where.get("lon"))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def at_raise(
    conn: Connection,
    principal: Principal,
    org: Org,
    subject: Subject,
    rule: DuplicateRule,
    raised_at: datetime,
    raised_position: int,
) -> list[dict[str, Any]]:
    """The hints as of the raise at log position ``raised_position``: calls raised before it
    (within the N days before), and not yet closed, withdrawn or merged then. A finished call's
    last event is the one that finished it, so "finished by then" is "finished at a position
    before the raise"."""
    query = _candidates(principal, org, subject, rule, raised_at).where(
        rm_calls.c.seq < raised_position,
        or_(rm_calls.c.status.not_in(_CLOSED), rm_calls.c.position > raised_position),
    )
    return _nearest(conn, query, subject, rule)


def open_now(
    conn: Connection, principal: Principal, org: Org, subject: Subject, rule: DuplicateRule, now: datetime
) -> list[dict[str, Any]]:
    """The calls open now, raised in the last N days (before or after the subject)."""
    query = _candidates(principal, org, subject, rule, now).where(rm_calls.c.status.not_in(_CLOSED))
    return _nearest(conn, query, subject, rule)


def _candidates(
    principal: Principal, org: Org, subject: Subject, rule: DuplicateRule, until: datetime
) -> Select[Any]:
    return select(rm_calls).where(
        rm_calls.c.item_code == subject.item_code,
        rm_calls.c.raised_at >= until - timedelta(days=rule.days),
        rm_calls.c.call_id != subject.call_id,
        visible_calls(principal, org),
        _near(subject, rule.radius_m),
    )


def _nearest(
    conn: Connection, query: Select[Any], subject: Subject, rule: DuplicateRule
) -> list[dict[str, Any]]:
    """Best first: same grid, then nearest, then most recent. Each row gains ``same_grid`` and
    ``distance_m`` (None unless both calls have lat/lon)."""
    ordered = query.order_by(rm_calls.c.raised_at.desc(), rm_calls.c.seq.desc()).limit(_CANDIDATES)
    hints = []
    for row in conn.execute(ordered):
        hint = dict(row._mapping)
        hint["same_grid"] = hint["grid_code"] == subject.grid_code
        hint["distance_m"] = _distance(subject, hint)
        if hint["same_grid"] or (hint["distance_m"] is not None and hint["distance_m"] <= rule.radius_m):
            hints.append(hint)
    hints.sort(key=lambda h: (not h["same_grid"], h["distance_m"] is None, h["distance_m"] or 0.0))
    return hints[:MAX_HINTS]


def _near(subject: Subject, radius_m: float) -> ColumnElement[bool]:
    """Same grid, or inside the box around the subject's point that holds the radius (the exact
    distance is measured afterwards)."""
    same_grid = rm_calls.c.grid_code == subject.grid_code
    if subject.lat is None or subject.lon is None:
        return same_grid
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    box = [rm_calls.c.lat.between(subject.lat - dlat, subject.lat + dlat), rm_calls.c.lon.is_not(None)]
    cos_lat = math.cos(math.radians(subject.lat))
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * cos_lat)) if cos_lat > 1e-6 else 360.0
    if subject.lon - dlon >= -180 and subject.lon + dlon <= 180:  # else it wraps: no bound on lon
        box.append(rm_calls.c.lon.between(subject.lon - dlon, subject.lon + dlon))
    return or_(same_grid, and_(*box))


def _distance(subject: Subject, row: dict[str, Any]) -> float | None:
    if subject.lat is None or subject.lon is None or row["lat"] is None or row["lon"] is None:
        return None
    return round(haversine_m(subject.lat, subject.lon, row["lat"], row["lon"]), 1)
