"""重复提示 — possible duplicates, a query over the escalation state (``rm_calls``).

一事一呼: the same alley problem reported twice should become one call. A call's possible
duplicates are the open calls (not closed, withdrawn or merged) of the same item, raised within
N days, in the same grid — or, when both have lat/lon, within a distance, whichever grid they are
in — that the asker can see (and so could merge into).

Two questions are asked of it:

* ``at_raise`` — what every answer about a call shows: the calls raised before it in the log,
  in the N days before it (``DuplicateRule.before``), and still open when it was raised. That
  depends on nothing that happened since, so a retried raise, a later read and an action's
  answer all show the same hints.
* ``open_now`` — what ``GET /calls/{id}/possible-duplicates`` shows: the calls open now, raised in
  the last N days, before or after it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
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
CANDIDATES = 200  # read at most this many rows before measuring distances
_CLOSED = tuple(s.value for s in TERMINAL)


# How far after a call's raise, in business time, a call raised before it in the log may lie:
# several workers take a command's time, then commit in whatever order they finish, so of two
# reports of one thing a second apart the later-timed may be stored first.
LATER_BY = timedelta(hours=1)


@dataclass(frozen=True)
class DuplicateRule:
    radius_m: float = 200.0
    days: int = 7

    def since(self, at: datetime) -> datetime:
        """The start of the N days before ``at``."""
        return at - timedelta(days=self.days)

    def before(self, raised_at: datetime) -> tuple[datetime, datetime]:
        """The business times of the calls raised before one raised at ``raised_at`` (in the
        log) that may be its duplicates: the N days before it, and up to ``LATER_BY`` after. A
        bounded range: a call's hints read its week, not the item's history since."""
        return self.since(raised_at), raised_at + LATER_BY


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
    since, latest = rule.before(raised_at)
    query = _candidates(principal, org, subject, rule, since).where(
        rm_calls.c.raised_at <= latest,
        rm_calls.c.seq < raised_position,
        or_(rm_calls.c.status.not_in(_CLOSED), rm_calls.c.position > raised_position),
    )
    return _nearest(conn, query, subject, rule)


def open_now(
    conn: Connection, principal: Principal, org: Org, subject: Subject, rule: DuplicateRule, now: datetime
) -> list[dict[str, Any]]:
    """The calls open now, raised in the last N days (before or after the subject)."""
    query = _candidates(principal, org, subject, rule, rule.since(now))
    query = query.where(rm_calls.c.status.not_in(_CLOSED))
    return _nearest(conn, query, subject, rule)


def _candidates(
    principal: Principal, org: Org, subject: Subject, rule: DuplicateRule, since: datetime
) -> Select[Any]:
    return select(rm_calls).where(
        rm_calls.c.item_code == subject.item_code,
        rm_calls.c.raised_at >= since,
        rm_calls.c.call_id != subject.call_id,
        visible_calls(principal, org),
        _near(subject, rule.radius_m),
    )


def _nearest(
    conn: Connection, query: Select[Any], subject: Subject, rule: DuplicateRule
) -> list[dict[str, Any]]:
    ordered = query.order_by(rm_calls.c.raised_at.desc(), rm_calls.c.seq.desc()).limit(CANDIDATES)
    return ranked(subject, rule, (dict(row._mapping) for row in conn.execute(ordered)))


def ranked(
    subject: Subject, rule: DuplicateRule, candidates: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The hints among ``candidates`` (same item, in the window, visible, in the grid or the box;
    newest first, at most ``CANDIDATES``): those in the same grid or within the radius, best
    first — same grid, then nearest, then most recent. Each gains ``same_grid`` and
    ``distance_m`` (None unless both calls have lat/lon)."""
    hints = []
    for hint in candidates:
        hint["same_grid"] = hint["grid_code"] == subject.grid_code
        hint["distance_m"] = _distance(subject, hint)
        if hint["same_grid"] or (hint["distance_m"] is not None and hint["distance_m"] <= rule.radius_m):
            hints.append(hint)
    hints.sort(key=lambda h: (not h["same_grid"], h["distance_m"] is None, h["distance_m"] or 0.0))
    return hints[:MAX_HINTS]


@dataclass(frozen=True)
class Box:
    """The lat/lon box around a point that holds the radius: a cheap first cut, the exact
    distance is measured afterwards. ``lon`` is None where the box would wrap (no bound)."""

    lat: tuple[float, float]
    lon: tuple[float, float] | None

    @classmethod
    def around(cls, subject: Subject, radius_m: float) -> Box | None:
        if subject.lat is None or subject.lon is None:
            return None
        dlat = math.degrees(radius_m / EARTH_RADIUS_M)
        cos_lat = math.cos(math.radians(subject.lat))
        dlon = math.degrees(radius_m / (EARTH_RADIUS_M * cos_lat)) if cos_lat > 1e-6 else 360.0
        wraps = subject.lon - dlon < -180 or subject.lon + dlon > 180
        return cls(
            (subject.lat - dlat, subject.lat + dlat),
            None if wraps else (subject.lon - dlon, subject.lon + dlon),
        )

    def holds(self, lat: float | None, lon: float | None) -> bool:
        if lat is None or lon is None:
            return False
        return self.lat[0] <= lat <= self.lat[1] and (self.lon is None or self.lon[0] <= lon <= self.lon[1])


def near(subject: Subject, box: Box | None, grid_code: str, lat: float | None, lon: float | None) -> bool:
    """``_near`` for one call in memory (``projections.recent``)."""
    return grid_code == subject.grid_code or (box is not None and box.holds(lat, lon))


def _near(subject: Subject, radius_m: float) -> ColumnElement[bool]:
    """Same grid, or inside the box around the subject's point that holds the radius."""
    same_grid = rm_calls.c.grid_code == subject.grid_code
    box = Box.around(subject, radius_m)
    if box is None:
        return same_grid
    inside = [rm_calls.c.lat.between(*box.lat), rm_calls.c.lon.is_not(None)]
    if box.lon is not None:
        inside.append(rm_calls.c.lon.between(*box.lon))
    return or_(same_grid, and_(*inside))


def _distance(subject: Subject, row: dict[str, Any]) -> float | None:
    if subject.lat is None or subject.lon is None or row["lat"] is None or row["lon"] is None:
        return None
    return round(haversine_m(subject.lat, subject.lon, row["lat"], row["lon"]), 1)
