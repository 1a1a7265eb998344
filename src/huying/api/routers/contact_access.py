"""个人信息访问记录: who was shown a reporter's contact in full — for auditors only."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from huying.api.deps import CurrentPrincipal, HuyingServices
from huying.api.params import Cursor
from huying.api.routing import Router
from huying.api.schemas.contacts import ContactAccessPage, ContactAccessPublic
from huying.domain.errors import NotPermitted
from huying.domain.principal import Role

router = Router(prefix="/api/v1/audit", tags=["audit"])


@router.get("/contact-access", response_model=ContactAccessPage)
def contact_access(
    p: CurrentPrincipal,
    s: HuyingServices,
    after: Cursor = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ContactAccessPage:
    """Every answer that showed a reporter's contact in full (to the origin community or a
    supervisor), oldest first: who, on which call, when, and which details. Never the details."""
    if p.role is not Role.AUDITOR:
        raise NotPermitted("the contact access log: only an auditor may read it")
    page = s.contacts.accesses.page(after, limit)
    return ContactAccessPage(
        data=[
            ContactAccessPublic.model_validate(
                {
                    "id": a.id,
                    "at": a.at,
                    "actor": {"role": a.role, "unit": a.unit},
                    "call_id": a.call_id,
                    "shown": a.shown,
                }
            )
            for a in page
        ],
        next=page[-1].id if len(page) == limit else None,
    )
