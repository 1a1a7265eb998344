"""The vocabulary of a call's state: statuses, stints, work orders, extensions, evaluations,
supervisions — small typed records, so the read side reads attributes, never string keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from huying.domain.levels import Level


class Status(StrEnum):
    AWAITING_RESPONSE = "awaiting_response"
    IN_PROGRESS = "in_progress"
    DISPATCHED = "dispatched"
    RETURNED = "returned"
    RESOLVED = "resolved"
    EVALUATED = "evaluated"
    CLOSED = "closed"  # 销号
    WITHDRAWN = "withdrawn"  # 撤回
    MERGED = "merged"


TERMINAL = frozenset({Status.CLOSED, Status.WITHDRAWN, Status.MERGED})
# Still owed an answer: the calls whose clocks can run out (the SLA watchdog's), and a reporter may withdraw.
UNSETTLED = frozenset({Status.AWAITING_RESPONSE, Status.IN_PROGRESS, Status.DISPATCHED, Status.RETURNED})
WITHDRAWABLE = UNSETTLED
ORDERS_ACTIVE = frozenset({Status.DISPATCHED, Status.RETURNED})


class Channel(StrEnum):
    GRID_WORKER = "grid_worker"
    PHOTO = "photo"  # 随手拍
    HOTLINE = "hotline"  # 12345
    COUNCIL = "council"  # 议事会
    WALK_IN = "walk_in"
    OPEN311 = "open311"  # a civic app, through the Open311 GeoReport v2 interface: public by its convention


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class OrderRole(StrEnum):
    LEAD = "lead"  # 牵头
    ASSIST = "assist"  # 协办


class OrderStatus(StrEnum):
    DISPATCHED = "dispatched"
    SIGNED = "signed"  # 签收
    RETURNED = "returned"  # 退单
    COMPLETED = "completed"  # 部门办结
    CANCELLED = "cancelled"


OPEN_ORDER = frozenset({OrderStatus.DISPATCHED, OrderStatus.SIGNED})


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


def work_order_id(call_id: str, number: int) -> str:
    """A work order's id: its call's id and its number on the call (``<call id>-w1``, ``-w2``…),
    counted across the call's dispatches, lead first within each."""
    return f"{call_id}-w{number}"


def arrival(order_id: str) -> tuple[str, int]:
    """Work orders in order of arrival (docs/metrics.md §5): by call, then by number — that is
    dispatch order, then place in the dispatch. Never the id as text, which puts -w10 before
    -w9. (A call's ``work_orders`` hold them in this order: events add them so.)"""
    call, _, number = order_id.rpartition("-w")
    return call, int(number)


StintOutcome = Literal["escalated", "resolved", "withdrawn", "merged"]


@dataclass
class Stint:
    """One unit holding the call at one level (a link of the 呼应 chain), with its two clocks:
    respond (响应) and resolve (办结). Departments hold work orders instead."""

    level: Level
    holder: str
    round: int
    at: datetime  # when the unit got the call
    response_due: datetime | None
    resolution_due: datetime | None
    acknowledged_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: StintOutcome | None = None


@dataclass(frozen=True)
class Extension:
    """申请延期: a department's pending request for a later deadline on its work order."""

    until: datetime
    reason: str
    requested_at: datetime


@dataclass(frozen=True)
class Supervision:
    """督办: a flag against the late unit, by a supervisor or by the watchdog on a missed clock."""

    reason: str
    unit: str
    at: datetime
    actor: dict[str, str]
    clock: str | None  # the missed clock's key, when the watchdog raised it
    # The work orders overdue when it was raised (open past their deadline as it then stood), in
    # order of arrival: whose lateness a flag on the street's resolution clock really is.
    overdue_orders: tuple[str, ...] = ()


@dataclass
class WorkOrder:
    """A department's 工单: what it owes on one call, with a deadline (限期办理)."""

    id: str
    call_id: str
    department_code: str
    role: OrderRole
    deadline: datetime
    instructions: str
    dispatched_at: datetime
    round: int = 1
    status: OrderStatus = OrderStatus.DISPATCHED
    extension: Extension | None = None
    result: str | None = None
    signed_at: datetime | None = None
    completed_at: datetime | None = None
    progress_notes: int = 0
    last_version: int = 0
    sign_due: datetime | None = None
    settled_at: datetime | None = None  # when it was returned or cancelled
    rating: CallerRating | None = None  # the street's 一呼一评 of the department's work

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ORDER

    def finish(self, status: OrderStatus, at: datetime) -> None:
        """The order ends — completed, returned or cancelled — and an extension request still
        pending on it ends with it: a finished order takes no extension decisions."""
        self.status = status
        self.extension = None
        if status is OrderStatus.COMPLETED:
            self.completed_at = at
        else:
            self.settled_at = at


@dataclass(frozen=True)
class CallerRating:
    """一呼一评 by the caller: the unit that called up rates the response it got — a street its
    departments' work orders, a community its street's response in one round."""

    rated_unit: str
    satisfaction: Satisfaction
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class Evaluation:
    """一呼一评: the reporter's answer for one round, recorded at the 回访 follow-up."""

    round: int
    contacted: bool
    solved: bool | None
    satisfaction: Satisfaction | None
    comment: str | None
    at: datetime
    actor: dict[str, str]

    @property
    def dissatisfied(self) -> bool:
        return self.satisfaction is Satisfaction.DISSATISFIED
