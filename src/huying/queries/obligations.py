"""One call's obligations as stored (its 一呼一评 record): ``projections.obligations`` says
what they are."""

from __future__ import annotations

from sqlalchemy import Connection, select

from huying.projections.obligations import Obligation, of_call
from huying.projections.tables import rm_calls, rm_stints, rm_work_orders
from huying.queries.queues import BY_ARRIVAL


def call_obligations(conn: Connection, call_id: str) -> list[Obligation]:
    """One call's obligations as stored, in arrival order."""
    grid = conn.execute(select(rm_calls.c.grid_code).where(rm_calls.c.call_id == call_id)).scalar()
    if grid is None:
        return []
    stints = [
        dict(r) for r in conn.execute(select(rm_stints).where(rm_stints.c.call_id == call_id)).mappings()
    ]
    orders = [
        dict(r)
        for r in conn.execute(
            select(rm_work_orders).where(rm_work_orders.c.call_id == call_id).order_by(*BY_ARRIVAL)
        ).mappings()
    ]
    return sorted(of_call(stints, orders, grid), key=lambda o: o.arrived_at)
