"""部门年度考核 / 街道综合考核: the answer of ``GET /api/v1/scores/assessment`` (docs/metrics.md §11)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AssessmentComponents(BaseModel):
    satisfaction: float | None = Field(description="residents' 满意率: content / contacted")
    caller_rating: float | None = Field(
        description="callers' ratings: content / ratings (一呼一评 by the caller)"
    )
    response: float | None = Field(description="响应率: responded on time / response owed")
    solve: float | None = Field(description="解决率: solved / contacted")
    directives: float | None = Field(description="令行禁止: deadlines met / deadlines judged")


class AssessmentCounts(BaseModel):
    contacted: int
    content: int
    solved: int
    response_owed: int
    responded_on_time: int
    ratings: int
    ratings_content: int
    directive_judged: int
    directive_met: int
    supervised: int = Field(description="督办 charged to the unit (and, for a street, its communities)")
    supervised_moved_in: int = Field(description="of those, moved onto a department from a street's clock")
    supervised_moved_out: int = Field(description="督办 on the unit's clock charged to a late department")


class AssessedUnit(BaseModel):
    unit: str
    name: str
    kind: Literal["street", "department"]
    rank: int | None
    composite: float | None
    components: AssessmentComponents
    deduction: float
    evaluated_calls: int
    pooled: list[str] = Field(
        description="the units whose counts are pooled with the unit's own: a street's communities"
    )
    counts: AssessmentCounts


class AssessmentWeights(BaseModel):
    satisfaction: float
    caller_rating: float
    response: float
    solve: float
    directives: float


class Assessment(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["street", "department"]
    period: str
    from_: date = Field(alias="from")
    to: date
    timezone: str
    now: datetime
    settles_at: datetime = Field(description="the period's cutoff (docs/metrics.md §12)")
    settled: bool = Field(description="now ≥ settles_at: judged as things stood at the cutoff")
    weights: AssessmentWeights
    supervision_deduction: float
    min_evaluated_for_rank: int
    data: list[AssessedUnit]
    position: int
