"""SLA 看板 — per unit, level and period: received, responded, resolved, on time, open, overdue
and due soon now, escalations caused, response and resolution time percentiles.

Two read models feed it: the stints (``rm_stints``: a community or street holding a call at its
level) and the work orders (``rm_work_orders``: what a department owes on a call). Both are read
as :class:`~huying.queries.obligations.Obligation` s, so one set of definitions serves every
level. ``docs/metrics.md`` is the auditor's statement of those definitions; change one, change
the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.domain.worktime import WorkCalendar
from huying.queries.obligations import Arrival, Obligation, Response, obligations

# China has kept UTC+8 without daylight saving since 1991: a fixed offset is exact, and needs no
# tz database on the host.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
MAX_BUCKETS = 400


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"  # ISO weeks, Monday to Sunday
    MONTH = "month"


@dataclass(frozen=True)
class Bucket:
    """One period of the dashboard: Asia/Shanghai calendar dates, both ends inclusive."""

    period: str
    start: date
    end: date


def local_day(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


def period_of(day: date, granularity: Granularity) -> tuple[str, date, date]:
    """The calendar period holding ``day``: its label, first and last date."""
    if granularity is Granularity.DAY:
        return day.isoformat(), day, day
    if granularity is Granularity.WEEK:
        year, week, _ = day.isocalendar()
        monday = day - timedelta(days=day.weekday())
        return f"{year}-W{week:02d}", monday, monday + timedelta(days=6)
    first = day.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return f"{first.year}-{first.month:02d}", first, following - timedelta(days=1)


def buckets(first: date, last: date, granularity: Granularity) -> list[Bucket]:
    """The periods from ``first`` to ``last``, the outer two clipped to the range."""
    found: list[Bucket] = []
    day = first
    while day <= last:
        label, start, end = period_of(day, granularity)
        found.append(Bucket(label, max(start, first), min(end, last)))
        day = end + timedelta(days=1)
    return found


def utc_span(first: date, last: date) -> tuple[datetime, datetime]:
    """[local midnight starting ``first``, local midnight after ``last``), as instants."""
    start = datetime.combine(first, time(), SHANGHAI)
    end = datetime.combine(last + timedelta(days=1), time(), SHANGHAI)
    return start, end


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile: the ⌈percent·n/100⌉-th smallest value (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-percent * len(ordered) // 100)
    return ordered[max(rank, 1) - 1]


# --- figures ----------------------------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": nearest_rank(values, 50), "p90": nearest_rank(values, 90)}


def figures(obs: Sequence[Obligation], now: datetime) -> dict[str, Any]:
    """The SLA figures of a set of obligations, as they stand at ``now``."""
    responses = [o.response(now) for o in obs]
    response_times = [(o.responded_at - o.arrived_at).total_seconds() for o in obs if o.responded_at]
    resolution_times = [(o.ended_at - o.arrived_at).total_seconds() for o in obs if o.resolved and o.ended_at]
    return {
        "received": len(obs),
        "reopened": sum(o.arrived_by is Arrival.REOPEN for o in obs),
        "acknowledged": sum(o.responded_at is not None for o in obs),
        "acknowledged_on_time": responses.count(Response.ON_TIME),
        "response_due_known": sum(o.response_due is not None for o in obs),
        "resolved": sum(o.resolved for o in obs),
        "resolved_on_time": sum(o.resolved_on_time for o in obs),
        "resolution_due_known": sum(o.resolution_due is not None for o in obs),
        "open_now": sum(o.is_open for o in obs),
        "overdue_now": sum(o.overdue(now) for o in obs),
        "escalations_caused": sum(o.outcome == "escalated" for o in obs),
        "returned": sum(o.outcome == "returned" for o in obs),
        "ended_otherwise": sum(o.outcome in ("withdrawn", "merged", "cancelled", "lapsed") for o in obs),
        "response_seconds": percentiles(response_times),
        "resolution_seconds": percentiles(resolution_times),
    }


# --- the dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """Whose figures one series shows: a unit, at a level, over a set of holders (None: all)."""

    unit: str
    unit_kind: UnitKind
    level: Level
    holders: frozenset[str] | None
    grid: str | None = None  # a grid's series: its community's stints on calls from that grid

    def holds(self, o: Obligation) -> bool:
        if o.level is not self.level:
            return False
        if self.holders is not None and o.unit not in self.holders:
            return False
        return self.grid is None or o.grid_code == self.grid


def series_of(org: Org, code: str) -> tuple[list[Series], list[Series]]:
    """The unit's own series (one per level it answers for) and its children's."""
    kind, one = org.units[code].kind, frozenset({code})
    if kind is UnitKind.DISTRICT:
        streets = org.of_kind(UnitKind.STREET)
        departments = org.of_kind(UnitKind.DEPARTMENT)
        return [Series(code, kind, level, None) for level in Level], [
            *(Series(s.code, s.kind, Level.STREET, frozenset({s.code})) for s in streets),
            *(Series(d.code, d.kind, Level.DEPARTMENT, frozenset({d.code})) for d in departments),
        ]
    if kind is UnitKind.STREET:
        communities = org.children(code)
        own = [
            Series(code, kind, Level.STREET, one),
            Series(code, kind, Level.COMMUNITY, frozenset(c.code for c in communities)),
        ]
        return own, [Series(c.code, c.kind, Level.COMMUNITY, frozenset({c.code})) for c in communities]
    if kind is UnitKind.COMMUNITY:
        grids = [Series(g.code, g.kind, Level.COMMUNITY, one, grid=g.code) for g in org.children(code)]
        return [Series(code, kind, Level.COMMUNITY, one)], grids
    if kind is UnitKind.GRID:
        return [Series(code, kind, Level.COMMUNITY, frozenset({org.community_of(code)}), grid=code)], []
    return [Series(code, kind, Level.DEPARTMENT, one)], []


def sla_dashboard(
    conn: Connection,
    org: Org,
    unit: str,
    first: date,
    last: date,
    granularity: Granularity,
    now: datetime,
    calendar: WorkCalendar,
    *,
    empty_buckets: bool = False,
) -> dict[str, Any]:
    """The dashboard of ``unit`` for the obligations that arrived from ``first`` to ``last``.

    ``calendar`` tells when open stints fall due soon (work orders have it recorded). A bucket
    where nothing arrived has every figure zero: it is left out unless ``empty_buckets``."""
    own, children = series_of(org, unit)
    periods = buckets(first, last, granularity)
    since, until = utc_span(first, last)
    arrived = _load(conn, [*own, *children], since=since, until=until)
    still_open = _load(conn, [*own, *children], open_only=True, calendar=calendar)

    def shown(s: Series) -> dict[str, Any]:
        obs = [o for o in arrived[s.level] if s.holds(o)]
        by_period: dict[str, list[Obligation]] = {b.period: [] for b in periods}
        for o in obs:
            by_period[period_of(local_day(o.arrived_at), granularity)[0]].append(o)
        backlog = [o for o in still_open[s.level] if s.holds(o)]
        return {
            "unit": s.unit,
            "unit_name": org.units[s.unit].name,
            "unit_kind": s.unit_kind.value,
            "level": s.level.value,
            "totals": figures(obs, now),
            "buckets": [
                {"period": b.period, "start": b.start, "end": b.end, **figures(by_period[b.period], now)}
                for b in periods
                if empty_buckets or by_period[b.period]
            ],
            "backlog": {
                "open": len(backlog),
                "overdue": sum(o.overdue(now) for o in backlog),
                "due_soon": sum(o.due_soon(now) for o in backlog),
            },
        }

    return {
        "unit": unit,
        "unit_name": org.units[unit].name,
        "unit_kind": org.units[unit].kind.value,
        "from": first,
        "to": last,
        "granularity": granularity.value,
        "timezone": "Asia/Shanghai",
        "now": now,
        "series": [shown(s) for s in own],
        "children": [shown(s) for s in children],
    }


def _load(conn: Connection, wanted: Iterable[Series], **window: Any) -> dict[Level, list[Obligation]]:
    """One query per level for every series at once; each series then picks its own rows."""
    holders: dict[Level, frozenset[str] | None] = {}
    for s in wanted:
        known = holders.get(s.level, frozenset())
        holders[s.level] = None if s.holders is None or known is None else known | s.holders
    loaded = {level: obligations(conn, level, units, **window) for level, units in holders.items()}
    return {level: loaded.get(level, []) for level in Level}
