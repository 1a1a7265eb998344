"""Obligations — what one unit owed on one call at one level, read alike from the stints
(``rm_stints``: a community or street holding a call) and the work orders (``rm_work_orders``:
what a department owes on a call). The SLA dashboard and the 一呼一评 scores both count them;
``docs/metrics.md`` §2 is the auditor's statement of what they are.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Connection, and_, exists, select, true

from huying.domain.levels import Level
from huying.domain.sla import warn_at
from huying.domain.states import OPEN_ORDER, ORDERS_ACTIVE
from huying.domain.worktime import WorkCalendar
from huying.projections.tables import rm_calls, rm_stints, rm_work_orders
from huying.queries.queues import BY_ARRIVAL


class Arrival(StrEnum):
    """How an obligation reached its unit."""

    RAISE = "raise"  # the first stint: the origin community
    ESCALATION = "escalation"  # 上呼 to the street
    REOPEN = "reopen"  # 重办: the first stint of a later round
    DISPATCH = "dispatch"  # 派单: a department's work order


class Response(StrEnum):
    """How an obligation stands on its response (响应) due time."""

    ON_TIME = "on_time"  # responded at or before a recorded due time
    LATE = "late"  # responded after it, or still unanswered (or ended unanswered) past it
    UNTIMED = "untimed"  # no due time recorded: never counted as on time
    PENDING = "pending"  # unanswered, open, due time not yet reached
    ENDED_BEFORE_DUE = "ended_before_due"  # ended unanswered at or before its due time
    NOT_OWED = "not_owed"  # arrived by reopen: the call goes straight back in progress


@dataclass(frozen=True)
class Obligation:
    """What one unit owed on one call at one level: a stint, or a department's work order."""

    call_id: str
    unit: str
    level: Level
    grid_code: str
    round: int
    arrived_by: Arrival
    arrived_at: datetime
    responded_at: datetime | None  # acknowledged (stint) / signed (order)
    response_due: datetime | None  # stint: response_due; order: sign_due (签收时限)
    ended_at: datetime | None  # when it stopped being owed; None while open (and for lapsed orders)
    outcome: str | None  # resolved escalated withdrawn merged | returned cancelled lapsed; None while open
    resolution_due: datetime | None
    is_open: bool
    order_id: str | None = None
    role: str | None = None
    # When the first of its running clocks has used 80% of its time ("due soon"); known for
    # open obligations only (orders: recorded; stints: when loaded with a calendar).
    due_soon_at: datetime | None = None

    @property
    def resolved(self) -> bool:
        return self.outcome == "resolved"

    @property
    def resolved_on_time(self) -> bool:
        due = self.resolution_due
        return self.resolved and due is not None and self.ended_at is not None and self.ended_at <= due

    def response(self, now: datetime) -> Response:
        if self.arrived_by is Arrival.REOPEN:
            return Response.NOT_OWED
        due = self.response_due
        if due is None:
            return Response.UNTIMED
        if self.responded_at is not None:
            return Response.ON_TIME if self.responded_at <= due else Response.LATE
        if self.ended_at is not None:
            return Response.ENDED_BEFORE_DUE if self.ended_at <= due else Response.LATE
        return Response.LATE if due < now else Response.PENDING

    def running_dues(self) -> list[datetime]:
        """The due times of its clocks still running: the response clock while open and
        unanswered (never for a reopen), the resolution clock while open."""
        if not self.is_open:
            return []
        dues = [self.resolution_due]
        if self.responded_at is None and self.arrived_by is not Arrival.REOPEN:
            dues.append(self.response_due)
        return [due for due in dues if due is not None]

    def overdue(self, now: datetime) -> bool:
        """Still open, and a due time of a running clock has passed."""
        return any(due < now for due in self.running_dues())

    def due_soon(self, now: datetime) -> bool:
        """Still open, not overdue, and a running clock has used 80% of its time."""
        return (
            self.is_open
            and self.due_soon_at is not None
            and self.due_soon_at <= now
            and not self.overdue(now)
        )


