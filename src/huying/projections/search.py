"""Queries over the escalation state: the call search and the 台账 ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, and_, func, select

from huying.domain.org import Org
from huying.domain.principal import Principal
from huying.domain.states import TERMINAL, Status
from huying.projections.scope import concerns_unit, visible_calls
from huying.projections.tables import rm_calls

# Still owed an answer: the clocks can run out on these.
UNSETTLED = tuple(
    s.value for s in (Status.AWAITING_RESPONSE, Status.IN_PROGRESS, Status.DISPATCHED, Status.RETURNED)
)
# On the ledger until struck off (销号), withdrawn or merged.
ON_LEDGER = tuple(s.value for s in Status if s not in TERMINAL)


def overdue(now: datetime) -> ColumnElement[bool]:
    """Unsettled, and one of its running clocks (its own stint's, or an open order's) is past due."""
    return and_(rm_calls.c.status.in_(UNSETTLED), rm_calls.c.next_due.is_not(None), rm_calls.c.next_due < now)


@dataclass(frozen=True)
class CallFilter:
    unit: str | None = None
    statuses: tuple[str, ...] = ()
    level: str | None = None
    overdue: bool | None = None
    item: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next: int | None


def search_calls(
    conn: Connection, principal: Principal, org: Org, f: CallFilter, now: datetime, after: int, limit: int
) -> Page:
    late = overdue(now)
    query = select(rm_calls, late.label("overdue")).where(
        visible_calls(principal, org), rm_calls.c.seq > after
    )
    if f.unit:
        query = query.where(concerns_unit(f.unit, org))
    if f.statuses:
        query = query.where(rm_calls.c.status.in_(f.statuses))
    if f.level:
        query = query.where(rm_calls.c.level == f.level)
    if f.item:
        query = query.where(rm_calls.c.item_code == f.item)
    if f.overdue is not None:
        query = query.where(late if f.overdue else ~late)
    rows = [dict(r._mapping) for r in conn.execute(query.order_by(rm_calls.c.seq).limit(limit + 1))]
    return _page(rows, limit, "seq")


def ledger(
    conn: Connection, principal: Principal, org: Org, unit: str, now: datetime, after: int, limit: int
) -> tuple[dict[str, Any], Page]:
    """台账: the unit's open problems, until each is struck off (销号)."""
    scope = and_(visible_calls(principal, org), concerns_unit(unit, org), rm_calls.c.status.in_(ON_LEDGER))
    late = overdue(now)
    counts = conn.execute(
        select(rm_calls.c.status, func.count(), func.sum(late.cast(Integer())))
        .where(scope)
        .group_by(rm_calls.c.status)
    ).all()
    by_status = {status: n for status, n, _ in counts}
    summary = {
        "unit": unit,
        "open": sum(by_status.values()),
        "overdue": sum(int(o or 0) for _, _, o in counts),
        "by_status": by_status,
    }
    query = (
        select(rm_calls, late.label("overdue"))
        .where(scope, rm_calls.c.seq > after)
        .order_by(rm_calls.c.seq)
        .limit(limit + 1)
    )
    rows = [dict(r._mapping) for r in conn.execute(query)]
    return summary, _page(rows, limit, "seq")


def _page(rows: list[dict[str, Any]], limit: int, cursor: str) -> Page:
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1][cursor] if more and rows else None)
