"""督办总览: open / overdue / due soon by level and unit, trends of received, on-time response
and on-time resolution, the overdue list, and 考评 rankings with 红黑榜 — each read through the
API's own route function (``sla_dashboard``, ``scores_of_units``, ``search_calls``), so the
figures and who may see them are the API's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Query, Request
from starlette.responses import Response

from huying.api.names import Names
from huying.api.routers.calls import search_calls
from huying.api.routers.dashboards import sla_dashboard
from huying.api.routers.scores import ScoredKind, scores_of_units
from huying.api.schemas.figures import SlaSeries, UnitScore, UnitScores
from huying.bootstrap import Services
from huying.domain.errors import NotPermitted
from huying.domain.principal import Principal
from huying.queries.dashboard import Granularity
from huying.web.charts import Series, grouped_bars
from huying.web.context import FreshViewer, services_of
from huying.web.pages import page_router, register
from huying.web.render import page

router = page_router()
BOARD = 3  # units on each of the 红榜 and the 黑榜
OVERDUE_SHOWN = 50


@router.get("/console/overview")
def overview(
    request: Request,
    session: FreshViewer,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    granularity: Granularity = Granularity.DAY,
) -> Response:
    s, p = services_of(request), session.principal
    names = Names(s.app.org, s.app.catalog)
    position = s.projector.position()
    board = sla_dashboard(p, s, position, unit=unit, granularity=granularity, empty_buckets=True).answer
    overdue = search_calls(p, s, position, (), names, unit=board.unit, overdue=True, limit=OVERDUE_SHOWN)
    return page(
        request,
        "overview.html",
        session,
        title="督办总览 Overview",
        board=board,
        trends=[(series, _trend(series)) for series in board.series],
        overdue=overdue.answer.data,
        overdue_shown=OVERDUE_SHOWN,
        rankings=_rankings(p, s, position),
        granularity=granularity.value,
    )


def _trend(series: SlaSeries) -> Any:
    periods = [b.period for b in series.buckets]
    return grouped_bars(
        f"trend-{series.level.value}",
        f"{series.unit_name} {series.level.value}: 受理、按时响应、按时办结",
        periods,
        [
            Series("受理 received", "s-received", [b.received for b in series.buckets]),
            Series(
                "按时响应 on-time response", "s-response", [b.acknowledged_on_time for b in series.buckets]
            ),
            Series(
                "按时办结 on-time resolution", "s-resolution", [b.resolved_on_time for b in series.buckets]
            ),
        ],
    )


def _rankings(
    p: Principal, s: Services, position: int
) -> list[tuple[UnitScores, list[UnitScore], list[UnitScore]]]:
    """Each kind of unit this principal may read the scores of: its table, 红榜 and 黑榜."""
    found = []
    for kind in (ScoredKind.STREET, ScoredKind.DEPARTMENT, ScoredKind.COMMUNITY):
        try:
            scores = scores_of_units(p, s, position, kind).answer
        except NotPermitted:  # none of these units is this principal's to read
            continue
        found.append((scores, *boards(scores.data)))
    return found


class _Ranked(Protocol):
    @property
    def rank(self) -> int | None: ...


RankedT = TypeVar("RankedT", bound=_Ranked)


def boards(rows: Sequence[RankedT]) -> tuple[list[RankedT], list[RankedT]]:
    """红榜 and 黑榜: the ``BOARD`` best-ranked units and the ``BOARD`` worst, worst first (no
    unit on both; the unranked — too few evaluated — on neither)."""
    ranked = sorted((u for u in rows if u.rank is not None), key=lambda u: u.rank or 0)
    return ranked[:BOARD], ranked[max(BOARD, len(ranked) - BOARD) :][::-1]


register(router)
