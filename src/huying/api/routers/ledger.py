"""台账 — open problems per unit, until each is struck off (销号)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from huying.api.deps import CurrentPrincipal, HuyingServices, ReadPosition
from huying.api.filters import Attention
from huying.api.names import ShownNames
from huying.api.params import Cursor
from huying.api.present import call_summary
from huying.api.respond import Answer
from huying.api.routing import Router
from huying.api.schemas.reads import LedgerPage, LedgerSummary
from huying.domain.errors import InvalidCommand
from huying.domain.principal import DISTRICT_WIDE
from huying.queries.search import CallFilter, ledger

router = Router(prefix="/api/v1", tags=["read models"])


@router.get("/ledger", response_model=LedgerPage)
def get_ledger(
    p: CurrentPrincipal,
    s: HuyingServices,
    position: ReadPosition,
    attention: Attention,
    names: ShownNames,
    unit: Annotated[str | None, Query(max_length=64, description="default: your own unit")] = None,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Answer[LedgerPage]:
    """The unit's open problems (not yet closed, withdrawn or merged), within your jurisdiction.
    The summary counts them all, with how many await the street; the flags narrow the page."""
    org = s.app.org
    unit = unit or (org.district.code if p.role in DISTRICT_WIDE else p.unit)
    if org.unit(unit) is None:
        raise InvalidCommand("unit", f"no unit {unit} in org {org.version}")
    now = s.clock.now()
    with s.engine.connect() as conn:
        summary, page = ledger(conn, p, org, unit, CallFilter(attention=attention), now, after, limit)
    return Answer(
        LedgerPage(
            summary=LedgerSummary(**summary, unit_name=names.of("unit", unit)),
            data=[call_summary(r, now, s.app.calendar, names) for r in page.rows],
            next=page.next,
            position=position,
        )
    )
