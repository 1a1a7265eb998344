"""审计: where the hash chain stands and whether the log verifies, the event feed, and the
exports — each through the API's own route function, so only those the API lets read them see
them (the feed and exports: auditors; verify: auditors, supervisors, admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from starlette.responses import Response

from huying.api.params import DateText, From, LogCursor, Period, To
from huying.api.routers import audit, events
from huying.audit.export import Headers
from huying.domain.errors import NotPermitted
from huying.web.context import Viewer, services_of
from huying.web.pages import page_router, register
from huying.web.render import page

router = page_router()
FEED_PAGE = 50


@router.get("/console/audit")
def audit_page(
    request: Request,
    session: Viewer,
    after: LogCursor = 0,
    types: Annotated[str | None, Query(alias="type", max_length=1000)] = None,
    check: bool = False,
) -> Response:
    s, p = services_of(request), session.principal
    verdict = audit.verify(p, s, checkpoint=[]) if check else None  # the whole log: on request only
    try:
        feed: Any = events.event_feed(p, s, after=after, limit=FEED_PAGE, types=types)
    except NotPermitted as e:  # the feed is the auditors'
        feed = e.detail
    chain = s.chain
    return page(
        request,
        "audit.html",
        session,
        title="审计 Audit",
        head=s.app.recorder.max_notification_id() or 0,
        chained=chain.tracked_position(),
        alarm=chain.alarm,
        last=chain.verdict,
        verdict=verdict,
        feed=feed,
        types=types or "",
    )


@router.get("/console/audit/export/events")
def export_events(
    request: Request,
    session: Viewer,
    types: Annotated[str | None, Query(alias="type", max_length=1000)] = None,
    from_: From = None,
    to: To = None,
) -> Response:
    """A period's events as JSON Lines — the API's export."""
    return events.export_events(session.principal, services_of(request), types, from_, to)


@router.get("/console/audit/export/scores")
def export_scores(
    request: Request,
    session: Viewer,
    kind: events.ExportKind | None = None,
    period: Annotated[Period | None, Query()] = None,
    from_: Annotated[DateText | None, Query(alias="from")] = None,
    to: Annotated[DateText | None, Query()] = None,
    headers: Headers = Headers.ZH,
) -> Response:
    """三项考评 as CSV for Excel — the API's export."""
    s = services_of(request)
    return events.export_scores(
        session.principal, s, s.projector.position(), kind, period, from_, to, headers
    )


register(router)
