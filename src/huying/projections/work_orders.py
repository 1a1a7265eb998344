"""工单队列 — department work queues: one row per work order, cursor = last change position; and
each department's 台账: the calls on the ledger it has or had an order on."""

from __future__ import annotations

from collections.abc import Mapping
from weakref import ref

from sqlalchemy import Table

from huying.domain.call import Call
from huying.domain.deadlines import ClockState, standing
from huying.domain.worktime import WorkCalendar
from huying.projections.rows import Row, instants_text
from huying.projections.tables import LEDGER_STATUSES, rm_department_ledger, rm_work_orders


class WorkQueues:
    kind = Call
    key = "call_id"
    tables: tuple[Table, ...] = (rm_work_orders,)

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        return {rm_work_orders: order_rows(call, positions, self.calendar)}


class DepartmentLedgers:
    """A row per department with an order on the call (``Call.departments_involved``, whom
    ``domain.jurisdiction.can_see`` shows it to) while the call is on the ledger: the
    department's open work, kept apart from every order it had (``queries.scope``)."""

    kind = Call
    key = "call_id"
    tables: tuple[Table, ...] = (rm_department_ledger,)

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        if call.status.value not in LEDGER_STATUSES:
            return {rm_department_ledger: []}
        return {
            rm_department_ledger: [
                {"call_id": str(call.id), "department_code": d, "seq": positions[1]}
                for d in sorted(call.departments_involved)
            ]
        }


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
            "extension_until": o.extension.until if o.extension else None,
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
