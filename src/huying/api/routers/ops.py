"""Liveness, readiness and metrics: no token needed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from huying.api.deps import HuyingServices
from huying.api.unavailable import reason
from huying.domain.worktime import WorkCalendar

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(s: HuyingServices) -> JSONResponse:
    """Ready when both stores answer; reports how far the read models lag the log."""
    checks: dict[str, Any] = {}
    head = 0
    try:
        head = s.app.recorder.max_notification_id() or 0
        checks["event_store"] = {"ok": True, "position": head}
    except Exception as e:  # readiness reports any failure of a store as "not ready"
        checks["event_store"] = _failed(e)
    try:
        with s.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as e:
        checks["database"] = _failed(e)
    try:
        at = s.projector.position()
        checks["projections"] = {
            # Lag alone is not a failure; a projector whose batches fail is.
            "ok": s.projector.failing is None,
            "error": s.projector.failing,
            "position": at,
            "lag": max(head - at, 0),
            "running_here": s.projector.running,
        }
    except Exception as e:
        checks["projections"] = _failed(e)
    checks["calendar"] = _calendar_check(s.app.calendar, s.clock.now())
    ready = all(c["ok"] for c in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


def _failed(e: Exception) -> dict[str, Any]:
    """A store that did not answer, and why ("Connection refused", a timeout, …)."""
    return {"ok": False, "error": type(e).__name__, "reason": reason(e)}


def _calendar_check(calendar: WorkCalendar, now: datetime) -> dict[str, Any]:
    """From 1 November, warn when next year's holidays are unknown (Monday–Friday fallback)."""
    local = now.astimezone(calendar.tz)
    check: dict[str, Any] = {
        "ok": True,
        "this_year_known": calendar.knows_year(local.year),
        "next_year_known": calendar.knows_year(local.year + 1),
    }
    if not check["this_year_known"]:
        check["warning"] = f"no holiday data for {local.year}: counting Monday–Friday as working days"
    elif local.month >= 11 and not check["next_year_known"]:
        check["warning"] = (
            f"no holiday data for {local.year + 1} yet: add the announced schedule with "
            "HUYING_CALENDAR_FILE, or deadlines will count Monday–Friday"
        )
    return check


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format"}},
)
def metrics(request: Request) -> Response:
    """Prometheus exposition."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
