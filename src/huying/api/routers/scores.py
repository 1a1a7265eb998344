"""三项考评 — 一呼一评 scores: per call, and per street or department (docs/metrics.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Query

from huying.api.deps import CurrentPrincipal, HuyingServices, ReadPosition, parse_call_id
from huying.api.params import Period
from huying.api.respond import Answer
from huying.api.routing import Router
from huying.api.schemas.figures import CallScore, ScoreWeights, UnitScores
from huying.domain.errors import NotPermitted
from huying.domain.jurisdiction import may_read_unit
from huying.domain.org import UnitKind
from huying.projections.runner import ReadModelsBehind
from huying.queries.dashboard import Granularity, local_day, period_of
from huying.queries.scores import call_record, parse_period
from huying.queries.settled_scores import settled_scores

router = Router(prefix="/api/v1/scores", tags=["read models"])


class ScoredKind(StrEnum):
    COMMUNITY = "community"  # 社区
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
) -> Answer[UnitScores]:
    """响应率, 解决率, 满意率, the weighted composite and the dense rank of every community, street
    or department, with 退单率, 重办率, 督办 and every count behind them. Units with fewer
    evaluated calls than the minimum are listed without a rank. Each unit reads its own figures
    and those of the units below it (ranked among all); supervisors, auditors and admins all."""
    now = s.clock.now()
    chosen = parse_period(period or period_of(local_day(now), Granularity.MONTH)[0])
    org, settings = s.app.org, s.settings
    readable = {u.code for u in org.of_kind(UnitKind(kind.value)) if may_read_unit(p, org, u.code)}
    if not readable:
        raise NotPermitted(f"scores of {kind.value} units: you may read your own unit's and those below it")
    with s.engine.connect() as conn:
        settles_at, ranked = settled_scores(
            conn, org, UnitKind(kind.value), chosen, now, s.app.calendar, settings
        )
    data = [row for row in ranked if row["unit"] in readable]
    response, solve, satisfaction = settings.score_weights
    scores = UnitScores.model_validate(
        {
            "kind": kind.value,
            "period": chosen.label,
            "from": chosen.first,
            "to": chosen.last,
            "timezone": "Asia/Shanghai",
            "now": now,
            "settles_at": settles_at,
            "settled": settles_at <= now,
            "weights": ScoreWeights(response=response, solve=solve, satisfaction=satisfaction),
            "min_evaluated_for_rank": settings.min_evaluated_for_rank,
            "data": data,
            "position": position,
        }
    )
    return Answer(scores)


@router.get("/calls/{call_id}", response_model=CallScore)
def score_of_call(call_id: str, p: CurrentPrincipal, s: HuyingServices, position: ReadPosition) -> CallScore:
    """The 一呼一评 record of one call: per round, each level's response (on time?), the
    department orders, and the evaluation (solved? satisfaction? contacted? reopened?)."""
    call = s.calls.call_for(p, parse_call_id(call_id))
    with s.engine.connect() as conn:
        record = call_record(conn, str(call.id), s.clock.now())
    if record is None:
        raise ReadModelsBehind(f"read models are at {position} and have not reached call {call.id} yet")
    return CallScore(**record, position=position)
