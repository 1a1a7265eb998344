"""Liveness, readiness and metrics: no token needed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from huying.api.deps import HuyingServices
from huying.api.routing import Router
from huying.api.unavailable import reason
from huying.audit.vouch import Flaw
from huying.bootstrap import Services
from huying.domain.worktime import WorkCalendar

router = Router(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up. Answered in the event loop: it needs no worker thread, so however
    busy the threads are, it answers at once."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(s: HuyingServices) -> JSONResponse:
    """Ready when both stores answer and huying can vouch for its log: reports how far the read
    models and the hash chain lag the log, and names any stored event they halted at."""
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
    for name, check in (("projections", _projections_check), ("audit_chain", _chain_check)):
        try:
            checks[name] = check(s, head)
        except Exception as e:
            checks[name] = _failed(e)
    checks["calendar"] = _calendar_check(s.app.calendar, s.clock.now())
    ready = all(c["ok"] for c in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


def _projections_check(s: Services, head: int) -> dict[str, Any]:
    """Lag alone is not a failure; a projector whose batches fail, or that halted at a stored
    event it cannot vouch for, is."""
    at = s.projector.position()
    # Where it runs elsewhere, judge the next event afresh; here, it knows where it halted.
    halted = s.projector.halted or (None if s.projector.running else s.projector.inspect())
    return {
        "ok": s.projector.failing is None and halted is None,
        "error": s.projector.failing,
        "position": at,
        "lag": max(head - at, 0),
        "running_here": s.projector.running,
        "halted_at": _flaw(halted),
    }


def _chain_check(s: Services, head: int) -> dict[str, Any]:
    """防篡改: not ready while the keeper refuses to chain an event, or the last whole-log check
    (in this process) found a break."""
    chained = s.chain.tracked_position()
    alarm = s.chain.alarm or (None if s.chain.running else s.chain.inspect())
    verdict = s.chain.verdict
    broken = verdict.report.broken if verdict is not None else None
    return {
        "ok": alarm is None and broken is None,
        "position": chained,
        "lag": max(head - chained, 0),
        "running_here": s.chain.running,
        "refused": _flaw(alarm),
        "verified": None
        if verdict is None
        else {
            "at": verdict.at.isoformat(),
            "ok": broken is None,
            "break": None
            if broken is None
            else {"position": broken.position, "kind": broken.kind.value, "detail": broken.detail},
        },
    }


def _flaw(flaw: Flaw | None) -> dict[str, Any] | None:
    if flaw is None:
        return None
    return {"position": flaw.position, "kind": flaw.kind.value, "detail": flaw.detail}


class AuditAlarms(Collector):
    """/metrics: an alarm per check that cannot vouch for a stored event (the position as the
    value; kind as a label)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        s = self.services
        up = GaugeMetricFamily("huying_audit_checks_up", "1 when the stores answered these checks")
        try:
            head = s.app.recorder.max_notification_id() or 0
            projections, chain = _projections_check(s, head), _chain_check(s, head)
        except Exception:  # a store that does not answer: /readyz says which; /metrics stays up
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        # Where the log, the read models and the chain stand: DeploymentMetrics (huying_log_head,
        # huying_projection_position{projection}) — here only what the checks find.
        alarm = GaugeMetricFamily(
            "huying_audit_alarm", "1 while a check cannot vouch for a stored event", labels=["check"]
        )
        where = GaugeMetricFamily(
            "huying_audit_alarm_position",
            "the position of the stored event a check cannot vouch for",
            labels=["check", "kind"],
        )
        verified = (chain["verified"] or {}).get("break")
        for check, flaw in (
            ("projector", projections["halted_at"]),
            ("chain", chain["refused"]),
            ("verify", verified),
        ):
            alarm.add_metric([check], 0 if flaw is None else 1)
            if flaw is not None:
                where.add_metric([check, flaw["kind"]], flaw["position"] or 0)
        yield alarm
        yield where


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
