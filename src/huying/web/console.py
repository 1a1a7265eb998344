"""The console mounted on the app: its pages, its static assets, its sessions."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from huying.api.problems import http_problem
from huying.bootstrap import Services
from huying.settings import Settings
from huying.web import pages
from huying.web.pages import (  # noqa: F401 (they register)
    admin,
    assessment,
    audit,
    call,
    catalog,
    directives,
    intake,
    meetings,
    overview,
    publications,
    queue,
    search,
    signin,
    worklists,
)
from huying.web.render import error_page, http_title
from huying.web.sessions import SessionStore

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, services: Services) -> None:
    """Mounts the console's pages and its static assets (all from this package: nothing is
    fetched from elsewhere at run time)."""
    app.state.console_sessions = SessionStore(services.engine)
    app.add_exception_handler(HTTPException, _no_such_page)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for router in pages.routers():
        app.include_router(router)


async def _no_such_page(request: Request, exc: Exception) -> Response:
    """An address under /console/ that is no page (or not for this method) is a page saying so;
    elsewhere the API's problem+json (``huying.api.problems``)."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/console/"):
        return error_page(request, exc.status_code, http_title(exc.status_code), str(exc.detail))
    return await http_problem(request, exc)


def upload_limits(settings: Settings) -> dict[str, int]:
    """The console's forms that carry photos, and the body size each may have (as the API's
    upload path)."""
    return {
        path: settings.max_upload_bytes
        for path in ("/console/raise", "/console/act", "/console/directives/act")
    }
