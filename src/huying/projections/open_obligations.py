"""未了 — the obligations of a call that have not ended, one row each (``rm_open_obligations``).

What "now" decides is judged on these alone: the dashboard's backlog (open, overdue, due soon)
and its ``overdue_now``, and which unanswered responses the scores count as pending or late. A
district has a few thousand of them however long its history, so those figures are a small
scan, not a pass over every obligation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Table

from huying.domain.call import Call
from huying.domain.deadlines import standing
from huying.domain.worktime import WorkCalendar
from huying.projections.obligations import Arrival, Obligation, of_call
from huying.projections.periods import local_day
from huying.projections.rows import Row
from huying.projections.sla import stint_rows
from huying.projections.tables import rm_open_obligations
from huying.projections.work_orders import order_rows


class OpenObligations:
    kind = Call
    key = "call_id"
    tables: tuple[Table, ...] = (rm_open_obligations,)

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        if all(s.ended_at is not None for s in call.chain) and all(
            o.completed_at or o.settled_at for o in call.work_orders.values()
        ):
            return {rm_open_obligations: []}  # most calls, most of the time
        obs = of_call(stint_rows(call), order_rows(call, positions, self.calendar), call.grid_code)
        return {rm_open_obligations: [self._row(call, o) for o in obs if o.ended_at is None]}

    def _row(self, call: Call, o: Obligation) -> Row:
        running = o.running_dues()
        awaiting = (
            o.arrived_by is not Arrival.REOPEN and o.response_due is not None and o.responded_at is None
        )
        return {
            "call_id": o.call_id,
            "obligation": o.ref,
            "level": o.level.value,
            "unit": o.unit,
            "grid_code": o.grid_code,
            "arrived_at": o.arrived_at,
            "arrived_day": local_day(o.arrived_at),
            "is_open": o.is_open,
            "overdue_from": min(running, default=None),
            "due_soon_at": o.due_soon_at if o.order_id else self._stint_warning(call, o),
            "awaiting_due": o.response_due if awaiting else None,
        }

    def _stint_warning(self, call: Call, o: Obligation) -> datetime | None:
        """When the first of an open stint's own running clocks has used 80% of its time
        (docs/metrics.md §3: each obligation reads only its own clocks)."""
        if not o.is_open:
            return None
        kinds = ["resolution"]
        if o.responded_at is None and o.arrived_by is not Arrival.REOPEN:
            kinds.append("response")
        warnings = {s.clock.key: s.warn_at for s in standing(call, self.calendar, now=None).clocks}
        return min((w for k in kinds if (w := warnings.get(f"{o.ref}:{k}")) is not None), default=None)
