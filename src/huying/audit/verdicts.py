"""The last whole-log check's verdict, kept in the database so that every process of a
deployment shows it: the chain keeper checks the log at start and every hour in `huying project`
— a child of `huying serve` on SQLite, a service of its own on PostgreSQL — while /readyz and
/metrics are answered by the API's processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select

from huying.audit.tables import audit_verdict
from huying.audit.verify import Break, Report
from huying.audit.vouch import Tamper

_ONE = 1  # the row's id: only the last verdict is kept


@dataclass(frozen=True)
class Verdict:
    """The last whole-log check, and when (wall-clock time)."""

    at: datetime
    report: Report


def keep(engine: Engine, verdict: Verdict) -> None:
    report, broken = verdict.report, verdict.report.broken
    with engine.begin() as conn:
        conn.execute(delete(audit_verdict))
        conn.execute(
            insert(audit_verdict).values(
                id=_ONE,
                at=verdict.at,
                checked=report.checked,
                chained_through=report.chained_through,
                log_head=report.log_head,
                unchained=report.unchained,
                checkpoints_checked=report.checkpoints_checked,
                break_position=broken.position if broken else None,
                break_kind=broken.kind.value if broken else None,
                break_detail=broken.detail if broken else None,
                intact_through=broken.intact_through if broken else None,
            )
        )


def last(engine: Engine) -> Verdict | None:
    with engine.connect() as conn:
        row = conn.execute(select(audit_verdict).where(audit_verdict.c.id == _ONE)).first()
    if row is None:
        return None
    broken = (
        None
        if row.break_position is None
        else Break(row.break_position, Tamper(row.break_kind), row.break_detail, row.intact_through)
    )
    report = Report(
        row.checked, row.chained_through, row.log_head, row.unchained, row.checkpoints_checked, broken
    )
    return Verdict(row.at, report)
