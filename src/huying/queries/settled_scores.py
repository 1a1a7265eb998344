"""A period's scores as the read side serves them and a publication freezes them: judged as of
the period's cutoff once it has passed (``queries.settled``, docs/metrics.md §12) — the unit
scores (``GET /api/v1/scores/units``) and the assessment built on them (``GET /api/v1/scores/
assessment``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from huying.domain.org import Org, UnitKind
from huying.domain.worktime import WorkCalendar
from huying.queries.assessment import Rules, assessment
from huying.queries.scores import Period, unit_scores
from huying.queries.settled import Judged, cutoff
from huying.settings import Settings


def settles_at(period: Period, calendar: WorkCalendar, settings: Settings) -> datetime:
    """The period's cutoff under the configured settling window."""
    return cutoff(period.first, period.last, calendar, settings.settle_working_days)


def assessment_rules(settings: Settings) -> Rules:
    return Rules(settings.assessment_weights, settings.supervision_deduction, settings.min_evaluated_for_rank)


def settled_scores(
    conn: Connection,
    org: Org,
    kind: UnitKind,
    period: Period,
    now: datetime,
    calendar: WorkCalendar,
    settings: Settings,
    *,
    assessed: bool = False,
) -> tuple[datetime, list[dict[str, Any]]]:
    """The period's cutoff, and its unit scores of ``kind`` — or, ``assessed``, their 考核 —
    as of the cutoff once it has passed (``GET /api/v1/scores/units`` and ``/assessment`` serve
    them, a publication freezes them)."""
    at = settles_at(period, calendar, settings)
    if assessed:
        return at, assessment(conn, org, kind, period, assessment_rules(settings), Judged(now, at))
    least = settings.min_evaluated_for_rank
    return at, unit_scores(conn, org, kind, period, now, settings.score_weights, least, at)
