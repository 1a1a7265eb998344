"""考核: 街道综合考核 and 部门年度考核 for a period — each unit's rank, composite, components and
the 督办 deduction, with 红黑榜 — read through the API's own route function
(``assessment_of_units``), so the figures and who may see which rows are the API's."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request
from starlette.responses import Response

from huying.api.params import Period
from huying.api.routers.assessment import assessment_of_units
from huying.api.schemas.assessment import AssessedUnit, Assessment
from huying.domain.errors import NotPermitted
from huying.domain.org import UnitKind
from huying.domain.principal import Role
from huying.web.context import FreshViewer, services_of
from huying.web.nav import NavEntry
from huying.web.nav import register as register_nav
from huying.web.pages import page_router, register
from huying.web.pages.overview import boards
from huying.web.render import page

router = page_router()
Boards = tuple[list[AssessedUnit], list[AssessedUnit]]  # 红榜, 黑榜
KINDS: tuple[Literal["street", "department"], ...] = ("street", "department")


@router.get("/console/assessment")
def assessment_page(
    request: Request,
    session: FreshViewer,
    period: Annotated[Period | None, Query(description="YYYY, YYYY-Qn or YYYY-MM")] = None,
) -> Response:
    s, p = services_of(request), session.principal
    position = s.projector.position()
    shown: list[tuple[Assessment, Boards | None]] = []
    for kind in KINDS:
        try:
            assessed = assessment_of_units(p, s, position, kind, period)
        except NotPermitted:  # none of these units is this principal's to read
            continue
        # 红黑榜 only to whom reads every unit: a board of one's own row would rank nothing
        whole = len(assessed.data) == len(s.app.org.of_kind(UnitKind(kind)))
        shown.append((assessed, boards(assessed.data) if whole else None))
    if not shown:
        raise NotPermitted("考核: you may read your own unit's assessment and those below it")
    return page(
        request,
        "assessment.html",
        session,
        title="考核 Assessment",
        assessments=shown,
        period=period or shown[0][0].period,
    )


register(router)
register_nav(
    NavEntry(
        "assessment",
        "考核",
        "Assessment",
        frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN, Role.STREET, Role.DEPARTMENT}),
        9,
    )
)
