"""Pages from Jinja2 templates, and the route class every console page uses: a refusal of the
domain, or a query string or form the page cannot take, becomes an HTML page with the API's
status for it (``huying.api.problems``), no session becomes a redirect to sign in. The API's own
routes keep answering problem+json."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, RedirectResponse

from huying.api.limits import Busy
from huying.api.names import Names
from huying.api.problems import STATUS_OF, invalid_fields
from huying.domain.errors import DomainError, InvalidCommand
from huying.projections.runner import ReadModelsBehind
from huying.web import labels, nav
from huying.web.context import CSRF_FIELD, ForgedForm, SignInRequired, services_of
from huying.web.sessions import Session

# Pages load their scripts and styles from this origin only; no inline script may run. Forms
# post here only. Photos may be previewed from the device (blob:) before they are sent.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

templates = Environment(
    loader=PackageLoader("huying.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals.update(labels=labels, beijing=labels.beijing, duration=labels.duration)
templates.globals.update(percent=labels.percent, csrf_field=CSRF_FIELD)


def page(
    request: Request, template: str, session: Session | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page for this session: its navigation, its CSRF token, a fresh idempotency key for its
    forms; never cached (pages may show a reporter's contact)."""
    app = services_of(request).app
    html = templates.get_template(template).render(
        request=request,
        session=session,
        principal=session.principal if session else None,
        nav=nav.entries_for(session.principal) if session else [],
        names=Names(app.org, app.catalog),
        form_key=secrets.token_urlsafe(16),
        path=request.url.path,
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": PAGE_POLICY,
            "Cache-Control": "no-store",
            # Our own forms name their origin (no-referrer would make it "null", and the CSRF
            # check refuses that); nothing is sent to other sites.
            "Referrer-Policy": "same-origin",
        },
    )


def refusal_status(error: DomainError) -> int:
    """The API's status for a domain refusal (the one table in ``huying.api.problems``)."""
    return next((STATUS_OF[c][0] for c in type(error).__mro__ if c in STATUS_OF), 409)


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path if request.method == "GET" else "/console/"
    return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PageRoute(APIRoute):
    """A console page: HTML for whatever the domain refuses, a redirect for no session."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except ForgedForm as e:
                return error_page(request, 403, "表单无效 Form refused", str(e))
            except DomainError as e:  # a bad field is named, as the API's 422 names it
                where = f"{e.field}: " if isinstance(e, InvalidCommand) else ""
                return error_page(request, refusal_status(e), "无法办理 Refused", where + e.detail)
            except RequestValidationError as e:  # the query string or form, field by field
                detail = "; ".join(f"{f['field']}: {f['message']}" for f in invalid_fields(e))
                return error_page(request, 422, "请求有误 Invalid request", detail)
            except HTTPException as e:  # a body the page could not read, say
                return error_page(request, e.status_code, http_title(e.status_code), str(e.detail))
            except ReadModelsBehind as e:
                return error_page(request, 503, "数据同步中 Catching up", str(e))
            except Busy as e:
                return error_page(request, 429, "请求过多 Too many requests", e.detail)

        return page_handler


def http_title(status: int) -> str:
    return {404: "找不到页面 Not found", 405: "不支持的操作 Method not allowed"}.get(
        status, "请求有误 Invalid request"
    )


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    return page(request, "error.html", session, status=status, title=title, detail=detail)
