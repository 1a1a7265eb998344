"""A period's unit scores as ``GET /api/v1/scores/units`` serves them and a publication freezes
them: judged as of the period's cutoff once it has passed (``queries.settled``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from huying.domain.org import Org, UnitKind
from huying.domain.worktime import WorkCalendar
from huying.queries.scores import Period, unit_scores
from huying.queries.settled import cutoff
from huying.settings import Settings


def settled_unit_scores(
    conn: Connection,
    org: Org,
    kind: UnitKind,
    period: Period,
    now: datetime,
    calendar: WorkCalendar,
    settings: Settings,
) -> tuple[datetime, list[dict[str, Any]]]:
    """The period's cutoff, and its unit scores of ``kind`` — as of the cutoff once it has passed
    (``GET /api/v1/scores/units`` serves them, a publication freezes them)."""
    settles_at = cutoff(period.first, period.last, calendar, settings.settle_working_days)
    ranked = unit_scores(
        conn, org, kind, period, now, settings.score_weights, settings.min_evaluated_for_rank, settles_at
    )
    return settles_at, ranked
