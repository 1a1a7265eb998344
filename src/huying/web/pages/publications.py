"""Published 考评 (docs/publications.md): the publications — every version — a reader may see a row
of; one version with its figures and, for a re-publication, what changed from the version it
replaced; and the supervisor's publish and re-publish forms. Reads and writes are the API's own
route functions, so who sees which rows (a street or department its own) and who may publish are
the API's — the PublicationService behind them checks each move."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from huying.api.params import MAX_VERSION
from huying.api.routers import publications as api
from huying.api.schemas.publications import PublicationPublic, PublishBody, RepublishBody
from huying.domain.principal import Role
from huying.web.acting import sent
from huying.web.context import FreshViewer, PostedForm, Viewer, services_of
from huying.web.forms import body_fields, identity
from huying.web.nav import NavEntry
from huying.web.nav import register as register_nav
from huying.web.pages import page_router, register
from huying.web.render import page
from huying.web.sessions import Session

router = page_router()
SHOWN = 200
# Who may publish is the service's rule; the page only leaves the form off for the rest.
PUBLISHERS = frozenset({Role.SUPERVISOR})


@router.get("/console/publications")
def publications(request: Request, session: FreshViewer) -> Response:
    return render_list(request, session)


def render_list(
    request: Request, session: Session, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    s, p = services_of(request), session.principal
    listed = api.list_publications(p, s, s.projector.position(), limit=SHOWN)  # 403: no row of yours
    return page(
        request,
        "publications.html",
        session,
        status,
        title="考评发布 Publications",
        publications=listed.data,
        may_publish=p.role in PUBLISHERS,
        errors=errors or {},
    )


@router.post("/console/publications")
async def publish(request: Request, session: Viewer, form: PostedForm) -> Response:
    s, p = services_of(request), session.principal

    def show(errors: dict[str, str], status: int) -> Response:
        return render_list(request, session, errors, status)

    async def send() -> PublicationPublic:
        body = PublishBody.model_validate(body_fields(form, PublishBody))
        await api.CaughtUp.dependency(request)  # the route's own precondition
        answer: PublicationPublic = await run_in_threadpool(
            lambda: api.publish(body, p, s, identity(form), Response())
        )
        return answer

    return await sent(send, show, lambda made: f"/console/publications/{made}?done=publish", "publish")


@router.get("/console/publications/{publication_id}")
def publication_page(
    request: Request,
    publication_id: str,
    session: FreshViewer,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return render_one(request, session, publication_id, version, done=done)


def render_one(
    request: Request,
    session: Session,
    publication_id: str,
    version: int | None = None,
    *,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """One version (default the latest; 404 without a row of yours) and links to the others."""
    s, p = services_of(request), session.principal
    shown = api.get_publication(publication_id, p, s, Response(), version=version)
    return page(
        request,
        "publication.html",
        session,
        status,
        title=f"考评发布 {shown.period}",
        publication=shown,
        versions=range(1, shown.latest_version + 1),
        may_publish=p.role in PUBLISHERS,
        done=done,
        errors=errors or {},
    )


@router.post("/console/publications/{publication_id}/republish")
async def republish(request: Request, publication_id: str, session: Viewer, form: PostedForm) -> Response:
    s, p = services_of(request), session.principal

    def show(errors: dict[str, str], status: int) -> Response:
        return render_one(request, session, publication_id, errors=errors, status=status)

    async def send() -> PublicationPublic:
        body = RepublishBody.model_validate(body_fields(form, RepublishBody))
        await api.CaughtUp.dependency(request)
        answer: PublicationPublic = await run_in_threadpool(
            lambda: api.republish(publication_id, body, p, s, identity(form), Response())
        )
        return answer

    return await sent(send, show, lambda made: f"/console/publications/{made}?done=republish", "republish")


register(router)
register_nav(
    NavEntry(
        "publications",
        "考评发布",
        "Publications",
        frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN, Role.STREET, Role.DEPARTMENT}),
        41,
    )
)
