"""The composition root: ``create_app(settings)`` builds everything, connects nothing at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from huying import __version__
from huying.api import openapi, problems
from huying.api.deployment_metrics import DeploymentMetrics
from huying.api.express import Express, express_routes
from huying.api.gate import Gate
from huying.api.headers import SecurityHeaders
from huying.api.limits import Busy, Limits, refused
from huying.api.metrics import HttpMetrics
from huying.api.routers import (
    assessment,
    attachments,
    audit,
    calls,
    clock,
    contact_access,
    dashboards,
    departments,
    directives,
    events,
    ledger,
    meetings,
    ops,
    publications,
    ratings,
    reference,
    scores,
    webhooks,
    work_orders,
)
from huying.api.strict import checked_parameters
from huying.api.unavailable import DatabaseUnavailable
from huying.bootstrap import Services, build_services
from huying.duties import Duties, offered_by
from huying.open311.api import create_open311_app
from huying.projections.lag import LagMetrics
from huying.services.attachments import AttachmentStore
from huying.services.photos import AttachmentRefused, Decoders
from huying.settings import Settings
from huying.web.console import install as install_console
from huying.web.console import upload_limits as console_uploads

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
        # The projector, the chain keeper (防篡改), the watchdog and the webhook deliveries, each if
        # offered and while this process holds its lock; and the other processes' news.
        duties = Duties(built, offered_by(settings))
        duties.start()
        yield
        duties.stop()
        app.state.attachment_store.decoders.close()
        if services is None:  # we built them, we close them
            built.close()

    app: FastAPI = FastAPIOffline(
        title="huying 有呼必应",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_parameters={"persistAuthorization": True},
        # For every route, present and future: no NUL in any parameter; unknown query parameters → 422.
        dependencies=[Depends(checked_parameters)],
    )
    app.state.services = built
    app.state.registry = CollectorRegistry()
    app.state.limits = Limits(settings)  # 不被拖垮: what one principal may have going at once
    app.state.registry.register(ops.AuditAlarms(built))  # 防篡改 alarms beside the HTTP metrics
    app.state.registry.register(DeploymentMetrics(built))  # log, projections, duties: from the database
    app.state.registry.register(LagMetrics(built.projector.lag))  # save → visible, where projected here
    _field_intake(app, built, settings)
    problems.install(app)
    app.add_exception_handler(AttachmentRefused, attachments.refused)  # 413 / 415 for uploads
    app.add_exception_handler(Busy, refused)  # 429: a principal's waiters are all taken
    express = []
    for module in (
        calls,
        work_orders,
        ratings,
        directives,
        departments,
        ledger,
        dashboards,
        scores,
        assessment,
        reference,
        ops,
        clock,
        meetings,  # 联席会议
        publications,  # a published 考评
        events,  # 审计: the event feed, exports, the tamper-evidence check
        audit,
        contact_access,  # 个人信息访问记录, for auditors
        attachments,  # 随手拍
        webhooks,  # signed webhooks: department systems are told
    ):
        app.include_router(openapi.declare_identity(module.router))
        express += express_routes(module.router.routes, shared=app.router.dependencies)
    app.mount("/open311/v2", create_open311_app(built))  # civic apps: Open311 GeoReport v2
    install_console(app, built)  # 呼应综合指挥平台: the web console at /
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    # Inside the gate: the hot routes' ordinary requests, answered without FastAPI's per-request work.
    app.add_middleware(
        Express,
        routes=express,
        exception_handlers=app.exception_handlers,
        dependency_overrides=app.dependency_overrides,
    )
    app.add_middleware(
        Gate,
        authenticate=built.tokens.principal_for,
        remembered=built.tokens.remembered,
        limits=app.state.limits,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes={"/api/v1/attachments": settings.max_upload_bytes, **console_uploads(settings)},
        share_lookups=settings.token_cache_seconds > 0,  # only where a live token may be trusted a while
    )
    app.add_middleware(DatabaseUnavailable)  # 503, wherever a database error surfaces, the gate included
    app.add_middleware(HttpMetrics, registry=app.state.registry)
    _outermost(app, SecurityHeaders)
    # Built now, not at the first request: threads sending their first requests at once would
    # each build it (Starlette checks, then builds), registering the HTTP metrics twice.
    app.middleware_stack = app.build_middleware_stack()
    return app


def _outermost(app: FastAPI, wrapper: type[SecurityHeaders]) -> None:
    """Wraps even the server-error layer, so the app's own 500s carry the headers too."""
    build = app.build_middleware_stack

    def built() -> ASGIApp:
        return wrapper(build())

    app.build_middleware_stack = built  # type: ignore[method-assign]


def _field_intake(app: FastAPI, built: Services, settings: Settings) -> None:
    """随手拍: where photos are kept."""
    assert settings.attachments_dir is not None  # filled in by Settings
    app.state.attachment_store = AttachmentStore(
        settings.attachments_dir,
        built.attachments,
        settings.max_attachment_bytes,
        settings.max_photo_pixels,
        Decoders(settings.photo_decoders, settings.photo_decode_wait_seconds),
    )
