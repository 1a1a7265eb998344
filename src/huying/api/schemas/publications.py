"""Published 考评 (docs/publications.md): request bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from huying.api.params import Period
from huying.api.schemas.assessment import AssessedUnit, AssessmentWeights
from huying.api.schemas.base import Body, Text
from huying.api.schemas.calls import Actor, HistoryEntry, UnvouchedEvent
from huying.api.schemas.figures import ScoreWeights, UnitScore

# The unit scores of streets or departments (§4), or their 考核 (§11: 街道综合考核, 部门年度考核).
PublishedKind = Literal["street", "department", "street_assessment", "department_assessment"]


class PublishBody(Body):
    kind: PublishedKind
    period: Period


class RepublishBody(Body):
    reason: Text = Field(description="why the published figures are corrected (required)")


class PublicationPublic(BaseModel):
    """One version of a publication: the figures frozen in its event (the rows you may read)."""

    id: str
    kind: PublishedKind
    period: str
    settles_at: datetime
    version: int = Field(description="the version shown")
    latest_version: int
    published_at: datetime
    published_by: Actor
    reason: str | None = Field(description="a re-publication's why; null for version 1")
    replaces: int | None = Field(description="the version a re-publication replaces")
    changes: list[dict[str, Any]] | None = Field(
        description="per unit, each figure that changed from the version replaced: [before, after]"
    )
    weights: ScoreWeights | AssessmentWeights
    min_evaluated_for_rank: int
    supervision_deduction: float | None = Field(
        description="an assessment's deduction per charged 督办; null for unit scores"
    )
    data: list[UnitScore] | list[AssessedUnit]
    position: int


class PublicationSummary(BaseModel):
    """One version of a publication as the read model lists it."""

    id: str
    version: int
    latest_version: int
    position: int
    kind: PublishedKind
    period: str
    settles_at: datetime
    published_at: datetime
    published_by: str
    reason: str | None
    replaces: int | None
    units_changed: int | None


class PublicationPage(BaseModel):
    data: list[PublicationSummary]
    next: int | None
    position: int


class PublicationHistory(BaseModel):
    publication_id: str
    data: list[HistoryEntry]
    unvouched: list[UnvouchedEvent] = Field(default_factory=list)
