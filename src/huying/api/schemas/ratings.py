"""Request bodies of 一呼一评 by the caller: the street rates a department's work order, the
community its street's response."""

from __future__ import annotations

from pydantic import Field

from huying.api.schemas.base import Body, OptionalText
from huying.domain.states import Satisfaction


class RatingBody(Body):
    satisfaction: Satisfaction  # 满意 / 基本满意 / 不满意
    comment: OptionalText = None


class ResponseRatingBody(RatingBody):
    round: int | None = Field(default=None, ge=1, le=10_000, description="default: the call's current round")
