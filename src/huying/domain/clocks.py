"""A call's SLA clocks (时限), read from its state: which clocks it has had, who owes each, when
each falls due and whether it has stopped.

Each stint has a response and a resolution clock; each work order a signing (签收) and a
completion (限期办理) clock. Keys name them: ``stint2:response``, ``stint2:resolution``,
``<order>:sign``, ``<order>:completion``. Queries only: the events recorded the due times, and
how a clock stands "now" is the read side's question (``huying.domain.deadlines``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from huying.domain.errors import InvalidCommand, TransitionNotAllowed
from huying.domain.levels import Level
from huying.domain.states import OrderStatus, Stint, WorkOrder

StintClock = Literal["response", "resolution"]
OrderClock = Literal["sign", "completion"]
_STINT_CLOCKS: dict[str, StintClock] = {"response": "response", "resolution": "resolution"}
_ORDER_CLOCKS: dict[str, OrderClock] = {"sign": "sign", "completion": "completion"}


class Clocked(Protocol):
    """What the clocks are read from: the call's stints and work orders."""

    @property
    def chain(self) -> Sequence[Stint]: ...
    @property
    def work_orders(self) -> Mapping[str, WorkOrder]: ...


@dataclass(frozen=True, slots=True)
class RunningClock:
    """One SLA clock of a call: who owes what by when, and whether it has stopped."""

    key: str
    unit: str
    level: str
    started: datetime
    due: datetime | None
    stopped: datetime | None

    @property
    def breached(self) -> bool:
        """Stopped late. (A clock still running is late only relative to "now".)"""
        return self.due is not None and self.stopped is not None and self.stopped > self.due

    def late_at(self, now: datetime) -> bool:
        return self.due is not None and (self.stopped or now) > self.due


def clock_of(call: Clocked, key: str) -> RunningClock:
    """A clock by its key (422 naming ``clock`` when the call has no such clock)."""
    owner, _, kind = key.rpartition(":")
    if owner.startswith("stint") and owner[5:].isdigit() and kind in _STINT_CLOCKS:
        return stint_clock(call, int(owner[5:]), _STINT_CLOCKS[kind])
    if owner in call.work_orders and kind in _ORDER_CLOCKS:
        return order_clock(call, owner, _ORDER_CLOCKS[kind])
    raise InvalidCommand("clock", f"no clock {key} on this call")


def clocks_of(call: Clocked) -> list[RunningClock]:
    """Every clock this call has had, running or stopped (those with a due time)."""
    found = [
        stint_clock(call, n, kind) for n in range(1, len(call.chain) + 1) for kind in _STINT_CLOCKS.values()
    ]
    found += [
        order_clock(call, order_id, kind) for order_id in call.work_orders for kind in _ORDER_CLOCKS.values()
    ]
    return [c for c in found if c.due is not None]


def stint_clock(call: Clocked, n: int, kind: StintClock) -> RunningClock:
    """The response or resolution clock of the call's ``n``-th stint (1 = the first)."""
    if not 1 <= n <= len(call.chain):
        raise InvalidCommand("clock", f"no stint {n} on this call")
    stint = call.chain[n - 1]
    if kind == "response":
        stopped = stint.acknowledged_at or (stint.ended_at if stint.outcome else None)
        due = stint.response_due
    else:
        stopped, due = stint.ended_at, stint.resolution_due
    return RunningClock(
        key=f"stint{n}:{kind}",
        unit=stint.holder,
        level=stint.level.value,
        started=stint.at,
        due=due,
        stopped=stopped,
    )


def order_clock(call: Clocked, order_id: str, kind: OrderClock) -> RunningClock:
    """A work order's signing or completion clock."""
    o = call.work_orders[order_id]
    if kind == "sign":
        stopped = o.signed_at or (None if o.status is OrderStatus.DISPATCHED else o.settled_at)
        due = o.sign_due
    else:
        stopped = o.completed_at or (None if o.is_open else o.settled_at)
        due = o.deadline
    return RunningClock(
        key=f"{order_id}:{kind}",
        unit=o.department_code,
        level=Level.DEPARTMENT.value,
        started=o.dispatched_at,
        due=due,
        stopped=stopped,
    )


def require_missed(clock: RunningClock, at: datetime) -> None:
    """The watchdog's moves re-check their reason, so a rerun or a second watchdog does nothing
    twice (409 when the clock is not overdue at ``at``)."""
    if clock.due is None or clock.stopped is not None or at < clock.due:
        raise TransitionNotAllowed(f"{clock.key} is not overdue: nothing for the watchdog to do")
