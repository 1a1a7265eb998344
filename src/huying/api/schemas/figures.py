"""SLA dashboard and 一呼一评 scores on the wire (definitions: docs/metrics.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from huying.domain.levels import Level
from huying.domain.states import OrderRole, Satisfaction, Status


class Percentiles(BaseModel):
    """Nearest-rank percentiles in seconds over ``n`` values (null when n is 0)."""

    n: int
    p50: float | None
    p90: float | None


class SlaFigures(BaseModel):
    """What the obligations that arrived in a period came to, as they stand now."""

    received: int
    reopened: int
    acknowledged: int
    acknowledged_on_time: int
    response_due_known: int
    resolved: int
    resolved_on_time: int
    resolution_due_known: int
    open_now: int
    overdue_now: int
    escalations_caused: int
    returned: int
    ended_otherwise: int
    response_seconds: Percentiles
    resolution_seconds: Percentiles


class SlaBucket(SlaFigures):
    period: str
    start: date
    end: date


class SlaBacklog(BaseModel):
    """Open, overdue and due soon now, whenever they arrived."""

    open: int
    overdue: int
    due_soon: int = Field(description="open, not overdue, and 80% or more of a running clock used")


class SlaSeries(BaseModel):
    unit: str
    unit_name: str
    unit_kind: str
    level: Level
    totals: SlaFigures
    buckets: list[SlaBucket] = Field(
        description="each period where something arrived (every period with empty_buckets=true)"
    )
    backlog: SlaBacklog


class SlaDashboard(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    unit: str
    unit_name: str
    unit_kind: str
    from_: date = Field(alias="from")
    to: date
    granularity: Literal["day", "week", "month"]
    timezone: str
    now: datetime
    series: list[SlaSeries]
    children: list[SlaSeries]
    position: int


class ScoreCounts(BaseModel):
    """Every numerator and denominator behind a unit's rates."""

    received: int
    response_owed: int
    responded_on_time: int
    responses: dict[str, int]
    returned: int | None
    evaluated_rounds: int
    contacted: int
    not_contacted: int
    solved: int
    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    reopened_rounds: int


class UnitScore(BaseModel):
    unit: str
    name: str
    kind: Literal["community", "street", "department"]
    rank: int | None
    composite: float | None
    response_rate: float | None
    solve_rate: float | None
    satisfaction_rate: float | None
    return_rate: float | None
    reopen_rate: float | None
    supervised: int
    evaluated_calls: int
    counts: ScoreCounts


class ScoreWeights(BaseModel):
    response: float
    solve: float
    satisfaction: float


class UnitScores(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["community", "street", "department"]
    period: str
    from_: date = Field(alias="from")
    to: date
    timezone: str
    now: datetime
    settles_at: datetime = Field(description="the period's cutoff (docs/metrics.md §12)")
    settled: bool = Field(description="past the cutoff: judged as of it, the figures no longer move")
    weights: ScoreWeights
    min_evaluated_for_rank: int
    data: list[UnitScore]
    next: int | None = None
    position: int


class ObligationScore(BaseModel):
    """One unit's part in a round: a stint (community, street) or a work order (department)."""

    level: Level
    unit: str
    order_id: str | None
    role: OrderRole | None
    arrived_by: Literal["raise", "escalation", "reopen", "dispatch"]
    arrived_at: datetime
    responded_at: datetime | None
    response_due: datetime | None
    response: Literal["on_time", "late", "untimed", "pending", "ended_before_due", "not_owed"]
    responded_on_time: bool
    ended_at: datetime | None
    outcome: str | None
    resolution_due: datetime | None
    resolved_on_time: bool


class RoundScore(BaseModel):
    round: int
    obligations: list[ObligationScore]
    evaluated: bool
    evaluated_at: datetime | None
    contacted: bool | None
    solved: bool | None
    satisfaction: Satisfaction | None
    reopened: bool
    resolved_level: Level | None
    street_code: str | None
    lead_department: str | None


class CallScore(BaseModel):
    call_id: str
    status: Status
    round: int
    community_code: str
    street_code: str
    result_round: int | None
    rounds: list[RoundScore]
    position: int
