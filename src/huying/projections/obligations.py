"""Obligations — what one unit owed on one call at one level, read alike from the stints
(``rm_stints``: a community or street holding a call) and the work orders (``rm_work_orders``:
what a department owes on a call), as stored or as the projector is about to store them. The
tallies count them (``projections.tallies``), the SLA dashboard and the 一呼一评 scores read
those; ``docs/metrics.md`` §2 is the auditor's statement of what they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from operator import itemgetter
from typing import Any

from huying.domain.levels import Level
from huying.domain.states import OPEN_ORDER, ORDERS_ACTIVE


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
    ref: str  # which obligation of its call: ``stint<n>``, or the work order's id
    role: str | None = None
    # When the first of its running clocks has used 80% of its time ("due soon"): an open
    # order's, as recorded (an open stint's is worked out by ``projections.open_obligations``).
    due_soon_at: datetime | None = None

    @property
    def order_id(self) -> str | None:
        return self.ref if self.level is Level.DEPARTMENT else None

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


# --- from the stored rows ----------------------------------------------------------------------
# The same obligations whether read back from the database or made from the rows the projector is
# about to store (``huying.projections.sla``, ``huying.projections.work_orders``): the tallies
# count old and new alike.

Fields = Mapping[Any, Any]  # a row as stored, or as the projector is about to store it
_ORDER_OUTCOME = {"completed": "resolved", "returned": "returned", "cancelled": "cancelled"}
_OPEN_ORDER = frozenset(s.value for s in OPEN_ORDER)
_ACTIVE_CALL = frozenset(s.value for s in ORDERS_ACTIVE)


def stint_obligation(r: Fields, grid: str, first_of_round: bool) -> Obligation:
    """A stint (``rm_stints``) held on a call raised in ``grid``; ``first_of_round``: no earlier
    stint of the call has its round."""
    if r["n"] == 1:
        arrival = Arrival.RAISE
    elif first_of_round and r["round"] > 1:
        arrival = Arrival.REOPEN
    else:
        arrival = Arrival.ESCALATION
    return Obligation(
        call_id=r["call_id"],
        unit=r["unit"],
        level=Level(r["level"]),
        grid_code=grid,
        round=r["round"],
        arrived_by=arrival,
        arrived_at=r["arrived_at"],
        responded_at=r["acknowledged_at"],
        response_due=r["response_due"],
        ended_at=r["ended_at"],
        outcome=r["outcome"],
        resolution_due=r["resolution_due"],
        is_open=r["ended_at"] is None,
        ref=f"stint{r['n']}",
    )


def order_obligation(r: Fields, grid: str) -> Obligation:
    """A work order (``rm_work_orders``) on a call raised in ``grid``."""
    # An order left open on a call the street has resolved can no longer be acted on: lapsed.
    actionable = r["status"] in _OPEN_ORDER and r["call_status"] in _ACTIVE_CALL
    outcome = _ORDER_OUTCOME.get(r["status"]) or (None if actionable else "lapsed")
    return Obligation(
        call_id=r["call_id"],
        unit=r["department_code"],
        level=Level.DEPARTMENT,
        grid_code=grid,
        round=r["round"],
        arrived_by=Arrival.DISPATCH,
        arrived_at=r["dispatched_at"],
        responded_at=r["signed_at"],
        # The signing clock (签收): an order returned or cancelled unsigned stopped owing its
        # signature when it was settled — before the due time, it was never owed.
        response_due=r["sign_due"],
        ended_at=r["completed_at"] or r["settled_at"],
        outcome=outcome,
        resolution_due=r["deadline"],
        is_open=actionable,
        ref=r["order_id"],
        role=r["role"],
        due_soon_at=r["due_soon_at"] if actionable else None,
    )


def of_call(stints: Iterable[Fields], orders: Iterable[Fields], grid: str) -> list[Obligation]:
    """One call's obligations: its stints in order, then its work orders."""
    found, rounds = [], set()
    for r in sorted(stints, key=itemgetter("n")):
        found.append(stint_obligation(r, grid, r["round"] not in rounds))
        rounds.add(r["round"])
    return found + [order_obligation(r, grid) for r in orders]
