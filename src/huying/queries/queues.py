"""工单队列 — what a department pulls: its work orders changed since a cursor, in arrival order
(the rows ``huying.projections.work_orders`` writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, func, select, tuple_

from huying.domain.states import OPEN_ORDER, arrival
from huying.projections.tables import rm_calls, rm_work_orders

# Work orders by arrival (``huying.domain.states.arrival``), in SQL: an id is the call's id (a
# UUID: always 36 characters), "-w" and the order's number, so among one call's orders a shorter
# id has the smaller number, and ids of one length compare as their numbers do.
BY_ARRIVAL = (rm_work_orders.c.call_id, func.length(rm_work_orders.c.order_id), rm_work_orders.c.order_id)


def arrived_after(order_id: str) -> ColumnElement[bool]:
    """The orders that arrived after this one (``BY_ARRIVAL`` order)."""
    call_id, _ = arrival(order_id)
    return tuple_(*BY_ARRIVAL) > tuple_(call_id, len(order_id), order_id)


def department_queue(
    conn: Connection, department: str, statuses: tuple[str, ...], now: datetime, after: int, limit: int
) -> list[dict[str, Any]]:
    """A department's orders changed since ``after`` (the cursor), oldest change first."""
    late = (
        rm_work_orders.c.status.in_([s.value for s in OPEN_ORDER])
        & rm_work_orders.c.next_due.is_not(None)
        & (rm_work_orders.c.next_due < now)
    )
    # The call says whether its clocks count clock time (应急处置) or working time.
    query = (
        select(rm_work_orders, late.label("overdue"), rm_calls.c.clock_time)
        .join(rm_calls, rm_calls.c.call_id == rm_work_orders.c.call_id)
        .where(rm_work_orders.c.department_code == department, rm_work_orders.c.updated_position > after)
    )
    if statuses:
        query = query.where(rm_work_orders.c.status.in_(statuses))
    ordered = query.order_by(rm_work_orders.c.updated_position, *BY_ARRIVAL)
    rows = _first(conn, ordered, statuses, limit + 1)
    if len(rows) > limit:
        # One event can change two of a department's orders (a re-dispatch cancels the old one):
        # never end a page between them, or the cursor would skip one.
        edge = rows[limit - 1]["updated_position"]
        rows = rows[:limit]
        rows += [
            dict(r._mapping)
            for r in conn.execute(
                ordered.where(rm_work_orders.c.updated_position == edge, arrived_after(rows[-1]["order_id"]))
            )
        ]
    return rows


def _first(conn: Connection, ordered: Select[Any], statuses: tuple[str, ...], n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows of the queue. With several statuses asked for, each status's first
    ``n`` (one ordered range of the department's (status, position) index each) merged: one
    query for all of them would walk every order of the department in order of change, of which
    the open ones are the last few percent."""
    if len(statuses) <= 1:
        return [dict(r._mapping) for r in conn.execute(ordered.limit(n))]
    found = [
        dict(r._mapping)
        for status in statuses
        for r in conn.execute(ordered.where(rm_work_orders.c.status == status).limit(n))
    ]
    found.sort(key=lambda r: (r["updated_position"], *arrival(r["order_id"])))
    return found[:n]
