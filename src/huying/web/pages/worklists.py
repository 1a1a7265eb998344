"""社区 / 街道 worklists: what awaits this unit, each list a search of the API's own (the same
query, filters and jurisdiction as ``GET /api/v1/calls``), with the unit's 台账 counts on top."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.responses import Response

from huying.api.names import Names
from huying.api.routers.calls import search_calls
from huying.api.routers.ledger import get_ledger
from huying.domain.errors import NotPermitted
from huying.domain.levels import Level
from huying.domain.principal import Role
from huying.web.context import FreshViewer, services_of
from huying.web.pages import page_router, register
from huying.web.render import page

router = page_router()
SHOWN = 50  # calls per list; the ledger's counts say how many there are in all


@dataclass(frozen=True)
class Worklist:
    title: str
    english: str
    ask: dict[str, Any] = field(default_factory=dict)  # GET /api/v1/calls parameters
    attention: tuple[tuple[str, bool], ...] = ()


WORKLISTS: dict[Role, tuple[Worklist, ...]] = {
    Role.COMMUNITY: (
        Worklist("待响应", "Awaiting my response", {"status": "awaiting_response", "level": Level.COMMUNITY}),
        Worklist("办理中", "In progress", {"status": "in_progress", "level": Level.COMMUNITY}),
        Worklist("待回访", "Follow-up to record", {"status": "resolved"}),
        Worklist("待销号或重办", "To close or reopen", {"status": "evaluated"}),
        Worklist(
            "已上呼",
            "Called up, being handled",
            {"status": "awaiting_response,in_progress,dispatched,returned", "level": Level.STREET},
        ),
    ),
    Role.STREET: (
        Worklist("待响应", "Awaiting my response", {"status": "awaiting_response", "level": Level.STREET}),
        Worklist("待派单或办结", "To dispatch or resolve", {"status": "in_progress", "level": Level.STREET}),
        Worklist("可办结", "Ready to resolve", attention=(("ready_to_resolve", True),)),
        Worklist("延期申请", "Extension requests", attention=(("pending_extension", True),)),
        Worklist("退单待重派", "Returned orders to re-dispatch", {"status": "returned"}),
        Worklist("部门办理中", "With departments", {"status": "dispatched"}, (("ready_to_resolve", False),)),
    ),
}


@router.get("/console/work")
def worklists(request: Request, session: FreshViewer) -> Response:
    s, p = services_of(request), session.principal
    if p.role not in WORKLISTS:
        raise NotPermitted(f"worklists are for communities and streets; you act as {p.role}")
    names = Names(s.app.org, s.app.catalog)
    position = s.projector.position()
    ledger = get_ledger(p, s, position, (), names, unit=p.unit, limit=1).answer
    lists = [
        (w, search_calls(p, s, position, w.attention, names, unit=p.unit, limit=SHOWN, **w.ask).answer.data)
        for w in WORKLISTS[p.role]
    ]
    return page(
        request,
        "work.html",
        session,
        title="工作台 Worklist",
        ledger=ledger.summary,
        lists=lists,
        shown=SHOWN,
    )


register(router)
