"""Queries over the escalation state: the call search and the 台账 ledger."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, Select, and_, func, or_, select

from huying.domain.jurisdiction import may_read_unit
from huying.domain.org import Org, UnitKind
from huying.domain.principal import DISTRICT_WIDE, Principal, Role
from huying.projections.tables import (
    IS_UNSETTLED,
    LEDGER_STATUSES,
    ON_LEDGER,
    UNSETTLED,
    rm_calls,
    rm_ledger_tallies,
)
from huying.projections.tallies import in_step
from huying.projections.text import by_text, text_index
from huying.queries.scope import concerns_unit, on_the_ledger, visible_calls

__all__ = ["UNSETTLED", "CallFilter", "Page", "ledger", "overdue", "search_calls"]


def overdue(now: datetime) -> ColumnElement[bool]:
    """Unsettled, and one of its running clocks (its own stint's, or an open order's) is past due."""
    return and_(IS_UNSETTLED, rm_calls.c.next_due.is_not(None), rm_calls.c.next_due < now)


# What the holder street has to decide, each a flag on rm_calls (projections.escalation).
ATTENTION = ("ready_to_resolve", "pending_extension", "returned_order")


@dataclass(frozen=True)
class CallFilter:
    """What a search asks for; every part given must hold (None or empty: any)."""

    unit: str | None = None
    statuses: tuple[str, ...] = ()
    level: str | None = None
    overdue: bool | None = None
    item: str | None = None
    words: tuple[str, ...] = ()  # free text: each in the title or description
    raised_from: datetime | None = None  # inclusive
    raised_before: datetime | None = None  # exclusive
    channels: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()
    attention: tuple[tuple[str, bool], ...] = ()  # (flag of ATTENTION, wanted)

    def page(self, query: Select[Any], org: Org, now: datetime, after: int, dialect: str) -> Select[Any]:
        """``query`` (over rm_calls) narrowed to what is asked, from the cursor on, in order."""
        cursor: ColumnElement[int] = rm_calls.c.seq
        query = query.where(*self._wanted(org, now, dialect))
        if self.words:
            how = text_index(dialect, among_open_calls=self.on_ledger_only)
            query, cursor = by_text(query, self.words, how=how)
        return query.where(cursor > after).order_by(cursor)

    def _wanted(self, org: Org, now: datetime, dialect: str) -> list[ColumnElement[bool]]:
        """Every condition asked for but the free text."""
        c = rm_calls.c
        wanted: list[ColumnElement[bool]] = [c[flag] == value for flag, value in self.attention]
        if self.unit:
            wanted.append(concerns_unit(self.unit, org, on_ledger=self.on_ledger_only))
        for column, values in (
            (c.status, self.statuses),
            (c.channel, self.channels),
            (c.urgency, self.urgencies),
        ):
            if values:
                wanted.append(column.in_(values))
        if self.level:
            wanted.append(c.level == self.level)
        if self.item:
            wanted.append(c.item_code == self.item)
        if self.overdue is not None:
            wanted.append(overdue(now) if self.overdue else ~overdue(now))
        if self.raised_from is not None:
            wanted.append(c.raised_at >= self.raised_from)
        if self.raised_before is not None:
            wanted.append(c.raised_at < self.raised_before)
        if self.on_ledger_only and not (self._asks_ledger_statuses and dialect == "postgresql"):
            # Already implied: lets the ledger's indexes serve the page. SQLite uses a partial
            # index only where the query repeats its WHERE. PostgreSQL proves that the statuses
            # asked for imply it, and told twice it counts them twice: at a million calls it
            # expected 257 of a street's 5,998 resolved calls and walked the status index.
            wanted.append(ON_LEDGER)
        return wanted

    @property
    def on_ledger_only(self) -> bool:
        """Whether everything asked for is on the ledger: only ledger statuses, overdue ones, or
        those awaiting the street's decision (a flag of ATTENTION set: each is set only while the
        call's orders are active, ``projections.escalation.awaiting_the_street``). A street's
        "ready to resolve" list then walks its open calls, not every call it ever had."""
        return bool(self.overdue) or self._asks_ledger_statuses or any(wanted for _, wanted in self.attention)

    @property
    def _asks_ledger_statuses(self) -> bool:
        return bool(self.statuses) and set(self.statuses) <= set(LEDGER_STATUSES)


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next: int | None


def search_calls(
    conn: Connection, principal: Principal, org: Org, f: CallFilter, now: datetime, after: int, limit: int
) -> Page:
    seen = visible_calls(principal, org, on_ledger=f.on_ledger_only)
    return _page_of(conn, f, seen, org, now, after, limit)


def ledger(
    conn: Connection,
    principal: Principal,
    org: Org,
    unit: str,
    f: CallFilter,
    now: datetime,
    after: int,
    limit: int,
) -> tuple[dict[str, Any], Page]:
    """台账: the unit's open problems, until each is struck off (销号). The summary counts the
    whole ledger; ``f`` narrows the page."""
    scope = on_the_ledger(principal, org, unit)
    tallied = _tallied_scopes(principal, org, unit)
    if tallied is not None and in_step(conn):
        summary = _summary_of_tallies(conn, tallied) | {"overdue": _overdue_in(conn, tallied, org, now)}
    else:
        summary = _summary_of_calls(conn, scope, now)
    return {"unit": unit, **summary}, _page_of(conn, f, scope, org, now, after, limit)


# Who sees every call of each unit it may read (visible_calls): a member unit reads figures only.
SEE_BY_UNIT = frozenset({*DISTRICT_WIDE, Role.GRID_WORKER, Role.COMMUNITY, Role.STREET, Role.DEPARTMENT})


def _tallied_scopes(principal: Principal, org: Org, unit: str) -> list[str] | None:
    """The 台账 tallies' scopes whose calls are the ledger's, when the principal sees all of the
    unit's calls (else None: the calls it sees are counted instead). The district's: its streets'."""
    if not (principal.role in SEE_BY_UNIT and may_read_unit(principal, org, unit)):
        return None
    if org.kind_of(unit) is UnitKind.DISTRICT:
        return [s.code for s in org.of_kind(UnitKind.STREET)]
    return [unit]


