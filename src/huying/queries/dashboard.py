"""SLA 看板 — per unit, level and period: received, responded, resolved, on time, open, overdue
and due soon now, escalations caused, response and resolution time percentiles.

Read from the SLA tallies (``projections.tallies``: per level, scope and day / ISO week / month,
what the obligations that arrived in it came to) and from the obligations that have not ended
(``rm_open_obligations``), which is all that "now" changes. A request reads a row per series and
block, however many calls are stored; the spreads of several blocks are merged once per process
and read again only when they change (``sla_tallies``). ``docs/metrics.md`` is the auditor's
statement of the definitions; change one, change the other.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, or_, select

from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.domain.worktime import WorkCalendar
from huying.projections.periods import (
    MAX_BUCKETS,
    SHANGHAI,
    Bucket,
    Granularity,
    buckets,
    cover,
    local_day,
    period_of,
    utc_span,
)
from huying.projections.tables import DASHBOARD_COUNTS, SPREADS, rm_open_obligations, rm_sla_tallies
from huying.queries.sla_tallies import NO_TIMES, Merged, pairs_in, parts, read_tallies

__all__ = [
    "MAX_BUCKETS",
    "SHANGHAI",
    "Bucket",
    "Granularity",
    "buckets",
    "default_first",
    "local_day",
    "period_of",
    "sla_dashboard",
    "utc_span",
]

# The dashboard's own figures among the tallies' counts (the rest serve the scores).
COUNTED = DASHBOARD_COUNTS


# --- the dashboard ------------------------------------------------------------------------------


def default_first(last: date, granularity: Granularity) -> date:
    """Where a dashboard ending ``last`` starts when nobody says: 30 days, 12 ISO weeks or 12
    months back."""
    if granularity is Granularity.DAY:
        return last - timedelta(days=29)
    start = period_of(last, granularity)[1]
    if granularity is Granularity.WEEK:
        return start - timedelta(weeks=11)
    return date(start.year - (start.month < 12), start.month % 12 + 1, 1)


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
    whole = cover(first, last)  # the fewest blocks: what the totals' percentiles are read from
    merges = [whole, *(blocks for blocks in covers.values() if len(blocks) > 1)]
    asked = {*whole, *(block for of in covers.values() for block in of)}
    stored, summaries = read_tallies(conn, _pairs_of([*own, *children]), asked, merges)
    still_open = _open_now(conn, [*own, *children])
    now_decides = _still_open(conn, [*own, *children], first, last, now)
    starts = [b.start for b in periods]

    def shown(s: Series) -> dict[str, Any]:
        rows = stored.get((s.level.value, s.unit), {})
        late, overdue, due_soon = now_decides.of(s, starts)
        figured = [
            _figures([rows[block] for block in covers[b.period] if block in rows], n, summaries)
            for b, n in zip(periods, late, strict=True)
        ]
        arrived = [f for f in figured if f is not _NOTHING]
        totals = {name: sum(f[name] for f in arrived) for name in (*COUNTED, "overdue_now")}
        totals |= _percentiles([rows[block] for block in whole if block in rows], summaries)
        return {
            "unit": s.unit,
            "unit_name": org.units[s.unit].name,
            "unit_kind": s.unit_kind.value,
            "level": s.level.value,
            "totals": totals,
            "buckets": [
                {"period": b.period, "start": b.start, "end": b.end, **f}
                for b, f in zip(periods, figured, strict=True)
                if empty_buckets or f["received"]
            ],
            "backlog": {
                "open": still_open.get((s.level.value, s.unit), 0),
                "overdue": overdue,
                "due_soon": due_soon,
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


def _figures(rows: Sequence[dict[str, Any]], overdue_now: int, summaries: Merged) -> dict[str, Any]:
    """The figures of the obligations that arrived in some stored blocks."""
    if not rows:  # nothing arrived: most of a unit's days, on a dashboard of many units
        return _NOTHING | {"overdue_now": overdue_now} if overdue_now else _NOTHING
    if len(rows) == 1:
        (row,) = rows
        figures = {name: row[name] for name in COUNTED}
    else:
        figures = {name: sum(r[name] for r in rows) for name in COUNTED}
    figures["overdue_now"] = overdue_now
    figures.update(_percentiles(rows, summaries))
    return figures


# A period where nothing arrived: every figure zero, no times (shared: only ever read).
_NOTHING: dict[str, Any] = {
    **dict.fromkeys(COUNTED, 0),
    "overdue_now": 0,
    **{f"{kind}_seconds": NO_TIMES for kind in SPREADS},
}


def _percentiles(rows: Sequence[dict[str, Any]], summaries: Merged) -> dict[str, Any]:
    """Response and resolution percentiles: one block's as stored, several blocks' merged
    (``summaries``, by their spreads' digests)."""
    found = {}
    if len(rows) == 1:
        (r,) = rows
        for name, n, p50, p90 in _TIMES:
            found[name] = {"n": r[n], "p50": r[p50], "p90": r[p90]}
        return found
    for kind, (name, *_) in zip(SPREADS, _TIMES, strict=True):
        found[name] = summaries[of] if (of := parts(rows, kind)) else NO_TIMES
    return found


# Per kind of spread: its figure's name, and its row's count and percentiles.
_TIMES = tuple((f"{kind}_seconds", f"{kind}_n", f"{kind}_p50", f"{kind}_p90") for kind in SPREADS)


def _series_in(wanted: Sequence[Series]) -> ColumnElement[bool]:
    """The tallies of these series."""
    return pairs_in(_pairs_of(wanted))


def _pairs_of(wanted: Sequence[Series]) -> list[tuple[str, str]]:
    return [(s.level.value, s.unit) for s in wanted]


def _open_now(conn: Connection, wanted: Sequence[Series]) -> dict[tuple[str, str], int]:
    """How many of each series' obligations are open, whenever they arrived: the tallies'
    ``open_now`` over every month."""
    t = rm_sla_tallies
    query = (
        select(t.c.level, t.c.scope, func.sum(t.c.open_now))
        .where(_series_in(wanted), t.c.block == Granularity.MONTH.value)
        .group_by(t.c.level, t.c.scope)
    )
    return {(level, scope): int(n or 0) for level, scope, n in conn.execute(query)}


Holder = tuple[str, str, str]  # level, unit, grid ("" but in a series told apart by grid)


@dataclass(frozen=True)
class NowDecides:
    """What "now" decides of the series' open obligations, per holder: the overdue ones by the
    day they arrived (None: a day outside the dashboard's range), and the due soon."""

    overdue: dict[Holder, dict[date | None, int]]
    due_soon: dict[Holder, int]

    def of(self, s: Series, starts: Sequence[date]) -> tuple[list[int], int, int]:
        """A series' overdue by the bucket they arrived in (buckets starting at ``starts``), its
        overdue and its due soon."""
        late, overdue, due_soon = [0] * len(starts), 0, 0
        for key, days in self.overdue.items():
            if s.holds(*key):
                for day, n in days.items():
                    overdue += n
                    if day is not None:
                        late[bisect_right(starts, day) - 1] += n
        for key, n in self.due_soon.items():
            if s.holds(*key):
                due_soon += n
        return late, overdue, due_soon


def _still_open(
    conn: Connection, wanted: Sequence[Series], first: date, last: date, now: datetime
) -> NowDecides:
    """From the obligations not yet ended, those of the series' holders only. Each question is a
    range of its index (level, the instant compared with now) that holds every column it reads:
    it walks the open obligations past that instant at the series' levels, and its answer has a
    row per holder and day of the dashboard's range, however many calls there are."""
    o = rm_open_obligations
    mine = _held_by(wanted)
    late = and_(o.c.overdue_from.is_not(None), o.c.overdue_from < now)
    # Only a community's and a grid's series are told apart by grid.
    holder: list[ColumnElement[Any]] = [o.c.level, o.c.unit]
    if any(s.grid is not None for s in wanted):
        holder.append(case((o.c.level == Level.COMMUNITY.value, o.c.grid_code), else_="").label("grid"))
    in_range = case((o.c.arrived_day.between(first, last), o.c.arrived_day), else_=None).label("day")
    by_day = (
        select(*holder, in_range, func.count()).where(mine, late, o.c.is_open).group_by(*holder, in_range)
    )
    overdue: dict[Holder, dict[date | None, int]] = defaultdict(dict)
    for *who, day, n in conn.execute(by_day):
        overdue[_holder(who)][day] = int(n)
    soon = (
        select(*holder, func.count())
        .where(mine, o.c.due_soon_at.is_not(None), o.c.due_soon_at <= now, o.c.is_open, ~late)
        .group_by(*holder)
    )
    due_soon = {_holder(who): int(n) for *who, n in conn.execute(soon)}
    return NowDecides(overdue, due_soon)


def _holder(found: Sequence[str]) -> Holder:
    level, unit, *grid = found
    return level, unit, grid[0] if grid else ""


def _held_by(wanted: Sequence[Series]) -> ColumnElement[bool]:
    """The open obligations the series count: at each of their levels, every unit's where a
    series holds them all (the district's), else their holders'."""
    o = rm_open_obligations
    everyone = {s.level.value for s in wanted if s.holders is None}
    holders: dict[str, set[str]] = defaultdict(set)
    for s in wanted:
        if s.holders is not None and s.level.value not in everyone:
            holders[s.level.value] |= s.holders
    # The levels held by every unit as one IN: PostgreSQL walks the index's range of each
    # (index only); an OR of them it read as a scan of the whole table (7.3 ms against 3.4 ms at
    # a million calls, the district's overdue).
    return or_(
        *([o.c.level.in_(sorted(everyone))] if everyone else []),
        *(and_(o.c.level == level, o.c.unit.in_(sorted(units))) for level, units in sorted(holders.items())),
    )
