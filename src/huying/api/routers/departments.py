"""部门工单队列 — a department's work queue, pulled by its own systems with a cursor."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool

from huying.api.deps import CurrentPrincipal, HuyingServices, ReadPosition
from huying.api.limits import waiting
from huying.api.names import ShownNames
from huying.api.params import Cursor, enum_list
from huying.api.present import queue_item
from huying.api.respond import Answer
from huying.api.routing import Router
from huying.api.schemas.reads import QueueItem, QueuePage
from huying.domain.errors import CallNotFound
from huying.domain.org import UnitKind
from huying.domain.principal import Role
from huying.domain.states import OrderStatus
from huying.queries.queues import department_queue

router = Router(prefix="/api/v1/departments", tags=["work orders"])

_READERS_OF_EVERY_QUEUE = frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN})


@router.get("/{code}/work-orders", response_model=QueuePage)
async def pull_queue(
    request: Request,
    code: str,
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    names: ShownNames,
    status: Annotated[
        str | None, Query(description="comma-separated: dispatched, signed, returned, completed, cancelled")
    ] = None,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    wait: Annotated[float, Query(ge=0, description="long-poll: seconds to wait for new work")] = 0,
) -> Answer[QueuePage]:
    """The department's orders changed since the cursor, oldest change first. With ``wait``,
    an empty answer is held until new work arrives or the wait runs out (holding no thread; one
    of the principal's few waiters, 429 beyond them)."""
    if not s.app.org.is_kind(code, UnitKind.DEPARTMENT) or not (
        p.role in _READERS_OF_EVERY_QUEUE or (p.role is Role.DEPARTMENT and p.unit == code)
    ):
        raise CallNotFound(f"no work queue {code} in your jurisdiction")
    statuses = enum_list(status, OrderStatus, "status")
    deadline = time.monotonic() + min(wait, s.settings.max_long_poll_seconds)

    def fetch() -> tuple[list[QueueItem], int]:
        """The page and a position it reflects at least, read and presented in a worker thread
        (the position may be the tracking row's; the names may read the catalog)."""
        reached, now = s.projector.position(), s.clock.now()
        with s.engine.connect() as conn:
            rows = department_queue(conn, code, statuses, now, after, limit)
        return [queue_item(r, now, s.app.calendar, names) for r in rows], reached

    items, reached = await run_in_threadpool(fetch)
    seen = position
    while not items and (remaining := deadline - time.monotonic()) > 0:
        async with waiting(request):
            if not await s.projector.reached(seen + 1, remaining):
                break
        seen = s.projector.progress.position
        items, reached = await run_in_threadpool(fetch)
    return Answer(
        QueuePage(
            data=items,
            next=items[-1].cursor if items else None,
            position=max(position, reached),
        )
    )
