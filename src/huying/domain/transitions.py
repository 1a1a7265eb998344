"""The call's transition table, as data: who may do what, when, and to what effect.

This is the single source for the call's state machine, declared through the one gate
(``huying.domain.gate``). The aggregate consults it before every move, the API maps its refusals
to 403/409, and the authorisation-matrix tests are generated from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from huying.domain import gate
from huying.domain.levels import Level
from huying.domain.principal import Principal, Role
from huying.domain.states import (
    ORDERS_ACTIVE,
    TERMINAL,
    WITHDRAWABLE,
    CallerRating,
    Evaluation,
    OrderStatus,
    Status,
    Stint,
    WorkOrder,
)


class Party(StrEnum):
    """The parties the table names; a principal is some of them for a given call."""

    HOLDER_COMMUNITY = "holder community"
    HOLDER_STREET = "holder street"
    GRID_WORKER_OF_GRID = "grid worker of the call's grid"
    ORIGIN_COMMUNITY = "origin community"
    SUPERVISOR = "supervisor"
    ORDER_DEPARTMENT = "the work order's department"
    DISPATCHING_STREET = "the street that dispatched the work order"
    SYSTEM = "the SLA watchdog"


HOLDER = frozenset({Party.HOLDER_COMMUNITY, Party.HOLDER_STREET})


class Action(StrEnum):
    RAISE = "raise"
    ACKNOWLEDGE = "acknowledge"
    ESCALATE = "escalate"
    DISPATCH = "dispatch"
    SIGN = "sign"
    RETURN = "return"
    REQUEST_EXTENSION = "request-extension"
    GRANT_EXTENSION = "extension/grant"
    DENY_EXTENSION = "extension/deny"
    PROGRESS = "progress"
    COMPLETE = "complete"
    RESOLVE = "resolve"
    EVALUATE = "evaluate"
    REOPEN = "reopen"
    CLOSE = "close"
    WITHDRAW = "withdraw"
    MERGE = "merge"
    SUPERVISE = "supervise"
    PUT_ON_AGENDA = "put-on-agenda"
    RATE_WORK_ORDER = "rate-work-order"  # 一呼一评 by the caller: the street rates a department
    RATE_RESPONSE = "rate-response"  # … and the community rates its street's response


class CallState(Protocol):
    """What the table reads of a call."""

    @property
    def status(self) -> Status: ...
    @property
    def level(self) -> Level: ...
    @property
    def holder(self) -> str: ...
    @property
    def grid_code(self) -> str: ...
    @property
    def community_code(self) -> str: ...
    @property
    def street_code(self) -> str: ...
    @property
    def round(self) -> int: ...
    @property
    def chain(self) -> list[Stint]: ...
    @property
    def response_ratings(self) -> dict[int, CallerRating]: ...
    @property
    def evaluation(self) -> Evaluation | None: ...
    @property
    def lead_order(self) -> WorkOrder | None: ...


REOPEN_WINDOW = timedelta(days=7)  # the default; a deployment sets its own (HUYING_REOPEN_WINDOW_DAYS)


@dataclass(frozen=True)
class Situation:
    """What else a guard may look at: the time, the work order acted on, the reopen window, the
    round whose street response is rated (None: the call's current round)."""

    now: datetime
    order: WorkOrder | None = None
    reopen_window: timedelta = REOPEN_WINDOW
    round: int | None = None


Guard = Callable[[CallState, Situation], str | None]
Transition = gate.Transition[Action, Party, CallState, Situation]


def parties(principal: Principal, call: CallState, situation: Situation) -> set[Party]:
    """Which of the table's parties this principal is, for this call (and the work order the
    situation names)."""
    order = situation.order
    found: set[Party] = set()
    role, unit = principal.role, principal.unit
    if role is Role.COMMUNITY and unit == call.holder and call.level is Level.COMMUNITY:
        found.add(Party.HOLDER_COMMUNITY)
    if role is Role.STREET and unit == call.holder and call.level is not Level.COMMUNITY:
        found.add(Party.HOLDER_STREET)
    if role is Role.GRID_WORKER and unit == call.grid_code:
        found.add(Party.GRID_WORKER_OF_GRID)
    if role is Role.COMMUNITY and unit == call.community_code:
        found.add(Party.ORIGIN_COMMUNITY)
    if role is Role.SUPERVISOR:
        found.add(Party.SUPERVISOR)
    if role is Role.DEPARTMENT and order is not None and order.department_code == unit:
        found.add(Party.ORDER_DEPARTMENT)
    if role is Role.STREET and order is not None and unit == call.street_code:
        found.add(Party.DISPATCHING_STREET)  # only a call's own street dispatches its orders
    if role is Role.SYSTEM:
        found.add(Party.SYSTEM)
    return found


# --- guards: each returns the rule that is broken, or None -------------------------------


def _status_in(*allowed: Status) -> Guard:
    names = ", ".join(s.value for s in allowed)

    def guard(call: CallState, _: Situation) -> str | None:
        if call.status in allowed:
            return None
        return f"the call is {call.status.value}; this needs status {names}"

    return guard


def _not_terminal(call: CallState, _: Situation) -> str | None:
    if call.status in TERMINAL:
        return f"the call is {call.status.value}, which is final"
    return None


def _escalate(call: CallState, s: Situation) -> str | None:
    if call.level is not Level.COMMUNITY:
        return f"only a community-level call can be called up; this one is at {call.level.value}"
    return _status_in(Status.AWAITING_RESPONSE, Status.IN_PROGRESS)(call, s)


def _dispatch(call: CallState, _: Situation) -> str | None:
    if call.status is Status.RETURNED:
        return None
    if call.level is Level.STREET and call.status is Status.IN_PROGRESS:
        return None
    return (
        f"dispatch needs a street-level call in progress or a returned call; "
        f"this one is {call.level.value}/{call.status.value}"
    )


_ORDERS_INACTIVE = "work orders can only be acted on while the call is dispatched or returned; it is {}"


def _order_in(*allowed: OrderStatus, what: str) -> Guard:
    def guard(call: CallState, s: Situation) -> str | None:
        if call.status not in ORDERS_ACTIVE:
            return _ORDERS_INACTIVE.format(call.status.value)
        assert s.order is not None
        if s.order.status not in allowed:
            return f"the work order is {s.order.status.value}; {what}"
        return None

    return guard


def _request_extension(call: CallState, s: Situation) -> str | None:
    refusal = _order_in(OrderStatus.SIGNED, what="an extension needs a signed order")(call, s)
    if refusal is None and s.order is not None and s.order.extension is not None:
        return "an extension request is already pending on this work order"
    return refusal


def _decide_extension(call: CallState, s: Situation) -> str | None:
    if call.status not in ORDERS_ACTIVE:
        return _ORDERS_INACTIVE.format(call.status.value)
    assert s.order is not None
    if not s.order.is_open:
        return f"the work order is {s.order.status.value}; a finished order takes no extension decisions"
    if s.order.extension is None:
        return "no extension request is pending on this work order"
    return None


def _resolve(call: CallState, _: Situation) -> str | None:
    if call.status is Status.IN_PROGRESS and call.level is not Level.DEPARTMENT:
        return None
    lead = call.lead_order
    if call.status is Status.DISPATCHED and lead is not None:
        if lead.status is OrderStatus.COMPLETED:
            return None
        return f"the lead department's work order is {lead.status.value}, not completed"
    return f"the call is {call.level.value}/{call.status.value}; resolving needs it in progress"


def _reopen(call: CallState, s: Situation) -> str | None:
    refusal = _status_in(Status.EVALUATED)(call, s)
    if refusal:
        return refusal
    evaluation = call.evaluation
    if evaluation is None or not evaluation.dissatisfied:
        return "only a call evaluated 不满意 (dissatisfied) can be reopened"
    if s.now > evaluation.at + s.reopen_window:
        return f"the reopen window of {_span(s.reopen_window)} after evaluation has passed"
    return None


# A call is rated by its callers once its matter is resolved, for as long as the record stands.
_RESOLVED = frozenset({Status.RESOLVED, Status.EVALUATED, Status.CLOSED})


def _rate_work_order(call: CallState, s: Situation) -> str | None:
    if call.status not in _RESOLVED:
        return f"the call is {call.status.value}; a work order is rated once the street has resolved the call"
    assert s.order is not None
    if s.order.rating is not None:
        return "this work order was already rated (one rating per order)"
    if s.order.signed_at is None and s.order.status is not OrderStatus.RETURNED:
        return f"the department never took this order up (it is {s.order.status.value}): no work to rate"
    return None


def street_stint(call: CallState, round_: int) -> Stint | None:
    """The street's stint in a round: the response a community's call-up got, if it got one."""
    return next((st for st in call.chain if st.round == round_ and st.level is Level.STREET), None)


def _rate_response(call: CallState, s: Situation) -> str | None:
    round_ = call.round if s.round is None else s.round
    stint = street_stint(call, round_)
    if stint is None:
        return f"the call did not reach the street in round {round_}; there is no street response to rate"
    if stint.outcome != "resolved":
        return f"the street's response in round {round_} is not resolved"
    if round_ in call.response_ratings:
        return f"the street's response in round {round_} was already rated (one rating per call-up)"
    return None


def _span(window: timedelta) -> str:
    if window >= timedelta(days=1) and window % timedelta(days=1) == timedelta(0):
        return f"{window.days} days"
    return f"{window.total_seconds() / 3600:g} hours"


TABLE = gate.TransitionTable[Action, Party, CallState, Situation](
    "call",
    parties,
    (
        Transition(
            Action.RAISE,
            "Raised",
            frozenset({Party.GRID_WORKER_OF_GRID, Party.ORIGIN_COMMUNITY, Party.SUPERVISOR}),
            "item and grid exist",
            lambda c, s: None,
            "level=community, holder=origin community, status=awaiting_response",
        ),
        Transition(
            Action.ACKNOWLEDGE,
            "Acknowledged",
            HOLDER,
            "status=awaiting_response",
            _status_in(Status.AWAITING_RESPONSE),
            "status=in_progress",
        ),
        Transition(
            Action.ESCALATE,
            "Escalated",
            frozenset({Party.HOLDER_COMMUNITY, Party.SYSTEM}),
            "level=community, status in awaiting_response, in_progress",
            _escalate,
            "level=street, holder=the community's street, status=awaiting_response",
        ),
        Transition(
            Action.DISPATCH,
            "Dispatched",
            frozenset({Party.HOLDER_STREET}),
            "level=street & status=in_progress, or status=returned",
            _dispatch,
            "cancels open orders of an earlier dispatch; level=department, status=dispatched",
        ),
        Transition(
            Action.SIGN,
            "WorkOrderSigned",
            frozenset({Party.ORDER_DEPARTMENT}),
            "order dispatched",
            _order_in(OrderStatus.DISPATCHED, what="only a new order can be signed"),
            "order signed",
        ),
        Transition(
            Action.RETURN,
            "WorkOrderReturned",
            frozenset({Party.ORDER_DEPARTMENT}),
            "order not completed",
            _order_in(OrderStatus.DISPATCHED, OrderStatus.SIGNED, what="only an open order can be returned"),
            "order returned; a returned lead order sets status=returned",
        ),
        Transition(
            Action.REQUEST_EXTENSION,
            "ExtensionRequested",
            frozenset({Party.ORDER_DEPARTMENT}),
            "order signed, no request pending",
            _request_extension,
            "extension pending",
        ),
        Transition(
            Action.GRANT_EXTENSION,
            "ExtensionGranted",
            frozenset({Party.HOLDER_STREET}),
            "extension pending on an open order",
            _decide_extension,
            "the order's deadline moves",
        ),
        Transition(
            Action.DENY_EXTENSION,
            "ExtensionDenied",
            frozenset({Party.HOLDER_STREET}),
            "extension pending on an open order",
            _decide_extension,
            "the request is cleared",
        ),
        Transition(
            Action.PROGRESS,
            "ProgressNoted",
            frozenset({Party.ORDER_DEPARTMENT}),
            "order signed",
            _order_in(OrderStatus.SIGNED, what="progress needs a signed order"),
            "a note on the order",
        ),
        Transition(
            Action.COMPLETE,
            "WorkOrderCompleted",
            frozenset({Party.ORDER_DEPARTMENT}),
            "order signed",
            _order_in(OrderStatus.SIGNED, what="completing needs a signed order"),
            "order completed, any extension request with it; a completed lead order lets the street resolve",
        ),
        Transition(
            Action.RESOLVE,
            "Resolved",
            HOLDER,
            "status=in_progress, or dispatched with the lead order completed",
            _resolve,
            "status=resolved",
        ),
        Transition(
            Action.EVALUATE,
            "Evaluated",
            frozenset({Party.ORIGIN_COMMUNITY, Party.GRID_WORKER_OF_GRID, Party.SUPERVISOR}),
            "status=resolved (one evaluation per round)",
            _status_in(Status.RESOLVED),
            "status=evaluated",
        ),
        Transition(
            Action.REOPEN,
            "Reopened",
            frozenset({Party.ORIGIN_COMMUNITY, Party.SUPERVISOR}),
            "status=evaluated, dissatisfied, within the reopen window",
            _reopen,
            "round+1, status=in_progress at the level that resolved it",
        ),
        Transition(
            Action.CLOSE,
            "Closed",
            frozenset({Party.ORIGIN_COMMUNITY, Party.SUPERVISOR}),
            "status=evaluated",
            _status_in(Status.EVALUATED),
            "status=closed (销号)",
        ),
        Transition(
            Action.WITHDRAW,
            "Withdrawn",
            frozenset({Party.GRID_WORKER_OF_GRID, Party.ORIGIN_COMMUNITY}),
            "status in awaiting_response, in_progress, dispatched, returned",
            _status_in(*sorted(WITHDRAWABLE)),
            "status=withdrawn; open orders cancelled",
        ),
        Transition(
            Action.MERGE,
            "MergedInto",
            HOLDER,
            "not terminal; target visible, not terminal, not itself",
            _not_terminal,
            "status=merged; open orders cancelled",
        ),
        Transition(
            Action.SUPERVISE,
            "Supervised",
            frozenset({Party.SUPERVISOR, Party.SYSTEM}),
            "not terminal",
            _not_terminal,
            "督办 flag against the late unit",
        ),
        Transition(
            Action.PUT_ON_AGENDA,
            "PutOnAgenda",
            HOLDER,
            "status in awaiting_response, in_progress, dispatched, returned",
            _status_in(*sorted(WITHDRAWABLE)),
            "难题自下而上提交: the call is on a joint meeting's agenda",
        ),
        Transition(
            Action.RATE_WORK_ORDER,
            "WorkOrderRated",
            frozenset({Party.DISPATCHING_STREET}),
            "call resolved, evaluated or closed; the order signed or returned, not yet rated",
            _rate_work_order,
            "一呼一评: the street's rating of the department's work on the order",
        ),
        Transition(
            Action.RATE_RESPONSE,
            "StreetResponseRated",
            frozenset({Party.ORIGIN_COMMUNITY}),
            "the round's street stint resolved, not yet rated",
            _rate_response,
            "一呼一评: the community's rating of its street's response in the round",
        ),
    ),
)


_ORDER_DECISIONS = frozenset({Action.GRANT_EXTENSION, Action.DENY_EXTENSION})
_ORDER_PARTIES = frozenset({Party.ORDER_DEPARTMENT, Party.DISPATCHING_STREET})


def on_work_order(t: Transition) -> bool:
    """Whether the move acts on one work order (a department's own, a decision on its request,
    or the street's rating of it): its Situation names the order, and a console offers it once
    per order."""
    return bool(_ORDER_PARTIES & t.who) or t.action in _ORDER_DECISIONS
