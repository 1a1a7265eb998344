"""管理: tokens (create, revoke — as ``huying token create|revoke`` does) and the reference data:
the organisation, view-only (it ships versioned and is validated at start-up), and the 呼应事项清单
in effect, each item linked to its edit page (``pages/catalog.py``). For admins only."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from huying.demo import UNIT_KIND_OF_ROLE, principal_for_token
from huying.domain.errors import CallNotFound, NotPermitted
from huying.domain.org import UnitKind
from huying.domain.principal import Principal, Role
from huying.web.context import PostedForm, Viewer, services_of
from huying.web.forms import text
from huying.web.pages import page_router, register
from huying.web.render import page
from huying.web.sessions import Session

router = page_router()


def _admin_only(session: Session, what: str) -> Principal:
    if session.principal.role is not Role.ADMIN:
        raise NotPermitted(f"{what}: only an admin manages it")
    return session.principal


@router.get("/console/admin")
def admin_page(request: Request, session: Viewer) -> Response:
    return _tokens_page(request, session)


def _tokens_page(
    request: Request,
    session: Session,
    created: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _admin_only(session, "tokens")
    s = services_of(request)
    return page(
        request,
        "admin.html",
        session,
        status,
        title="管理 Admin",
        tokens=s.tokens.list(),
        roles=[r for r in UNIT_KIND_OF_ROLE],
        created=created,
        error=error,
        org=s.app.org,
        streets=s.app.org.of_kind(UnitKind.STREET),
        catalog=s.app.catalog,
    )


@router.post("/console/admin/tokens")
async def create_token(request: Request, session: Viewer, form: PostedForm) -> Response:
    """A new token, shown once on the answer and never again (as ``huying token create``)."""
    _admin_only(session, "tokens")
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    s = services_of(request)
    try:
        principal = principal_for_token(s.app.org, values.get("role", ""), text(values, "unit") or "")
    except ValueError as e:
        return _tokens_page(request, session, error=str(e), status=422)
    _, token = await run_in_threadpool(s.tokens.create, principal, (text(values, "label") or "")[:200])
    return _tokens_page(request, session, created=token, status=201)


@router.post("/console/admin/tokens/{token_id}/revoke")
async def revoke_token(
    request: Request, token_id: Annotated[str, Path(max_length=16)], session: Viewer, _: PostedForm
) -> Response:
    """Revoking a token ends its API access and every console session it opened."""
    _admin_only(session, "tokens")
    if not await run_in_threadpool(services_of(request).tokens.revoke, token_id):
        raise CallNotFound(f"no live token {token_id}")
    return RedirectResponse("/console/admin", status_code=303)


register(router)
