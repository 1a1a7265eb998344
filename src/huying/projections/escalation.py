"""呼叫状态 — escalation state: where each call stands (level, holder, status, chain)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table

from huying.domain.call import Call
from huying.domain.deadlines import standing
from huying.domain.states import Status
from huying.domain.worktime import WorkCalendar
from huying.projections.rows import Row
from huying.projections.tables import rm_calls

_SETTLED = frozenset({Status.RESOLVED, Status.EVALUATED, Status.CLOSED})


class EscalationState:
    tables: tuple[Table, ...] = (rm_calls,)

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        clocks = standing(call, self.calendar, now=None)
        where = call.location or {}
        return {
            rm_calls: [
                {
                    "call_id": str(call.id),
                    "seq": positions[1],
                    "position": positions[call.version],
                    "version": call.version,
                    "item_code": call.item_code,
                    "grid_code": call.grid_code,
                    "community_code": call.community_code,
                    "street_code": call.street_code,
                    "level": call.level.value,
                    "holder": call.holder,
                    "status": call.status.value,
                    "round": call.round,
                    "urgency": call.urgency,
                    "channel": call.channel,
                    "title": call.title,
                    "raised_at": call.raised_at,
                    "updated_at": call.updated_at,
                    "resolved_at": call.stamps["last_Resolved"] if call.status in _SETTLED else None,
                    "closed_at": call.stamps.get("last_Closed"),
                    "supervised": call.supervised,
                    "response_due": call.stint.get("response_due"),
                    "resolution_due": call.stint.get("resolution_due"),
                    "next_due": clocks.next_due,
                    "due_soon_at": clocks.due_soon_at,
                    "ever_breached": clocks.ever_breached,
                    "clock_time": clocks.clock_time,
                    "lat": where.get("lat"),
                    "lon": where.get("lon"),
                }
            ]
        }