def _summary_of_tallies(conn: Connection, scopes: list[str]) -> dict[str, Any]:
    t = rm_ledger_tallies.c
    flags = [t[flag] for flag in ATTENTION]
    found = conn.execute(select(t.status, *flags, t.calls).where(t.scope.in_(scopes))).all()
    by_status: dict[str, int] = defaultdict(int)
    for status, *_, calls in found:
        by_status[status] += calls
    attention = {flag: sum(r[-1] for r in found if r[1 + i]) for i, flag in enumerate(ATTENTION)}
    return {"open": sum(by_status.values()), "by_status": dict(by_status), **attention}


def _overdue_in(conn: Connection, scopes: list[str], org: Org, now: datetime) -> int:
    """The calls past due now: a range of each scope's unsettled calls' next due instants."""
    units = or_(*(concerns_unit(unit, org, on_ledger=True) for unit in scopes))
    return int(conn.scalar(select(func.count()).where(units, overdue(now))) or 0)


def _summary_of_calls(conn: Connection, scope: ColumnElement[bool], now: datetime) -> dict[str, Any]:
    counted = [overdue(now), *(rm_calls.c[flag] for flag in ATTENTION)]
    groups = conn.execute(
        select(rm_calls.c.status, func.count(), *(func.sum(x.cast(Integer())) for x in counted))
        .where(scope)
        .group_by(rm_calls.c.status)
    ).all()
    by_status = {g[0]: g[1] for g in groups}
    overdue_now, *attention = (sum(int(g[i] or 0) for g in groups) for i in range(2, 2 + len(counted)))
    return {
        "open": sum(by_status.values()),
        "overdue": overdue_now,
        "by_status": by_status,
        **dict(zip(ATTENTION, attention, strict=True)),
    }


def _page_of(
    conn: Connection,
    f: CallFilter,
    scope: ColumnElement[bool],
    org: Org,
    now: datetime,
    after: int,
    limit: int,
) -> Page:
    """A page of the calls in ``scope`` that ``f`` asks for: which they are first, from an index
    alone where it holds every column asked about, then only their rows (a call's row is wide,
    and a page may pass over many calls before it has found ``limit``)."""
    c = rm_calls.c
    found = f.page(select(c.seq).where(scope), org, now, after, conn.dialect.name).limit(limit + 1)
    query = select(rm_calls, overdue(now).label("overdue")).where(c.seq.in_(found)).order_by(c.seq)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1]["seq"] if more and rows else None)
