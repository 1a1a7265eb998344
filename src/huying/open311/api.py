"""Open311 GeoReport v2 under ``/open311/v2``: discovery, services, service definitions, POST and
GET requests, one request, and FixMyStreet's ``servicerequestupdates`` — each as ``.xml`` and
``.json``. A sub-application of its own, so every answer, errors included, is in the spec's
format (``[{"code", "description"}]``), never problem+json."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from huying import __version__
from huying.api.deps import fingerprint
from huying.api.routers.calls import draft_of
from huying.bootstrap import Services
from huying.domain.errors import CallNotFound, DomainError, InvalidCommand, NotPermitted
from huying.domain.principal import Principal
from huying.onloop import off_loop, on_loop
from huying.open311 import requests as reqs
from huying.open311.formats import Format, Open311Error, error_response, format_of, render
from huying.open311.intake import Form, parse_instant, parse_list, report_of
from huying.open311.services import definition, service_list
from huying.service_layer.command_path import Submission

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
_MAX_IDS = 1000


def create_open311_app(services: Services) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    app.add_exception_handler(Open311Error, _open311_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(_ROUTER)
    return app


# --- who is asking, for which jurisdiction -----------------------------------------------------


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _fmt(fmt: str) -> Format:
    try:
        return Format(fmt)
    except ValueError:
        raise Open311Error(404, f"no format {fmt!r}: ask for .xml or .json") from None


def _asking(request: Request, form: Form | None = None) -> Principal | None:
    """The principal of the api_key (form, query, or a bearer token); None without one. A key
    that is not a live huying token is refused (403), never taken as no key."""
    key = (form.one("api_key") if form else None) or request.query_params.get("api_key") or _bearer(request)
    if not key:
        return None
    tokens = _services(request).tokens
    principal = tokens.remembered(key) or off_loop(tokens.principal_for, key)  # a lookup: not on the loop
    if principal is None:
        raise Open311Error(403, "invalid api_key: not a live huying token")
    return principal


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _jurisdiction(request: Request, form: Form | None = None) -> None:
    """One jurisdiction is served: the district. Naming another is a 404, as the spec says."""
    given = (form.one("jurisdiction_id") if form else None) or request.query_params.get("jurisdiction_id")
    district = _services(request).app.org.district.code
    if given and given.strip().lower() != district.lower():
        raise Open311Error(404, f"jurisdiction_id {given} was not found; this endpoint serves {district}")


# --- discovery and services --------------------------------------------------------------------


def discovery(request: Request, fmt: str) -> Response:
    f = _fmt(fmt)
    s = _services(request)
    base = str(request.url.replace(query="")).rsplit("/discovery.", 1)[0]
    changeset = f"{s.app.org.version} {s.app.catalog.version}"
    return render(
        f,
        "discovery",
        {
            "changeset": changeset,
            "contact": f"{s.app.org.district.name} 有呼必应 (huying {__version__})",
            "key_service": "api_key: a huying token (role grid_worker, community or supervisor) "
            "from the district's administrator: huying token create --role ROLE --unit UNIT",
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base,
                    "changeset": changeset,
                    "type": "production",
                    "formats": [Format.XML.media_type.split(";")[0], Format.JSON.media_type.split(";")[0]],
                }
            ],
        },
    )


def get_services(request: Request, fmt: str) -> Response:
    f = _fmt(fmt)
    _jurisdiction(request)
    return render(f, "services", service_list(_services(request).app.catalog))


def get_service(request: Request, code: str, fmt: str) -> Response:
    f = _fmt(fmt)
    _jurisdiction(request)
    app = _services(request).app
    item = app.catalog.item(code)
    if item is None:
        raise Open311Error(404, f"service_code {code} was not found")
    return render(f, "service_definition", definition(item, app.org))


# --- requests ----------------------------------------------------------------------------------


async def post_request(request: Request, fmt: str) -> Response:
    f = _fmt(fmt)
    try:
        posted = await request.form()
    except Exception:  # a body that is not a form at all
        raise Open311Error(400, "the body must be application/x-www-form-urlencoded") from None
    if any(isinstance(v, UploadFile) for _, v in posted.multi_items()):
        raise Open311Error(400, "files are not taken here: give media_url (a link to the media)")
    form = Form([(k, str(v)) for k, v in posted.multi_items()])
    return await on_loop(_raise, request, f, form)


def _raise(request: Request, f: Format, form: Form) -> Response:
    """On the event loop's thread, as the API's raise (``huying.onloop``): what reads the
    database besides the raise's own commit (the api_key's lookup, the catalog) in a thread."""
    _jurisdiction(request, form)
    principal = _asking(request, form)
    if principal is None:
        raise Open311Error(403, "api_key was not provided: POST requests needs one")
    s = _services(request)
    catalog = off_loop(lambda: s.app.catalog)  # in effect now: it asks the store for edits
    report = report_of(form, principal, catalog, s.app.org, s.settings.open311_grid_radius_m)
    key = request.headers.get("idempotency-key") or None
    if key is not None and len(key) > 200:
        raise Open311Error(400, "Idempotency-Key: at most 200 characters")
    draft = replace(draft_of(report.body), reporter=report.contact)
    outcome = s.calls.raise_call(principal, draft, Submission(key=key, fingerprint=fingerprint(report.body)))
    item = catalog.item(outcome.call.item_code)
    answer = [{"service_request_id": str(outcome.call.id), "service_notice": item.standard if item else None}]
    response = render(f, "service_requests", answer)
    response.headers["Location"] = f"{request.url.path.rsplit('.', 1)[0]}/{outcome.call.id}.{f.value}"
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def get_requests(
    request: Request,
    fmt: str,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=reqs.MAX_REQUESTS)] = reqs.MAX_REQUESTS,
) -> Response:
    """Many requests: by ``service_request_id`` (which overrides the rest), else by service,
    status and the dates they were requested (the last 90 days by default), newest first."""
    f = _fmt(fmt)
    _jurisdiction(request)
    principal = _asking(request)
    s = _services(request)
    if service_request_id:
        ids = parse_list(service_request_id)
        if len(ids) > _MAX_IDS:
            raise Open311Error(400, f"service_request_id: at most {_MAX_IDS} ids at once")
        found = [_visible(s, principal, raw) for raw in dict.fromkeys(ids)]
        catalog = s.app.catalog  # read from the store once per answer, not once per request
        return render(f, "service_requests", [reqs.request_of(t, catalog, s.app.org) for t in found if t])
    codes = _codes(s, service_code)
    statuses = _statuses(status)
    span = reqs.Span.of(
        parse_instant(start_date, "start_date"), parse_instant(end_date, "end_date"), s.clock.now()
    )
    _caught_up(s)
    with s.engine.connect() as conn:
        ids_found = reqs.requested_in(
            conn, principal, s.app.org, span, codes, statuses, page_size, (page - 1) * page_size
        )
    told = [t for t in (reqs.load(s.app, i) for i in ids_found) if t is not None]
    catalog = s.app.catalog
    return render(f, "service_requests", [reqs.request_of(t, catalog, s.app.org) for t in told])


def get_request(request: Request, rid: str, fmt: str) -> Response:
    f = _fmt(fmt)
    _jurisdiction(request)
    s = _services(request)
    told = _visible(s, _asking(request), rid)
    if told is None:
        raise Open311Error(404, f"service_request_id {rid} was not found")
    return render(f, "service_requests", [reqs.request_of(told, s.app.catalog, s.app.org)])


def get_updates(
    request: Request, fmt: str, start_date: str | None = None, end_date: str | None = None
) -> Response:
    """FixMyStreet's extension: every step taken on a visible request between the two dates."""
    f = _fmt(fmt)
    _jurisdiction(request)
    principal = _asking(request)
    s = _services(request)
    span = reqs.Span.of(
        parse_instant(start_date, "start_date"), parse_instant(end_date, "end_date"), s.clock.now()
    )
    _caught_up(s)
    with s.engine.connect() as conn:
        ids = reqs.changed_in(conn, principal, s.app.org, span)
    updates: list[dict[str, Any]] = []
    for call_id in ids:
        told = reqs.load(s.app, call_id)
        if told is not None:
            updates += reqs.updates_of(told, s.app.org, span)
    updates.sort(key=lambda u: (u["updated_datetime"], u["update_id"]))
    return render(f, "service_request_updates", updates[: reqs.MAX_REQUESTS])


