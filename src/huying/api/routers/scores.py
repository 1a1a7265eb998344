"""三项考评 — 一呼一评 scores: per call, and per street or department (docs/metrics.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query

from huying.api.deps import CurrentPrincipal, HuyingServices, ReadPosition, parse_call_id
from huying.api.params import Period
from huying.api.schemas.figures import CallScore, ScoreWeights, UnitScores
from huying.domain.errors import NotPermitted
from huying.domain.org import UnitKind
from huying.domain.principal import Role
from huying.projections.dashboard import Granularity, local_day, period_of
from huying.projections.runner import ReadModelsBehind
from huying.projections.scores import call_record, parse_period, unit_scores

router = APIRouter(prefix="/api/v1/scores", tags=["read models"])

_ASSESSORS = frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN})


class ScoredKind(StrEnum):
    STREET = "street"  # 街道综合考核
    DEPARTMENT = "department"  # 部门年度考核


@router.get("/units", response_model=UnitScores)
def scores_of_units(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    kind: ScoredKind,
    period: Annotated[
        Period | None, Query(description="YYYY-MM, YYYY-Qn or YYYY; default this month")
    ] = None,
) -> UnitScores:
    """响应率, 解决率, 满意率, the weighted composite and the dense rank of every street or
    department, with 退单率, 重办率, 督办 and every count behind them. Units with fewer
    evaluated calls than the minimum are listed without a rank."""
    now = s.clock.now()
    chosen = parse_period(period or period_of(local_day(now), Granularity.MONTH)[0])
    if p.role not in _ASSESSORS:
        raise NotPermitted("scores of units: only a supervisor, an auditor or an admin may read them")
    settings = s.settings
    with s.engine.connect() as conn:
        data = unit_scores(
            conn,
            s.app.org,
            UnitKind(kind.value),
            chosen,
            now,
            settings.score_weights,
            settings.min_evaluated_for_rank,
        )
    response, solve, satisfaction = settings.score_weights
    return UnitScores.model_validate(
        {
            "kind": kind.value,
            "period": chosen.label,
            "from": chosen.first,
            "to": chosen.last,
            "timezone": "Asia/Shanghai",
            "now": now,
            "weights": ScoreWeights(response=response, solve=solve, satisfaction=satisfaction),
            "min_evaluated_for_rank": settings.min_evaluated_for_rank,
            "data": data,
            "position": position,
        }
    )


@router.get("/calls/{call_id}", response_model=CallScore)
def score_of_call(call_id: str, p: CurrentPrincipal, s: HuyingServices, position: ReadPosition) -> CallScore:
    """The 一呼一评 record of one call: per round, each level's response (on time?), the
    department orders, and the evaluation (solved? satisfaction? contacted? reopened?)."""
    call = s.app.call_for(p, parse_call_id(call_id))
    with s.engine.connect() as conn:
        record = call_record(conn, str(call.id), s.clock.now())
    if record is None:
        raise ReadModelsBehind(f"read models are at {position} and have not reached call {call.id} yet")
    return CallScore(**record, position=position)
