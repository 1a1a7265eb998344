"""呼叫状态 — escalation state: where each call stands (level, holder, status, chain) and what its
holder street has to decide; and, apart, its text for the search."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sqlalchemy import Table

from huying.domain.call import Call
from huying.domain.deadlines import standing, watched_due
from huying.domain.states import ORDERS_ACTIVE, OrderStatus, Status
from huying.domain.transitions import TABLE, Action, Situation
from huying.domain.worktime import WorkCalendar
from huying.projections.rows import Row, instants_text
from huying.projections.tables import rm_call_text, rm_calls
from huying.projections.text import terms

_SETTLED = frozenset({Status.RESOLVED, Status.EVALUATED, Status.CLOSED})


class EscalationState:
    kind = Call
    key = "call_id"
    tables: tuple[Table, ...] = (rm_calls,)

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
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
                    "response_due": call.stint.response_due,
                    "resolution_due": call.stint.resolution_due,
                    "lat": where.get("lat"),
                    "lon": where.get("lon"),
                    **_clock_columns(call, self.calendar),
                    **awaiting_the_street(call),
                }
            ]
        }


class CallText:
    """全文检索 — a call's title and description as the search's terms. Only ``Raised`` gives them,
    so the rows are written once, when the call is raised, and never replaced (``written_once``:
    the runner neither recomputes them nor churns the text index for a call's later events)."""

    kind = Call
    key = "call_id"
    tables: tuple[Table, ...] = (rm_call_text,)
    written_once = True

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        return {
            rm_call_text: [
                {"seq": positions[1], "call_id": str(call.id), "terms": terms(call.title, call.description)}
            ]
        }


def _clock_columns(call: Call, calendar: WorkCalendar) -> Row:
    """What the events decide of the call's clocks; the lists read them as of "now"."""
    clocks = standing(call, calendar, now=None)
    return {
        "next_due": clocks.next_due,
        "watch_due": watched_due(call, clocks),
        "due_soon_at": clocks.due_soon_at,
        "ever_breached": clocks.ever_breached,
        "clock_time": clocks.clock_time,
        "running_dues": instants_text(
            c.clock.due for c in clocks.clocks if c.clock.due and c.clock.stopped is None
        ),
    }


def awaiting_the_street(call: Call) -> Row:
    """What the holder street has to decide, by the transition table's own rules: resolve (the
    lead order is completed), an extension request, an order returned (退单) from its latest
    dispatch."""
    situation = Situation(now=call.updated_at)  # neither rule reads the time
    orders = list(call.work_orders.values())
    latest = max((o.dispatched_at for o in orders), default=None)
    return {
        "ready_to_resolve": call.status is Status.DISPATCHED
        and TABLE[Action.RESOLVE].refusal(call, situation) is None,
        "pending_extension": any(
            TABLE[Action.GRANT_EXTENSION].refusal(call, replace(situation, order=o)) is None for o in orders
        ),
        "returned_order": call.status in ORDERS_ACTIVE
        and any(o.status is OrderStatus.RETURNED and o.dispatched_at == latest for o in orders),
    }
