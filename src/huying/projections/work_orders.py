"""工单队列 — department work queues: one row per work order, cursor = last change position."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from weakref import ref

from sqlalchemy import ColumnElement, Connection, Select, Table, func, select, tuple_

from huying.domain.call import Call
from huying.domain.deadlines import ClockState, standing
from huying.domain.states import OPEN_ORDER, arrival
from huying.domain.worktime import WorkCalendar
from huying.projections.rows import Row, instants_text
from huying.projections.tables import rm_calls, rm_work_orders

# Work orders by arrival (``huying.domain.states.arrival``), in SQL: an id is the call's id (a
# UUID: always 36 characters), "-w" and the order's number, so among one call's orders a shorter
# id has the smaller number, and ids of one length compare as their numbers do.
BY_ARRIVAL = (rm_work_orders.c.call_id, func.length(rm_work_orders.c.order_id), rm_work_orders.c.order_id)


def arrived_after(order_id: str) -> ColumnElement[bool]:
    """The orders that arrived after this one (``BY_ARRIVAL`` order)."""
    call_id, _ = arrival(order_id)
    return tuple_(*BY_ARRIVAL) > tuple_(call_id, len(order_id), order_id)


class WorkQueues:
    tables: tuple[Table, ...] = (rm_work_orders,)

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        return {rm_work_orders: order_rows(call, positions, self.calendar)}


def order_rows(call: Call, positions: Mapping[int, int], calendar: WorkCalendar) -> list[Row]:
    """The call's orders as stored (two read models ask for the same call one after the other
    in a batch: the last answer is remembered, as ``standing`` does)."""
    global _last
    last = _last
    if last is not None and last[0]() is call and last[1] == call.version:
        return last[2]
    found = _order_rows(call, positions, calendar)
    _last = (ref(call), call.version, found)
    return found


_last: tuple[ref[Call], int, list[Row]] | None = None


def _order_rows(call: Call, positions: Mapping[int, int], calendar: WorkCalendar) -> list[Row]:
    clocks_of: dict[str, list[ClockState]] = {}
    for c in standing(call, calendar, now=None).clocks:
        clocks_of.setdefault(c.clock.key.rpartition(":")[0], []).append(c)
    return [
        {
            "order_id": o.id,
            "call_id": str(call.id),
            "department_code": o.department_code,
            "role": o.role.value,
            "status": o.status.value,
            "deadline": o.deadline,
            "instructions": o.instructions,
            "dispatched_at": o.dispatched_at,
            "signed_at": o.signed_at,
            "completed_at": o.completed_at,
            "extension_until": o.extension["until"] if o.extension else None,
            "result": o.result,
            "round": o.round,
            "updated_position": positions[o.last_version],
            "item_code": call.item_code,
            "title": call.title,
            "street_code": call.street_code,
            "call_status": call.status.value,
            "sign_due": o.sign_due,
            "settled_at": o.settled_at,
            **_due(clocks_of.get(o.id, [])),
        }
        for o in call.work_orders.values()
    ]


def _due(clocks: list[ClockState]) -> Row:
    """An order's SLA columns from its clocks (sign and completion)."""
    running = [c for c in clocks if c.clock.stopped is None and c.clock.due is not None]
    return {
        "next_due": min((c.clock.due for c in running if c.clock.due), default=None),
        "running_dues": instants_text(c.clock.due for c in running if c.clock.due),
        "due_soon_at": min((c.warn_at for c in running), default=None),
        "ever_breached": any(c.late for c in clocks),
    }


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
