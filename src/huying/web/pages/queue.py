"""部门工单队列: a department's open work orders — the API's own queue (``pull_queue``): the
same rule decides whose queue you may open (your own department's; supervisors, auditors and
admins any), so another department's queue is a 404 here as it is there."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from huying.api.names import Names
from huying.api.routers.departments import pull_queue
from huying.api.schemas.reads import QueueItem
from huying.domain.states import OrderStatus
from huying.web.context import FreshViewer, services_of
from huying.web.pages import page_router, register
from huying.web.render import page

router = page_router()
SHOWN = 500  # the API's largest page


@router.get("/console/queue/{code}")
async def department_queue(request: Request, code: str, session: FreshViewer) -> Response:
    s = services_of(request)
    names = Names(s.app.org, s.app.catalog)
    found = await pull_queue(
        request,
        code,
        session.principal,
        s,
        s.projector.position(),
        names,
        status="dispatched,signed",
        limit=SHOWN,
    )
    orders = found.answer.data
    return page(
        request,
        "queue.html",
        session,
        title="工单队列 Work orders",
        department=names.of("department_code", code) or code,
        lists=[
            ("超时", "Overdue", [o for o in orders if o.overdue_since]),
            ("待签收", "To sign", _with(orders, OrderStatus.DISPATCHED)),
            ("办理中", "In progress", _with(orders, OrderStatus.SIGNED)),
            ("延期申请中", "Extension requested", [o for o in orders if o.extension_until]),
        ],
        shown=SHOWN,
        full=len(orders) >= SHOWN,
    )


def _with(orders: list[QueueItem], status: OrderStatus) -> list[QueueItem]:
    return [o for o in orders if o.status is status]


register(router)
