"""SLA 看板 — per unit, level and period (definitions: docs/metrics.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query

from huying.api.deps import CurrentPrincipal, HuyingServices, ReadPosition
from huying.api.respond import Answer
from huying.api.routing import Router
from huying.api.schemas.base import Day
from huying.api.schemas.figures import SlaDashboard
from huying.domain.errors import CallNotFound, InvalidCommand
from huying.domain.jurisdiction import home_unit, may_read_unit
from huying.queries.dashboard import MAX_BUCKETS, Granularity, buckets, default_first, local_day
from huying.queries.dashboard import sla_dashboard as dashboard_of

router = Router(prefix="/api/v1/dashboards", tags=["read models"])


@router.get("/sla", response_model=SlaDashboard)
def sla_dashboard(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    unit: Annotated[
        str | None, Query(max_length=64, description="default: the district, or your own unit")
    ] = None,
    from_: Annotated[
        Day | None, Query(alias="from", description="first Asia/Shanghai date (inclusive)")
    ] = None,
    to: Annotated[Day | None, Query(description="last Asia/Shanghai date, inclusive; default today")] = None,
    granularity: Granularity = Granularity.DAY,
    empty_buckets: Annotated[
        bool, Query(description="also list the periods where nothing arrived (every figure 0)")
    ] = False,
) -> Answer[SlaDashboard]:
    """Per unit and level, per day / ISO week / month: received, responded, resolved, on time,
    open and overdue now, escalations caused, response and resolution time p50/p90 — for the
    calls that arrived in each period — and the backlog open, overdue and due soon now. A street
    also gets its communities' figures. Periods where nothing arrived are left out unless
    ``empty_buckets=true``."""
    org = s.app.org
    unit = unit or home_unit(p, org)
    if org.unit(unit) is None:
        raise InvalidCommand("unit", f"no unit {unit} in org {org.version}")
    now = s.clock.now()
    first, last = window(from_, to, granularity, local_day(now))
    if not may_read_unit(p, org, unit):
        raise CallNotFound(f"no unit {unit} in your jurisdiction")
    with s.engine.connect() as conn:
        body = dashboard_of(
            conn, org, unit, first, last, granularity, now, s.app.calendar, empty_buckets=empty_buckets
        )
    return Answer(SlaDashboard(**body, position=position))


def window(first: date | None, last: date | None, granularity: Granularity, today: date) -> tuple[date, date]:
    """The dates asked for; by default ``default_first`` to today."""
    last = last or today
    first = default_first(last, granularity) if first is None else first
    if first > last:
        raise InvalidCommand("from", f"from {first} is after to {last}")
    if (last - first).days >= MAX_BUCKETS * 31 or len(buckets(first, last, granularity)) > MAX_BUCKETS:
        raise InvalidCommand("from", f"at most {MAX_BUCKETS} {granularity.value}s per request")
    return first, last
