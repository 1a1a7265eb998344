"""一呼一评 facts — one row per evaluated round, and one per 督办 flag, for the unit scores."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Table

from huying.domain.call import Call
from huying.domain.states import OrderRole, OrderStatus
from huying.projections.attribution import Attribution, attribute
from huying.projections.rows import Row
from huying.projections.tables import rm_evaluations, rm_supervisions


class EvaluationFacts:
    kind = Call
    key = "call_id"
    tables: tuple[Table, ...] = (rm_evaluations, rm_supervisions)

    def rows(self, call: Call, positions: Mapping[int, int]) -> Mapping[Table, list[Row]]:
        return {
            rm_evaluations: [_evaluation_row(call, r) for r in sorted(call.evaluations)],
            rm_supervisions: [
                {
                    "call_id": str(call.id),
                    "n": n,
                    "unit": s.unit,
                    "at": s.at,
                    "reason": s.reason,
                }
                for n, s in enumerate(call.supervisions, start=1)
            ],
        }


def _evaluation_row(call: Call, round_: int) -> Row:
    e = call.evaluations[round_]
    attributed = round_attribution(call, round_)
    return {
        "call_id": str(call.id),
        "round": round_,
        "at": e.at,
        "contacted": e.contacted,
        "solved": e.solved,
        "satisfaction": e.satisfaction.value if e.satisfaction else None,
        "resolved_level": attributed.resolved_level,
        "community_code": call.community_code,
        "reached_community": attributed.community,
        "street_code": attributed.street,
        "lead_department": attributed.lead_department,
        "reopened": call.round > round_,
    }


def round_attribution(call: Call, round_: int) -> Attribution:
    return attribute(
        ((s.level.value, s.holder, s.outcome) for s in call.chain if s.round == round_),
        (
            o.department_code
            for o in call.work_orders.values()
            if o.round == round_ and o.role is OrderRole.LEAD and o.status is OrderStatus.COMPLETED
        ),
    )
