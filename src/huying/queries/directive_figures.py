"""令行禁止 figures per target unit (docs/metrics.md, "令行禁止"): on-time receipt rate, on-time
completion rate, first-time acceptance rate — each with its counts, judged as of ``now`` over
the directives issued in ``[since, until)``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from huying.domain.directive_states import Stage
from huying.projections.directive_tables import rm_directive_targets as t


def figures(
    conn: Connection,
    units: Iterable[str] | None,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """One entry per unit that was a target (of the given units; None: every unit)."""
    query = select(t)
    if units is not None:
        query = query.where(t.c.unit.in_(list(units)))
    if since is not None:
        query = query.where(t.c.issued_at >= since)
    if until is not None:
        query = query.where(t.c.issued_at < until)
    per_unit: dict[str, list[Any]] = {}
    for row in conn.execute(query.order_by(t.c.unit)):
        per_unit.setdefault(row.unit, []).append(row)
    return [_unit_figures(unit, rows, now) for unit, rows in per_unit.items()]


def _unit_figures(unit: str, rows: list[Any], now: datetime) -> dict[str, Any]:
    receipt = [r for r in rows if _receipt_judged(r, now)]
    on_time_receipt = [r for r in receipt if r.received_at is not None and r.received_at <= r.receipt_due]
    accepted = [r for r in rows if r.stage == Stage.ACCEPTED.value]
    completion = [r for r in rows if r.stage == Stage.ACCEPTED.value or _running_late(r, now)]
    on_time = [r for r in accepted if r.reported_at <= r.due]
    first_time = [r for r in accepted if r.reworks == 0]
    return {
        "unit": unit,
        "targets": len(rows),
        "receipt_judged": len(receipt),
        "received_on_time": len(on_time_receipt),
        "on_time_receipt_rate": _rate(on_time_receipt, receipt),
        "completion_judged": len(completion),
        "completed_on_time": len(on_time),
        "on_time_completion_rate": _rate(on_time, completion),
        "accepted": len(accepted),
        "accepted_first_time": len(first_time),
        "first_time_acceptance_rate": _rate(first_time, accepted),
        "supervised": sum(r.supervised for r in rows),
    }


def _receipt_judged(r: Any, now: datetime) -> bool:
    """Received, or its receipt deadline passed before it was cancelled (or before now)."""
    return r.received_at is not None or r.receipt_due < (r.cancelled_at or now)


def _running_late(r: Any, now: datetime) -> bool:
    """Not accepted, not cancelled, and late as of now: no report standing by the deadline."""
    if r.stage in (Stage.ACCEPTED.value, Stage.CANCELLED.value):
        return False
    stopped = r.reported_at if r.stage == Stage.REPORTED.value else None
    return bool((stopped or now) > r.due)


def _rate(part: list[Any], whole: list[Any]) -> float | None:
    return round(len(part) / len(whole), 4) if whole else None
