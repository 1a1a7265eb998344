"""呼叫查询: free text and filters (status, level, unit, item, period) over the API's own search
(``GET /api/v1/calls``'s route function: its query, its filters' checks, its jurisdiction), a page
at a time by its cursor, each row a link to the call's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import Response

from huying.api.names import Names
from huying.api.params import Cursor, From, To
from huying.api.routers.calls import search_calls
from huying.domain.errors import InvalidCommand
from huying.domain.levels import Level
from huying.web import labels
from huying.web.context import FreshViewer, services_of
from huying.web.nav import EVERYONE, NavEntry
from huying.web.nav import register as register_nav
from huying.web.pages import page_router, register
from huying.web.render import page

router = page_router()
PER_PAGE = 50
Short = Annotated[str | None, Query(max_length=200)]


@router.get("/console/search")
def call_search(
    request: Request,
    session: FreshViewer,
    q: Short = None,
    status: Short = None,
    level: Short = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    item: Annotated[str | None, Query(max_length=64)] = None,
    from_: From = None,
    to: To = None,
    after: Cursor = 0,
) -> Response:
    s, p = services_of(request), session.principal
    asked = {"q": q, "status": status, "level": level, "unit": unit, "item": item, "from": from_, "to": to}
    asked = {k: v.strip() for k, v in asked.items() if v and v.strip()}
    found = search_calls(
        p,
        s,
        s.projector.position(),
        (),
        Names(s.app.org, s.app.catalog),
        unit=asked.get("unit"),
        status=asked.get("status"),
        level=_level(asked.get("level")),
        item=asked.get("item"),
        q=asked.get("q"),
        from_=asked.get("from"),
        to=asked.get("to"),
        after=after,
        limit=PER_PAGE,
    ).answer
    return page(
        request,
        "search.html",
        session,
        title="呼叫查询 Search calls",
        asked=asked,
        rows=found.data,
        next=found.next,
        statuses=labels.STATUS,
        levels=labels.LEVEL,
    )


def _level(raw: str | None) -> Level | None:
    if raw is None:
        return None
    try:
        return Level(raw)
    except ValueError:
        raise InvalidCommand("level", f"no level {raw!r}; one of {', '.join(Level)}") from None


register(router)
register_nav(NavEntry("search", "呼叫查询", "Search calls", EVERYONE, 35))
