"""部门年度考核 and 街道综合考核: residents' evaluations, callers' ratings, SLA and 令行禁止, with
the configured weights and the fair attribution of 督办 (docs/metrics.md §11)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query

from huying.api.deps import CurrentPrincipal, HuyingServices, ReadPosition
from huying.api.params import Period
from huying.api.routing import Router
from huying.api.schemas.assessment import Assessment
from huying.domain.errors import NotPermitted
from huying.domain.jurisdiction import may_read_unit
from huying.domain.org import UnitKind
from huying.queries.assessment import COMPONENTS
from huying.queries.dashboard import local_day
from huying.queries.scores import parse_period
from huying.queries.settled_scores import settled_scores

router = Router(prefix="/api/v1/scores", tags=["read models"])


@router.get("/assessment", response_model=Assessment)
def assessment_of_units(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    kind: Literal["street", "department"],  # 街道综合考核, 部门年度考核
    period: Annotated[Period | None, Query(description="YYYY, YYYY-Qn or YYYY-MM; default this year")] = None,
) -> Assessment:
    """Every street or department: each component with the counts behind it, the weighted
    composite less the 督办 deduction, and the dense rank among all of them. Each unit reads its
    own row and those below it; supervisors, auditors and admins all (as the unit scores)."""
    now = s.clock.now()
    chosen = parse_period(period or str(local_day(now).year))
    org, settings = s.app.org, s.settings
    unit_kind = UnitKind(kind)
    readable = {u.code for u in org.of_kind(unit_kind) if may_read_unit(p, org, u.code)}
    if not readable:
        raise NotPermitted(f"assessment of {kind} units: you may read your own unit's and those below it")
    with s.engine.connect() as conn:
        settles_at, ranked = settled_scores(
            conn, org, unit_kind, chosen, now, s.app.calendar, settings, assessed=True
        )
    return Assessment.model_validate(
        {
            "kind": kind,
            "period": chosen.label,
            "from": chosen.first,
            "to": chosen.last,
            "timezone": "Asia/Shanghai",
            "now": now,
            "settles_at": settles_at,
            "settled": now >= settles_at,
            "weights": dict(zip(COMPONENTS, settings.assessment_weights, strict=True)),
            "supervision_deduction": settings.supervision_deduction,
            "min_evaluated_for_rank": settings.min_evaluated_for_rank,
            "data": [row for row in ranked if row["unit"] in readable],
            "position": position,
        }
    )
