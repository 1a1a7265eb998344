"""SLA 看板 — per unit, level and period: received, responded, resolved, on time, open, overdue
and due soon now, escalations caused, response and resolution time percentiles.

Read from the SLA tallies (``projections.tallies``: per level, scope and day / ISO week / month,
what the obligations that arrived in it came to) and from the obligations that have not ended
(``rm_open_obligations``), which is all that "now" changes. A request reads a row per series and
block, however many calls are stored. ``docs/metrics.md`` is the auditor's statement of the
definitions; change one, change the other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.domain.worktime import WorkCalendar
from huying.projections import spread
from huying.projections.periods import (
    MAX_BUCKETS,
    SHANGHAI,
    Block,
    Bucket,
    Granularity,
    buckets,
    cover,
    local_day,
    period_of,
    utc_span,
)
from huying.projections.tables import SPREADS, rm_open_obligations, rm_sla_tallies

__all__ = [
    "MAX_BUCKETS",
    "SHANGHAI",
    "Bucket",
    "Granularity",
    "buckets",
    "local_day",
    "period_of",
    "sla_dashboard",
    "utc_span",
]

# The dashboard's own figures among the tallies' counts (the rest serve the scores).
COUNTED = (
    "received",
    "reopened",
    "acknowledged",
    "acknowledged_on_time",
    "response_due_known",
    "resolved",
    "resolved_on_time",
    "resolution_due_known",
    "open_now",
    "escalations_caused",
    "returned",
    "ended_otherwise",
)


# --- the dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """Whose figures one series shows: a unit, at a level, over a set of holders (None: all)."""

    unit: str
    unit_kind: UnitKind
    level: Level
    holders: frozenset[str] | None
    grid: str | None = None  # a grid's series: its community's stints on calls from that grid

    def holds(self, level: str, unit: str, grid: str) -> bool:
        """Whether an obligation at ``level`` held by ``unit`` on a call from ``grid`` is the
        series'. (Its tallies are those of scope ``unit``: projections.tallies.Scopes.)"""
        if level != self.level.value:
            return False
        if self.holders is not None and unit not in self.holders:
            return False
        return self.grid is None or grid == self.grid


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

    A bucket where nothing arrived has every figure zero: it is left out unless
    ``empty_buckets``. (``calendar`` is the one the projector judged "due soon" by.)"""
    own, children = series_of(org, unit)
    periods = buckets(first, last, granularity)
    covers = {b.period: cover(b.start, b.end) for b in periods}
    stored = _tallies(conn, [*own, *children], {block for blocks in covers.values() for block in blocks})
    backlog, overdue = _still_open(conn, now, first, last)

    def shown(s: Series) -> dict[str, Any]:
        rows = stored.get((s.level.value, s.unit), {})
        late: dict[date, int] = defaultdict(int)  # open and overdue, by arrival day
        for (level, unit, grid, day), n in overdue.items():
            if s.holds(level, unit, grid):
                late[day] += n
        figured = [
            _figures(
                [rows[block] for block in covers[b.period] if block in rows],
                sum(n for day, n in late.items() if b.start <= day <= b.end),
            )
            for b in periods
        ]
        held = [n for key, n in backlog.items() if s.holds(*key)]
        return {
            "unit": s.unit,
            "unit_name": org.units[s.unit].name,
            "unit_kind": s.unit_kind.value,
            "level": s.level.value,
            "totals": _totals(figured),
            "buckets": [
                {"period": b.period, "start": b.start, "end": b.end, **f.shown}
                for b, f in zip(periods, figured, strict=True)
                if empty_buckets or f.shown["received"]
            ],
            "backlog": {k: sum(n[i] for n in held) for i, k in enumerate(("open", "overdue", "due_soon"))},
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


@dataclass(frozen=True)
class _Figured:
    """A bucket's figures, and the spreads its percentiles came from (the totals' too)."""

    shown: dict[str, Any]
    spreads: tuple[list[spread.Spread], ...]


def _figures(rows: Sequence[Any], overdue_now: int) -> _Figured:
    """The figures of the obligations that arrived in some blocks, from their tallies."""
    shown: dict[str, Any] = {name: sum(r[name] for r in rows) for name in COUNTED}
    shown["overdue_now"] = overdue_now
    spreads: list[list[spread.Spread]] = []
    for kind in SPREADS:
        kept = [spread.decode(r[f"{kind}_spread"]) for r in rows]
        spreads.append(kept)
        if len(rows) == 1:  # one stored block: its own percentiles
            r = rows[0]
            shown[f"{kind}_seconds"] = {"n": r[f"{kind}_n"], "p50": r[f"{kind}_p50"], "p90": r[f"{kind}_p90"]}
        else:
            shown[f"{kind}_seconds"] = spread.summary(kept)
    return _Figured(shown, tuple(spreads))


def _totals(figured: Sequence[_Figured]) -> dict[str, Any]:
    totals: dict[str, Any] = {name: sum(f.shown[name] for f in figured) for name in (*COUNTED, "overdue_now")}
    for i, kind in enumerate(SPREADS):
        totals[f"{kind}_seconds"] = spread.summary([s for f in figured for s in f.spreads[i]])
    return totals


def _tallies(
    conn: Connection, wanted: Sequence[Series], blocks: Iterable[Block]
) -> dict[tuple[str, str], dict[Block, Any]]:
    """The stored tallies of these series in these blocks: (level, scope) → block → row."""
    t = rm_sla_tallies
    by_kind: dict[str, list[date]] = defaultdict(list)
    for granularity, start in blocks:
        by_kind[granularity.value].append(start)
    found: dict[tuple[str, str], dict[Block, Any]] = defaultdict(dict)
    for kind, starts in by_kind.items():
        query = select(t).where(
            t.c.level.in_({s.level.value for s in wanted}),
            t.c.scope.in_({s.unit for s in wanted}),
            t.c.block == kind,
            t.c.start.in_(starts),
        )
        for r in conn.execute(query).mappings():
            found[(r["level"], r["scope"])][(Granularity(r["block"]), r["start"])] = r
    return found


def _still_open(
    conn: Connection, now: datetime, first: date, last: date
) -> tuple[dict[tuple[str, str, str], tuple[int, int, int]], dict[tuple[str, str, str, date], int]]:
    """What "now" decides, from the obligations that have not ended: per (level, unit, grid) the
    backlog (open, overdue, due soon), and per arrival day in the range the open ones overdue."""
    o = rm_open_obligations
    late = and_(o.c.overdue_from.is_not(None), o.c.overdue_from < now)
    soon = and_(o.c.due_soon_at.is_not(None), o.c.due_soon_at <= now, ~late)
    where = (o.c.level, o.c.unit, o.c.grid_code)
    query = (
        select(*where, func.count(), func.sum(case((late, 1), else_=0)), func.sum(case((soon, 1), else_=0)))
        .where(o.c.is_open)
        .group_by(*where)
    )
    backlog = {(r[0], r[1], r[2]): (int(r[3]), int(r[4] or 0), int(r[5] or 0)) for r in conn.execute(query)}
    by_day = (
        select(*where, o.c.arrived_day, func.count())
        .where(o.c.is_open, late, o.c.arrived_day >= first, o.c.arrived_day <= last)
        .group_by(*where, o.c.arrived_day)
    )
    overdue = {(r[0], r[1], r[2], r[3]): int(r[4]) for r in conn.execute(by_day)}
    return backlog, overdue
