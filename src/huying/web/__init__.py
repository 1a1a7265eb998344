"""呼应综合指挥平台 — the web console, served by huying itself: server-rendered pages over the
application's own commands and the API's own read queries, signed in with a token."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

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
from huying.web.sessions import SessionStore

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, services: Services) -> None:
    """Mounts the console's pages and its static assets (all from this package: nothing is
    fetched from elsewhere at run time)."""
    app.state.console_sessions = SessionStore(services.engine)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    for router in pages.routers():
        app.include_router(router)


def upload_limits(settings: Settings) -> dict[str, int]:
    """The console's forms that carry photos, and the body size each may have (as the API's
    upload path)."""
    return {
        path: settings.max_upload_bytes
        for path in ("/console/raise", "/console/act", "/console/directives/act")
    }
