"""审计: the global event feed and the exports — for auditors only."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Query
from fastapi.responses import StreamingResponse

from huying.api.deps import CurrentPrincipal, HuyingServices, ReadPosition
from huying.api.params import DateText, From, LogCursor, Period, To
from huying.api.present import unvouched_entry
from huying.api.routing import Router
from huying.api.schemas.audit import EventPage
from huying.audit.export import KINDS, Headers, event_lines, period_between, score_csv, score_table
from huying.audit.feed import EventFeed, FeedQuery, event_types, window
from huying.domain.errors import NotPermitted
from huying.domain.org import UnitKind
from huying.domain.principal import Principal, Role
from huying.queries.dashboard import local_day

router = Router(prefix="/api/v1", tags=["audit"])

TypeFilter = Annotated[
    str | None,
    Query(alias="type", max_length=1000, description="comma-separated event types, e.g. Raised,Closed"),
]


class ExportKind(StrEnum):
    COMMUNITY = "community"
    STREET = "street"
    DEPARTMENT = "department"


def _auditor_only(p: Principal, what: str) -> None:
    if p.role is not Role.AUDITOR:
        raise NotPermitted(f"{what}: only an auditor may read it")


@router.get("/events", response_model=EventPage)
def event_feed(
    p: CurrentPrincipal,
    s: HuyingServices,
    after: LogCursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    types: TypeFilter = None,
    from_: From = None,
    to: To = None,
) -> EventPage:
    """The global ordered event feed: every event after the cursor, in log order, with its
    call, type, version, actor, business time ``at``, recorded time and data. Reporter contact
    details never appear (events carry only ``reporter_ref``). A stored event huying cannot
    vouch for is not shown as an event: ``unvouched`` names its position and how."""
    query = FeedQuery(event_types(types), window(from_, to))
    _auditor_only(p, "the event feed")
    page = EventFeed(s.app).page(query, after, limit)
    return EventPage.model_validate(
        {
            "data": page.records,
            "next": page.next,
            "position": page.position,
            "unvouched": [unvouched_entry(f) for f in page.unvouched],
        }
    )


@router.get(
    "/exports/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON Lines, one event a line"}},
)
def export_events(
    p: CurrentPrincipal, s: HuyingServices, types: TypeFilter = None, from_: From = None, to: To = None
) -> StreamingResponse:
    """A period's events as JSON Lines (streamed), as the feed shows them."""
    query = FeedQuery(event_types(types), window(from_, to))
    _auditor_only(p, "the event export")
    return StreamingResponse(
        event_lines(EventFeed(s.app), query),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="huying-events.jsonl"'},
    )


@router.get(
    "/exports/scores",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, one street or department a line"}},
)
def export_scores(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    kind: ExportKind | None = None,
    period: Annotated[
        Period | None, Query(description="YYYY-MM, YYYY-Qn or YYYY; default this month")
    ] = None,
    from_: Annotated[DateText | None, Query(alias="from", description="first date")] = None,
    to: Annotated[DateText | None, Query(description="last date, inclusive")] = None,
    headers: Annotated[
        Headers, Query(description="zh: Chinese headers after a UTF-8 BOM (Excel); en: the field codes")
    ] = Headers.ZH,
) -> StreamingResponse:
    """三项考评 of every street and/or department for a period as CSV: 响应率, 解决率, 满意率,
    composite, rank, and every count behind them."""
    now = s.clock.now()
    chosen = period_between(from_, to, period, local_day(now))
    _auditor_only(p, "the score export")
    kinds = KINDS if kind is None else (UnitKind(kind.value),)
    rows = score_table(s.engine, s.app.org, kinds, chosen, now, s.app.calendar, s.settings)
    return StreamingResponse(
        score_csv(rows, headers),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="huying-scores-{chosen.label}.csv"',
            "X-Read-Position": str(position),
        },
    )
