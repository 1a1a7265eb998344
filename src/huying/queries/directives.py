"""令行禁止 — the directives' read side: a board per directive (every target's stage, lateness
and evidence; its breakdowns' standing), each unit's pending directives, the directives a
principal may list, and per unit figures (docs/metrics.md §令行禁止). Over the rows
``huying.projections.directives`` writes; "now" is the caller's business time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, true

from huying.domain.directive_states import FINAL, WORKING, Stage
from huying.domain.jurisdiction import can_see_directive, may_read_unit
from huying.domain.org import Org
from huying.domain.principal import DISTRICT_WIDE, Principal
from huying.projections.directive_tables import rm_directive_targets as t
from huying.projections.directive_tables import rm_directives as d

_OPEN_TO_DO = [s.value for s in (Stage.ISSUED, *WORKING)]
_FINAL = [s.value for s in FINAL]


def receipt_late(now: datetime) -> ColumnElement[bool]:
    """签收 late (``directive_clocks.receipt_clock``): received after its receipt deadline, or not
    received and the deadline passed (before the directive was cancelled, if it was). Never
    NULL: a comparison with a missing ``received_at`` is spelt out, not left to SQL's unknown."""
    return or_(
        and_(t.c.received_at.is_not(None), t.c.received_at > t.c.receipt_due),
        and_(t.c.received_at.is_(None), t.c.receipt_due < func.coalesce(t.c.cancelled_at, now)),
    )


def completion_late(now: datetime) -> ColumnElement[bool]:
    """Completion late (``directive_clocks.completion_clock``): the standing report (reported or
    accepted) came after the deadline, or none stands and the deadline passed (a target sent back
    runs late again; a cancelled one, if cancelled after it)."""
    standing = t.c.stage.in_([Stage.REPORTED.value, Stage.ACCEPTED.value])
    return or_(
        and_(standing, t.c.reported_at > t.c.due),
        and_(t.c.stage.in_(_OPEN_TO_DO), t.c.due < now),
        and_(t.c.stage == Stage.CANCELLED.value, t.c.cancelled_at > t.c.due),
    )


def _targets(conn: Connection, where: ColumnElement[bool], now: datetime) -> list[dict[str, Any]]:
    query = select(
        t, receipt_late(now).label("receipt_overdue"), completion_late(now).label("completion_overdue")
    ).where(where)
    rows = [dict(r._mapping) for r in conn.execute(query.order_by(t.c.seq, t.c.unit))]
    for row in rows:
        row["photos"] = (row["photos"] or "").split()
        row["receipt_overdue"], row["completion_overdue"] = (
            bool(row["receipt_overdue"]),
            bool(row["completion_overdue"]),
        )
    return rows


@dataclass(frozen=True)
class _Addressed:
    issuer: str
    targets: dict[str, object]


def board(
    conn: Connection, principal: Principal, org: Org, directive_id: str, now: datetime
) -> dict[str, Any]:
    """A directive's board: every target's state, lateness and evidence, and the standing of
    each breakdown (分解) the principal may see."""
    head = conn.execute(select(d).where(d.c.directive_id == directive_id)).first()
    targets = _targets(conn, t.c.directive_id == directive_id, now)
    children = []
    child_rows = conn.execute(select(d).where(d.c.parent_id == directive_id).order_by(d.c.seq)).all()
    for child in child_rows:
        child_targets = _targets(conn, t.c.directive_id == child.directive_id, now)
        addressed = _Addressed(child.issuer, {r["unit"]: r for r in child_targets})
        if can_see_directive(principal, addressed, org):
            children.append({**dict(child._mapping), "standing": standing(child_targets)})
    return {
        "directive": dict(head._mapping) if head else None,
        "targets": targets,
        "standing": standing(targets),
        "children": children,
    }


def standing(targets: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """How a directive's targets stand: how many in each stage, how many late."""
    rows = list(targets)
    by_stage = {s.value: sum(r["stage"] == s.value for r in rows) for s in Stage}
    overdue = sum(
        r["stage"] not in _FINAL and (r["receipt_overdue"] or r["completion_overdue"]) for r in rows
    )
    return {"by_stage": by_stage, "overdue": overdue}


def pending(
    conn: Connection, unit: str, side: str, now: datetime, after: int, limit: int
) -> list[dict[str, Any]]:
    """A unit's pending directives, changed since the cursor ``after`` (a log position), oldest
    change first: as a target, those to receive, work on or report; as the issuer, reports to
    accept or send back and extension requests to decide. No two rows listed share a position
    (a unit is one target of a directive; every move an issuer awaits is one target's own
    event), so a page never ends between two rows the cursor would then skip."""
    if side == "target":
        where = and_(t.c.unit == unit, t.c.stage.in_(_OPEN_TO_DO))
    else:
        awaiting = or_(t.c.stage == Stage.REPORTED.value, t.c.extension_pending)
        where = and_(t.c.issuer == unit, awaiting, t.c.stage.not_in(_FINAL))
    query = (
        select(
            t,
            d.c.title,
            receipt_late(now).label("receipt_overdue"),
            completion_late(now).label("completion_overdue"),
        )
        .join(d, d.c.directive_id == t.c.directive_id)
        .where(where, t.c.updated_position > after, d.c.cancelled.is_(False))
        .order_by(t.c.updated_position, t.c.directive_id, t.c.unit)
        .limit(limit)
    )
    return [{**dict(r._mapping), "photos": (r.photos or "").split()} for r in conn.execute(query)]


def readable_units(principal: Principal, org: Org) -> list[str] | None:
    """The units whose directives a principal sees (None: every unit) — the one rule."""
    if principal.role in DISTRICT_WIDE:
        return None
    return [code for code in org.units if may_read_unit(principal, org, code)]


def visible(principal: Principal, org: Org) -> ColumnElement[bool]:
    """Directives the principal issued, that target it, or that concern a unit below it."""
    units = readable_units(principal, org)
    if units is None:
        return true()
    targeting = select(t.c.directive_id).where(t.c.unit.in_(units))
    return or_(d.c.issuer.in_(units), d.c.directive_id.in_(targeting))


def listing(
    conn: Connection, principal: Principal, org: Org, after: int, limit: int, parent_id: str | None = None
) -> list[dict[str, Any]]:
    """The directives a principal may see, in order of issue (cursor: the Issued position)."""
    query = select(d).where(visible(principal, org), d.c.seq > after)
    if parent_id is not None:
        query = query.where(d.c.parent_id == parent_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(d.c.seq).limit(limit))]
