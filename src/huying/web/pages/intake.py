"""群众有呼, from the street: a grid worker's raise form (phone-sized; photo from the camera,
location with consent, duplicates before submitting, kept on the device without signal), and
"my calls". The raise goes down the API's own path: its body model, its draft, the
application's ``raise_call`` with the form's Idempotency-Key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response

from huying.api.deps import RequestIdentity
from huying.api.names import Names
from huying.api.routers.attachments import UPLOADERS
from huying.api.routers.calls import draft_of
from huying.api.routers.ledger import get_ledger
from huying.api.schemas.requests import CallCreate
from huying.bootstrap import Services
from huying.domain.call import Call
from huying.domain.errors import DomainError, NotPermitted
from huying.domain.org import UnitKind
from huying.domain.principal import Principal, Role
from huying.domain.states import Channel
from huying.onloop import on_loop
from huying.queries.duplicates import DuplicateRule, Subject, open_now
from huying.services.attachments import AttachmentStore
from huying.services.photos import AttachmentRefused
from huying.web.context import FreshViewer, PostedForm, Viewer, remember_write, services_of
from huying.web.forms import body_fields, field_errors, text
from huying.web.pages import page_router, register
from huying.web.render import page, refusal_status

router = page_router()

# What a form says it came through, by who raises it (the API takes any; this is the default).
_CHANNEL_OF = {
    Role.GRID_WORKER: Channel.GRID_WORKER,
    Role.COMMUNITY: Channel.WALK_IN,
    Role.SUPERVISOR: Channel.HOTLINE,
}
_RAISERS = frozenset(_CHANNEL_OF)


def raisable_grids(s: Services, p: Principal) -> list[Any]:
    """The grids the transition table lets this principal raise in."""
    org = s.app.org
    grids = org.of_kind(UnitKind.GRID)
    return [g for g in grids if Call.may_raise(p, g.code, org.community_of(g.code))]


@router.get("/console/raise")
def raise_form(request: Request, session: Viewer) -> Response:
    return _form_page(request, session, {}, {}, 200)


def _form_page(
    request: Request, session: Any, values: dict[str, Any], errors: dict[str, str], status: int
) -> Response:
    s = services_of(request)
    p = session.principal
    if p.role not in _RAISERS:
        raise NotPermitted(f"raise: {p.role} does not raise calls")
    catalog = s.app.catalog
    return page(
        request,
        "raise.html",
        session,
        status,
        title="上报 Raise a call",
        categories=[(c, [catalog.items[i] for i in c.items]) for c in catalog.categories],
        grids=raisable_grids(s, p),
        channels=list(Channel),
        default_channel=_CHANNEL_OF[p.role].value,
        values=values,
        errors=errors,
    )


@router.post("/console/raise")
async def raise_call(request: Request, session: Viewer, form: PostedForm) -> Response:
    """Upload the photo (if any), then raise; a repeat of the same form (same key) is the same call."""
    s, p = services_of(request), session.principal
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        photos = await upload_photos(request, p, form)
        body = CallCreate.model_validate(_body(values, photos))
        identity = RequestIdentity(text(values, "idempotency_key"), None)
        # On the event loop, as the API's raise (``huying.onloop``): no worker thread held.
        outcome = await on_loop(s.calls.raise_call, p, draft_of(body), identity.submission(body))
    except ValidationError as e:
        return _form_page(request, session, values, field_errors(e), 422)
    except AttachmentRefused as e:
        return _form_page(request, session, values, {"photo": e.detail}, e.status)
    except DomainError as e:
        field = getattr(e, "field", "form")
        return _form_page(request, session, values, {field: e.detail}, refusal_status(e))
    response = RedirectResponse(f"/console/calls/{outcome.call.id}?done=raise", status_code=303)
    remember_write(response, outcome.position)
    return response


async def upload_photos(request: Request, p: Principal, form: FormData) -> list[str]:
    """随手拍: the form's photos kept as the API keeps them (EXIF stripped); their ids."""
    files = [f for f in form.getlist("photo") if isinstance(f, UploadFile) and f.filename]
    if not files:
        return []
    if p.role not in UPLOADERS:
        raise NotPermitted(f"upload: {p.role} does not write attachments")
    store: AttachmentStore = request.app.state.attachment_store
    ids = []
    for f in files:
        data = await f.read(store.max_bytes + 1)
        ids.append((await run_in_threadpool(store.put, data, p)).id)
    return ids


async def posted_body(
    request: Request, p: Principal, model: type[BaseModel], form: FormData
) -> dict[str, Any]:
    """A move's body from its form (``forms.body_fields``), its photos uploaded first when the
    body takes attachments."""
    photos = await upload_photos(request, p, form) if "attachments" in model.model_fields else []
    return body_fields(form, model, photos)


def _body(values: dict[str, str], photos: list[str]) -> dict[str, Any]:
    """The API's CallCreate body from the form's fields (blank fields left out)."""
    body: dict[str, Any] = {
        k: text(values, k)
        for k in ("item_code", "grid_code", "title", "description", "channel", "urgency", "occurred_at")
        if text(values, k) is not None
    }
    lat, lon, address = text(values, "lat"), text(values, "lon"), text(values, "address")
    if lat or lon or address:
        body["location"] = {k: v for k, v in (("lat", lat), ("lon", lon), ("address", address)) if v}
    name, phone = text(values, "reporter_name"), text(values, "reporter_phone")
    if name or phone:
        body["reporter"] = {k: v for k, v in (("name", name), ("phone", phone)) if v}
    if photos:
        body["attachments"] = photos
    return body


@router.get("/console/duplicates")
def duplicates(
    request: Request,
    session: FreshViewer,
    item: Annotated[str, Query(max_length=64)],
    grid: Annotated[str, Query(max_length=64)],
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> Response:
    """重复提示 before submitting: open calls of this item in this grid, or nearby, that you can see."""
    s = services_of(request)
    rule = DuplicateRule(radius_m=s.settings.duplicate_radius_m, days=s.settings.duplicate_days)
    location = {"lat": lat, "lon": lon} if lat is not None and lon is not None else None
    with s.engine.connect() as conn:
        rows = open_now(
            conn, session.principal, s.app.org, Subject.of("", item, grid, location), rule, s.clock.now()
        )
    return page(request, "duplicates.html", session, hints=rows)


@router.get("/console/mine")
def my_calls(request: Request, session: FreshViewer) -> Response:
    """我的上报: my grid's calls still on the ledger (台账) — the API's ledger, for my grid."""
    s = services_of(request)
    names = Names(s.app.org, s.app.catalog)
    mine = session.principal.unit
    found = get_ledger(session.principal, s, s.projector.position(), (), names, unit=mine).answer
    return page(request, "mine.html", session, title="我的上报 My calls", ledger=found)


register(router)
