"""一呼一评 by the caller — one row per rating a call carries — and 督办 charged fairly: one row
per flag, naming the unit it counts against (docs/metrics.md §10–11)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table

from huying.domain.call import Call
from huying.domain.clocks import clock_of
from huying.domain.levels import Level
from huying.domain.states import Supervision
from huying.projections.rating_tables import rm_caller_ratings, rm_supervision_charges
from huying.projections.rows import Row


class CallerRatings:
    kind = Call
    key = "call_id"
    tables: tuple[Table, ...] = (rm_caller_ratings, rm_supervision_charges)

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        return {
            rm_caller_ratings: _order_ratings(call) + _response_ratings(call),
            rm_supervision_charges: [_charge(call, n, s) for n, s in enumerate(call.supervisions, start=1)],
        }


def _order_ratings(call: Call) -> list[Row]:
    return [
        {
            "call_id": str(call.id),
            "target": o.id,
            "kind": "work_order",
            "round": o.round,
            "rated_unit": o.rating.rated_unit,
            "rater_unit": call.street_code,  # only the call's street dispatches, so rates, its orders
            "satisfaction": o.rating.satisfaction.value,
            "comment": o.rating.comment,
            "at": o.rating.at,
        }
        for o in call.orders_by_arrival
        if o.rating is not None
    ]


def _response_ratings(call: Call) -> list[Row]:
    return [
        {
            "call_id": str(call.id),
            "target": f"round-{round_}",
            "kind": "street_response",
            "round": round_,
            "rated_unit": r.rated_unit,
            "rater_unit": call.community_code,
            "satisfaction": r.satisfaction.value,
            "comment": r.comment,
            "at": r.at,
        }
        for round_, r in sorted(call.response_ratings.items())
    ]


def charged_unit(call: Call, flag: Supervision) -> str:
    """Whom a 督办 counts against: the flagged unit — except that a flag on a street stint's
    resolution clock, raised while a department's order was overdue, counts against the
    department of the first such order (the lead's, when the lead was late)."""
    if flag.clock is None or not flag.overdue_orders:
        return flag.unit
    missed = clock_of(call, flag.clock)  # the watchdog named a clock the call has
    if missed.level != Level.STREET.value or not missed.key.endswith(":resolution"):
        return flag.unit
    return call.work_orders[flag.overdue_orders[0]].department_code


def _charge(call: Call, n: int, flag: Supervision) -> Row:
    charged = charged_unit(call, flag)
    return {
        "call_id": str(call.id),
        "n": n,
        "flagged_unit": flag.unit,
        "charged_unit": charged,
        "moved": charged != flag.unit,
        "at": flag.at,
    }