def _visible(s: Services, principal: Principal | None, raw: str) -> reqs.Told | None:
    try:
        call_id = UUID(raw)
    except ValueError:
        return None
    told = reqs.load(s.app, call_id)
    return told if told is not None and reqs.visible(principal, told.call, s.app.org) else None


def _codes(s: Services, raw: str | None) -> list[str]:
    codes = parse_list(raw)
    unknown = [c for c in codes if s.app.catalog.item(c) is None]
    if unknown:
        raise Open311Error(400, f"service_code {', '.join(unknown)} is not a service here")
    return codes


def _statuses(raw: str | None) -> list[str]:
    statuses = parse_list(raw)
    wrong = [x for x in statuses if x not in ("open", "closed")]
    if wrong:
        raise Open311Error(400, f"status {', '.join(wrong)}: give open, closed or both")
    return statuses


def _caught_up(s: Services) -> None:
    """Lists come from the read models: let them reach the log's head first (bounded), so a
    request just posted is listed."""
    head = s.app.recorder.max_notification_id() or 0
    s.projector.wait_until(head, s.settings.min_position_wait_seconds)


_ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/discovery.{fmt}", discovery, ["GET"]),
    ("/services.{fmt}", get_services, ["GET"]),
    ("/services/{code}.{fmt}", get_service, ["GET"]),
    ("/requests.{fmt}", get_requests, ["GET"]),
    ("/requests.{fmt}", post_request, ["POST"]),
    ("/requests/{rid}.{fmt}", get_request, ["GET"]),
    ("/servicerequestupdates.{fmt}", get_updates, ["GET"]),
]
# Made once: each app includes it (the routes' parameters are worked out at import, not per app).
_ROUTER = APIRouter(include_in_schema=False)
for _path, _endpoint, _methods in _ROUTES:
    _ROUTER.add_api_route(_path, _endpoint, methods=_methods)


# --- errors in the spec's format ---------------------------------------------------------------

_DOMAIN_STATUS = {CallNotFound: 404, NotPermitted: 403}


async def _open311_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Open311Error)
    return error_response(format_of(request.url.path), exc.status, exc.descriptions)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = next((code for cls, code in _DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    detail = f"{exc.field}: {exc.detail}" if isinstance(exc, InvalidCommand) else exc.detail
    return error_response(format_of(request.url.path), status, [detail])


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}" for e in exc.errors()]
    return error_response(format_of(request.url.path), 400, problems)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code if exc.status_code in (404, 405) else 400
    text = {404: "no such Open311 resource", 405: "method not allowed here"}.get(status, str(exc.detail))
    return error_response(format_of(request.url.path), status, [text])


async def _unexpected(request: Request, _: Exception) -> Response:
    # Logged by the server; the client gets no stack trace.
    return error_response(format_of(request.url.path), 500, ["the server failed; nothing was changed"])
