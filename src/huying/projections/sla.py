"""SLA facts — one row per stint (a community or street holding the call at its level).

Departments' facts are their work orders (``rm_work_orders``: dispatched → signed → completed
against the order's deadline). The SLA dashboard is computed from both.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table

from huying.domain.call import Call
from huying.projections.rows import Row
from huying.projections.tables import rm_stints


class SlaFacts:
    kind = Call
    key = "call_id"
    tables: tuple[Table, ...] = (rm_stints,)

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        return {rm_stints: stint_rows(call)}


def stint_rows(call: Call) -> list[Row]:
    return [
        {
            "call_id": str(call.id),
            "n": n,
            "unit": stint.holder,
            "level": stint.level.value,
            "round": stint.round,
            "arrived_at": stint.at,
            "acknowledged_at": stint.acknowledged_at,
            "ended_at": stint.ended_at,
            "outcome": stint.outcome,
            "response_due": stint.response_due,
            "resolution_due": stint.resolution_due,
        }
        for n, stint in enumerate(call.chain, start=1)
    ]