def stint_obligations(
    conn: Connection, where: ColumnElement[bool], calendar: WorkCalendar | None = None
) -> list[Obligation]:
    """Stints (community and street) matching ``where`` (over ``rm_stints`` and ``rm_calls``).

    With a ``calendar``, open stints also get ``due_soon_at``: 80% of each of the stint's own
    running clocks, measured from its arrival as the clocks are (working time, or clock time on
    应急处置 items). A call's other clocks (its open work orders) are not the stint's.
    """
    earlier = rm_stints.alias("earlier")
    first_of_round = ~exists().where(
        earlier.c.call_id == rm_stints.c.call_id,
        earlier.c.round == rm_stints.c.round,
        earlier.c.n < rm_stints.c.n,
    )
    query = (
        select(rm_stints, rm_calls.c.grid_code, rm_calls.c.clock_time, first_of_round.label("first_of_round"))
        .join(rm_calls, rm_calls.c.call_id == rm_stints.c.call_id)
        .where(where)
        .order_by(rm_stints.c.arrived_at, rm_stints.c.call_id, rm_stints.c.n)
    )
    found = []
    for r in conn.execute(query):
        if r.n == 1:
            arrival = Arrival.RAISE
        elif r.first_of_round and r.round > 1:
            arrival = Arrival.REOPEN
        else:
            arrival = Arrival.ESCALATION
        o = Obligation(
            call_id=r.call_id,
            unit=r.unit,
            level=Level(r.level),
            grid_code=r.grid_code,
            round=r.round,
            arrived_by=arrival,
            arrived_at=r.arrived_at,
            responded_at=r.acknowledged_at,
            response_due=r.response_due,
            ended_at=r.ended_at,
            outcome=r.outcome,
            resolution_due=r.resolution_due,
            is_open=r.ended_at is None,
        )
        if calendar is not None and o.is_open:
            warnings = (warn_at(calendar, o.arrived_at, due, bool(r.clock_time)) for due in o.running_dues())
            o = replace(o, due_soon_at=min(warnings, default=None))
        found.append(o)
    return found


_ORDER_OUTCOME = {"completed": "resolved", "returned": "returned", "cancelled": "cancelled"}
_OPEN_ORDER = frozenset(s.value for s in OPEN_ORDER)
_ACTIVE_CALL = frozenset(s.value for s in ORDERS_ACTIVE)


def order_obligations(conn: Connection, where: ColumnElement[bool]) -> list[Obligation]:
    """Work orders matching ``where`` (over ``rm_work_orders`` and ``rm_calls``)."""
    query = (
        select(rm_work_orders, rm_calls.c.grid_code)
        .join(rm_calls, rm_calls.c.call_id == rm_work_orders.c.call_id)
        .where(where)
        .order_by(rm_work_orders.c.dispatched_at, *BY_ARRIVAL)
    )
    found = []
    for r in conn.execute(query):
        # An order left open on a call the street has resolved can no longer be acted on: lapsed.
        actionable = r.status in _OPEN_ORDER and r.call_status in _ACTIVE_CALL
        outcome = _ORDER_OUTCOME.get(r.status) or (None if actionable else "lapsed")
        found.append(
            Obligation(
                call_id=r.call_id,
                unit=r.department_code,
                level=Level.DEPARTMENT,
                grid_code=r.grid_code,
                round=r.round,
                arrived_by=Arrival.DISPATCH,
                arrived_at=r.dispatched_at,
                responded_at=r.signed_at,
                # The signing clock (签收): an order returned or cancelled unsigned stopped owing
                # its signature when it was settled — before the due time, it was never owed.
                response_due=r.sign_due,
                ended_at=r.completed_at or r.settled_at,
                outcome=outcome,
                resolution_due=r.deadline,
                is_open=actionable,
                order_id=r.order_id,
                role=r.role,
                due_soon_at=r.due_soon_at if actionable else None,
            )
        )
    return found


def obligations(
    conn: Connection,
    level: Level,
    units: Collection[str] | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    open_only: bool = False,
    calendar: WorkCalendar | None = None,
) -> list[Obligation]:
    """One level's obligations of ``units`` (None: every unit), arrived in [since, until).

    ``calendar``: give it to know when open stints fall due soon (orders record it)."""
    if level is Level.DEPARTMENT:
        t = rm_work_orders
        unit, arrived = t.c.department_code, t.c.dispatched_at
        still_open = and_(t.c.status.in_(_OPEN_ORDER), t.c.call_status.in_(_ACTIVE_CALL))
        where: list[ColumnElement[bool]] = []
    else:
        t = rm_stints
        unit, arrived, still_open = t.c.unit, t.c.arrived_at, t.c.ended_at.is_(None)
        where = [t.c.level == level.value]
    if units is not None:
        where.append(unit.in_(sorted(units)))
    if since is not None:
        where.append(arrived >= since)
    if until is not None:
        where.append(arrived < until)
    if open_only:
        where.append(still_open)
    if level is Level.DEPARTMENT:
        return order_obligations(conn, and_(true(), *where))
    return stint_obligations(conn, and_(true(), *where), calendar)
