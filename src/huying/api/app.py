"""The composition root: ``create_app(settings)`` builds everything, connects nothing at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry

from huying import __version__
from huying.api import problems
from huying.api.gate import Gate
from huying.api.metrics import HttpMetrics
from huying.api.routers import (
    audit,
    calls,
    clock,
    dashboards,
    departments,
    events,
    ledger,
    ops,
    reference,
    scores,
    work_orders,
)
from huying.bootstrap import Services, build_services
from huying.settings import Settings

DESCRIPTION = """\
有呼必应 — 群众有呼，社区必应；社区有呼，街道必应；街道有呼，部门必应.

Every step of a call is an immutable event. Authenticate with `Authorization: Bearer <token>`
(`huying token create --role ROLE --unit UNIT`). Errors are `application/problem+json`.
"""


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or (services.settings if services else Settings())
    built = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.run_projector:
            built.projector.start()
            built.chain.start()  # 防篡改: the hash chain follows the log beside the read models
        if settings.run_watchdog:
            built.watchdog.start()
        yield
        built.watchdog.stop()
        built.projector.stop()
        built.chain.stop()
        if services is None:  # we built them, we close them
            built.close()

    app: FastAPI = FastAPIOffline(
        title="huying 有呼必应",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_parameters={"persistAuthorization": True},
    )
    app.state.services = built
    app.state.registry = CollectorRegistry()
    problems.install(app)
    for module in (calls, work_orders, departments, ledger, dashboards, scores, reference, ops, clock):
        app.include_router(module.router)
    for module in (events, audit):  # 审计: the event feed, exports, the tamper-evidence check
        app.include_router(module.router)
    app.add_middleware(
        Gate,
        authenticate=built.tokens.principal_for,
        max_body_bytes=settings.max_body_bytes,
    )
    app.add_middleware(HttpMetrics, registry=app.state.registry)
    return app
