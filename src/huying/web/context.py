"""What every console page depends on: the signed-in session (else a redirect to sign in), its
admission among the principal's share of running requests (as the API's gate admits a token's),
the CSRF check of every form, and read models as fresh as this browser's own latest write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from huying.api.limits import Limits
from huying.bootstrap import Services
from huying.web.sessions import COOKIE, Session, SessionStore

SEEN_COOKIE = "huying_seen"  # the log position of this browser's latest write
FRESH_WAIT_SECONDS = 5.0
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No live session: the page answers with a redirect to the sign-in form."""


class ForgedForm(Exception):
    """A form without this session's CSRF token, or sent from another origin (403)."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.console_sessions
    return store


async def _session(request: Request) -> AsyncIterator[Session]:
    secret = request.cookies.get(COOKIE)
    session = await anyio.to_thread.run_sync(sessions_of(request).find, secret) if secret else None
    if session is None:
        raise SignInRequired
    request.state.session = session
    limits: Limits = request.app.state.limits
    ticket = await limits.admit(session.principal, request.method, request.url.path)
    try:
        yield session
    finally:
        ticket.leave()


async def _form(request: Request, session: Annotated[Session, Depends(_session)]) -> FormData:
    """The posted form, once its CSRF token (field or header) is this session's and its Origin,
    when the browser names one, is this server."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise ForgedForm(f"a form sent from {origin}")
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    sent = sent if isinstance(sent, str) else request.headers.get(CSRF_HEADER)
    if not session.csrf_matches(sent):
        raise ForgedForm("the form's CSRF token is missing or not this session's")
    return form


async def _fresh(request: Request, session: Annotated[Session, Depends(_session)]) -> Session:
    """Read-your-writes for read-model pages: wait (bounded, holding no thread) until the read
    models reach this browser's latest write — unless the log never had it (a cookie from an
    earlier deployment at this address), which no wait would bring."""
    seen = request.cookies.get(SEEN_COOKIE, "")
    if not seen.isdigit():
        return session
    services, wanted = services_of(request), int(seen)
    if await services.projector.current_position() < wanted:
        head = await anyio.to_thread.run_sync(services.app.recorder.max_notification_id)
        if wanted <= (head or 0):
            await services.projector.reached(wanted, FRESH_WAIT_SECONDS)
    return session


def remember_write(response: Response, position: int) -> None:
    response.set_cookie(SEEN_COOKIE, str(position), httponly=True, samesite="strict", path="/console")


Viewer = Annotated[Session, Depends(_session)]
FreshViewer = Annotated[Session, Depends(_fresh)]
PostedForm = Annotated[FormData, Depends(_form)]
