"""The vocabulary of a call's state: statuses, work orders, evaluations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


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
WITHDRAWABLE = frozenset({Status.AWAITING_RESPONSE, Status.IN_PROGRESS, Status.DISPATCHED, Status.RETURNED})
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
    extension: dict[str, Any] | None = None
    result: str | None = None
    signed_at: datetime | None = None
    completed_at: datetime | None = None
    progress_notes: int = 0
    last_version: int = 0
    sign_due: datetime | None = None
    settled_at: datetime | None = None  # when it was returned or cancelled

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ORDER


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
