"""The call (呼叫): an event-sourced aggregate that climbs community → street → department.

Public methods are commands: they pass the one gate (``huying.domain.gate``, through ``_check``)
that consults the call's transition table, then trigger an event. Each event class's ``apply``
only applies the change: it runs again on every replay, so it holds no checks, no I/O and no
clock reads. Event classes are the public record: their names are stable topics, and a change
of shape gets a ``class_version`` and an upcaster, never a rewrite. Clock queries live in
``huying.domain.clocks``; what every event records, in ``huying.domain.aggregate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from huying.domain.aggregate import HuyingAggregate
from huying.domain.clocks import clock_of, require_missed, stint_clock
from huying.domain.commands import Command, OrderSpec
from huying.domain.errors import InvalidCommand, NotPermitted, TransitionNotAllowed
from huying.domain.levels import Level
from huying.domain.principal import Principal, Role
from huying.domain.sla import NO_CLOCKS, Clocks
from huying.domain.states import (
    OPEN_ORDER,
    TERMINAL,
    CallerRating,
    Evaluation,
    Extension,
    OrderRole,
    OrderStatus,
    Satisfaction,
    Status,
    Stint,
    StintOutcome,
    Supervision,
    WorkOrder,
    arrival,
    work_order_id,
)
from huying.domain.transitions import REOPEN_WINDOW, TABLE, Action, Situation, street_stint

ClockSetter = Callable[[Level], Clocks]


def no_clocks(_: Level) -> Clocks:
    return NO_CLOCKS


class Call(HuyingAggregate):
    """一事一呼: one matter, one call, evaluated once per round."""

    class Event(HuyingAggregate.Event):
        """What every step of a call records (``HuyingAggregate.Event``); a work order's steps
        name the order acted on."""

        actions: ClassVar[Mapping[str, str]] = TABLE.actions_by_event

        def mutate(self, aggregate: Any) -> Any:
            before = aggregate.order_marks() if aggregate is not None else {}
            call = super().mutate(aggregate)
            if call is not None:
                call._mark_changed_orders(before)
            return call

        @property
        def acted_on(self) -> str | None:
            order_id: str | None = getattr(self, "order_id", None)
            return order_id

    # --- raise (群众有呼) --------------------------------------------------------------------

    class Raised(Aggregate.Created, Event):
        item_code: str
        catalog_version: str
        sla: dict[str, Any]
        grid_code: str
        community_code: str
        street_code: str
        title: str
        description: str
        channel: str
        urgency: str
        occurred_at: datetime | None
        location: dict[str, Any] | None
        reporter_ref: str | None
        attachments: list[str]
        response_due: datetime | None
        resolution_due: datetime | None
        media_url: str | None  # a link to a photo or video the reporter gave (Open311's media_url)

        class_version = 3

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """v1 calls were raised before SLA clocks existed: no due times."""
            state["response_due"] = None
            state["resolution_due"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """v2 calls were raised before links to media were taken: none."""
            state["media_url"] = None

        def apply(self, call: Call) -> None:
            call.item_code = self.item_code
            call.catalog_version = self.catalog_version
            call.sla = self.sla
            call.grid_code = self.grid_code
            call.community_code = self.community_code
            call.street_code = self.street_code
            call.title = self.title
            call.description = self.description
            call.channel = self.channel
            call.urgency = self.urgency
            call.occurred_at = self.occurred_at
            call.location = self.location
            call.reporter_ref = self.reporter_ref
            call.attachments = list(self.attachments)
            call.media_url = self.media_url
            call.raised_at = self.at
            call.raised_by = self.actor
            call.holder = self.community_code
            call._begin_stint(
                Level.COMMUNITY, self.community_code, self.at, Clocks(self.response_due, self.resolution_due)
            )

    item_code: str
    catalog_version: str
    sla: dict[str, Any]
    grid_code: str
    community_code: str
    street_code: str
    title: str
    description: str
    channel: str
    urgency: str
    occurred_at: datetime | None
    location: dict[str, Any] | None
    reporter_ref: str | None
    attachments: list[str]
    media_url: str | None
    raised_at: datetime
    raised_by: dict[str, str]
    holder: str

    def __init__(self) -> None:
        # Raised.apply fills in what the call was raised with.
        self.level = Level.COMMUNITY
        self.status = Status.AWAITING_RESPONSE
        self.round = 1
        self.work_orders: dict[str, WorkOrder] = {}
        self.evaluations: dict[int, Evaluation] = {}
        self.merged_into: str | None = None
        self.supervisions: list[Supervision] = []
        self.resolved_level: Level | None = None
        self.chain: list[Stint] = []
        self.agendas: list[str] = []  # the joint meetings it was put before (难题自下而上提交)
        self.settled_by: dict[str, str] | None = None  # the decision a resolution cited
        self.response_ratings: dict[int, CallerRating] = {}  # round → the community's rating

    @classmethod
    def raise_call(
        cls,
        cmd: Command,
        *,
        call_id: UUID,
        clocks: ClockSetter = no_clocks,
        media_url: str | None = None,
        **raised: Any,
    ) -> Call:
        """群众有呼: a call is raised at the community of its grid."""
        if not cls.may_raise(cmd.principal, raised["grid_code"], raised["community_code"]):
            raise NotPermitted(
                f"raise: only the grid's grid worker, its community or a supervisor may raise a "
                f"call in grid {raised['grid_code']}; you act as {cmd.principal.role} of "
                f"{cmd.principal.unit}"
            )
        due = clocks(Level.COMMUNITY)
        return cls._create(
            cls.Raised,
            id=call_id,
            response_due=due.response_due,
            resolution_due=due.resolution_due,
            media_url=media_url,
            **raised,
            **cmd.meta,
        )

    @staticmethod
    def may_raise(principal: Principal, grid_code: str, community_code: str) -> bool:
        """Whether the transition table lets ``principal`` raise a call in this grid."""
        probe = _RaiseProbe(grid_code=grid_code, community_code=community_code)
        who = Situation(now=datetime.min)  # who may raise does not depend on the time
        return TABLE.names(principal, Action.RAISE, probe, who)

    # --- what the transition table reads -------------------------------------------------

    @property
    def evaluation(self) -> Evaluation | None:
        """The latest round's evaluation: the call's result (一呼一评)."""
        return self.evaluations[max(self.evaluations)] if self.evaluations else None

    @property
    def lead_order(self) -> WorkOrder | None:
        leads = [
            o
            for o in self.work_orders.values()
            if o.role is OrderRole.LEAD and o.status is not OrderStatus.CANCELLED
        ]
        return leads[-1] if leads else None

    @property
    def orders_by_arrival(self) -> list[WorkOrder]:
        """Its work orders in order of arrival: dispatch order, then number (docs/metrics.md §5)."""
        return sorted(self.work_orders.values(), key=lambda o: arrival(o.id))

    @property
    def departments_involved(self) -> set[str]:
        """Every department that holds or held a work order on this call."""
        return {o.department_code for o in self.work_orders.values()}

    @property
    def supervised(self) -> int:
        return len(self.supervisions)

    def order(self, order_id: str) -> WorkOrder | None:
        return self.work_orders.get(order_id)

    # --- the one gate every move passes ---------------------------------------------------

    def _check(
        self,
        action: Action,
        cmd: Command,
        order: WorkOrder | None = None,
        reopen_window: timedelta = REOPEN_WINDOW,
        round_: int | None = None,
    ) -> None:
        """The one gate: 403 (who) → 412 (If-Match) → 409 (state), for every action."""
        situation = Situation(cmd.at, order, reopen_window, round_)
        expected = cmd.expected_version
        TABLE.check(action, cmd.principal, self, situation, version=self.version, expected_version=expected)

    def _order(self, order_id: str) -> WorkOrder:
        order = self.work_orders.get(order_id)
        if order is None:
            raise InvalidCommand("work_order", f"no work order {order_id} on this call")
        return order

    def order_marks(self) -> dict[str, tuple[Any, ...]]:
        """What a department's queue shows of each order, to tell which ones an event changed."""
        return {
            o.id: (o.status, o.deadline, o.extension is not None, o.result, o.progress_notes, o.rating)
            for o in self.work_orders.values()
        }

    def _mark_changed_orders(self, orders_before: dict[str, tuple[Any, ...]]) -> None:
        """The orders an event changed carry the call's version since (a queue's cursor)."""
        for order_id, mark in self.order_marks().items():
            if orders_before.get(order_id) != mark:
                self.work_orders[order_id].last_version = self.version

    # --- stints: who held the call at which level, and how each stint ended ----------------

    @property
    def stint(self) -> Stint:
        """The current stint: the unit now holding the call at its level."""
        return self.chain[-1]

    def _begin_stint(self, level: Level, holder: str, at: datetime, clocks: Clocks) -> None:
        self.chain.append(Stint(level, holder, self.round, at, clocks.response_due, clocks.resolution_due))

    def _end_stint(self, outcome: StintOutcome, at: datetime) -> None:
        if self.chain and self.stint.ended_at is None:
            self.stint.ended_at = at
            self.stint.outcome = outcome

    def _cancel_open_orders(self, at: datetime) -> None:
        for o in self.work_orders.values():
            if o.status in OPEN_ORDER:
                o.finish(OrderStatus.CANCELLED, at)

    # --- community and street --------------------------------------------------------------

    class Acknowledged(Event):
        note: str | None

        def apply(self, call: Call) -> None:
            call.status = Status.IN_PROGRESS
            call.stint.acknowledged_at = call.stint.acknowledged_at or self.at

    def acknowledge(self, cmd: Command, note: str | None = None) -> None:
        """响应: the holder takes the call on."""
        self._check(Action.ACKNOWLEDGE, cmd)
        self.trigger_event(self.Acknowledged, note=note, **cmd.meta)

    class Escalated(Event):
        reason: str
        to_street: str
        response_due: datetime | None
        resolution_due: datetime | None

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["response_due"] = None
            state["resolution_due"] = None

        def apply(self, call: Call) -> None:
            call._end_stint("escalated", self.at)
            call.level = Level.STREET
            call.holder = self.to_street
            call.status = Status.AWAITING_RESPONSE
            call._begin_stint(
                Level.STREET, self.to_street, self.at, Clocks(self.response_due, self.resolution_due)
            )

    def escalate(self, cmd: Command, reason: str, clocks: ClockSetter = no_clocks) -> None:
        """上呼 (社区有呼，街道必应): the community calls up to its street — or the watchdog does,
        once the community's response deadline has passed unanswered."""
        self._check(Action.ESCALATE, cmd)
        if cmd.principal.role is Role.SYSTEM:
            require_missed(stint_clock(self, len(self.chain), "response"), cmd.at)
        due = clocks(Level.STREET)
        self.trigger_event(
            self.Escalated,
            reason=reason,
            to_street=self.street_code,
            response_due=due.response_due,
            resolution_due=due.resolution_due,
            **cmd.meta,
        )

    class Dispatched(Event):
        orders: list[dict[str, Any]]

        def apply(self, call: Call) -> None:
            call._cancel_open_orders(self.at)
            for o in self.orders:
                call.work_orders[o["id"]] = WorkOrder(
                    id=o["id"],
                    call_id=str(call.id),
                    department_code=o["department_code"],
                    role=OrderRole(o["role"]),
                    deadline=o["deadline"],
                    instructions=o["instructions"],
                    dispatched_at=self.at,
                    round=call.round,
                    sign_due=o.get("sign_due"),
                )
            call.level = Level.DEPARTMENT
            call.status = Status.DISPATCHED

    def dispatch(self, cmd: Command, orders: list[OrderSpec]) -> None:
        """派单 (街道有呼，部门必应): the street sends work orders, each with a deadline."""
        if [o.role for o in orders].count(OrderRole.LEAD) != 1:
            raise InvalidCommand("lead_department", "a dispatch names exactly one lead department")
        self._check(Action.DISPATCH, cmd)
        first = len(self.work_orders) + 1
        specs = [
            {
                "id": work_order_id(str(self.id), first + i),
                "department_code": spec.department_code,
                "role": spec.role.value,
                "deadline": spec.deadline,
                "instructions": spec.instructions,
                "sign_due": spec.sign_due,
            }
            for i, spec in enumerate(orders)
        ]
        self.trigger_event(self.Dispatched, orders=specs, **cmd.meta)

    # --- department side (部门必应) -----------------------------------------------------------

    class WorkOrderSigned(Event):
        order_id: str
        note: str | None

        def apply(self, call: Call) -> None:
            order = call.work_orders[self.order_id]
            order.status = OrderStatus.SIGNED
            order.signed_at = self.at

    def sign(self, cmd: Command, order_id: str, note: str | None = None) -> None:
        """签收: the department accepts its work order."""
        self._check(Action.SIGN, cmd, self._order(order_id))
        self.trigger_event(self.WorkOrderSigned, order_id=order_id, note=note, **cmd.meta)

    class WorkOrderReturned(Event):
        order_id: str
        reason: str
        lead: bool

        def apply(self, call: Call) -> None:
            call.work_orders[self.order_id].finish(OrderStatus.RETURNED, self.at)
            if self.lead:
                call.status = Status.RETURNED

    def return_order(self, cmd: Command, order_id: str, reason: str) -> None:
        """退单: the department sends the order back, saying why."""
        order = self._order(order_id)
        self._check(Action.RETURN, cmd, order)
        self.trigger_event(
            self.WorkOrderReturned,
            order_id=order_id,
            reason=reason,
            lead=order.role is OrderRole.LEAD,
            **cmd.meta,
        )

    class ExtensionRequested(Event):
        order_id: str
        until: datetime
        reason: str

        def apply(self, call: Call) -> None:
            call.work_orders[self.order_id].extension = Extension(self.until, self.reason, self.at)

    def request_extension(self, cmd: Command, order_id: str, until: datetime, reason: str) -> None:
        """申请延期: the department asks for a later deadline."""
        order = self._order(order_id)
        self._check(Action.REQUEST_EXTENSION, cmd, order)
        if until <= order.deadline:
            raise InvalidCommand(
                "until", f"an extension must be later than the deadline {order.deadline.isoformat()}"
            )
        self.trigger_event(self.ExtensionRequested, order_id=order_id, until=until, reason=reason, **cmd.meta)

    class ExtensionGranted(Event):
        order_id: str
        until: datetime
        note: str | None

        def apply(self, call: Call) -> None:
            order = call.work_orders[self.order_id]
            order.deadline = self.until
            order.extension = None

    def grant_extension(self, cmd: Command, order_id: str, note: str | None = None) -> None:
        """准予延期: the street grants the extension; the order's deadline moves."""
        order = self._order(order_id)
        self._check(Action.GRANT_EXTENSION, cmd, order)
        assert order.extension is not None  # the table's guard saw to it
        until = order.extension.until
        self.trigger_event(self.ExtensionGranted, order_id=order_id, until=until, note=note, **cmd.meta)

    class ExtensionDenied(Event):
        order_id: str
        reason: str

        def apply(self, call: Call) -> None:
            call.work_orders[self.order_id].extension = None

    def deny_extension(self, cmd: Command, order_id: str, reason: str) -> None:
        """不予延期: the street refuses; the deadline stands."""
        self._check(Action.DENY_EXTENSION, cmd, self._order(order_id))
        self.trigger_event(self.ExtensionDenied, order_id=order_id, reason=reason, **cmd.meta)

    class ProgressNoted(Event):
        order_id: str
        note: str
        attachments: list[str]  # 随手拍 ids: photos of the work under way

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """v1 notes were written before attachments existed: none."""
            state["attachments"] = []

        def apply(self, call: Call) -> None:
            call.work_orders[self.order_id].progress_notes += 1
            call.attachments = _with(call.attachments, self.attachments)

    def note_progress(
        self, cmd: Command, order_id: str, note: str, attachments: list[str] | None = None
    ) -> None:
        """进展: the department reports how the work goes, with photos if it has them."""
        self._check(Action.PROGRESS, cmd, self._order(order_id))
        self.trigger_event(
            self.ProgressNoted, order_id=order_id, note=note, attachments=list(attachments or []), **cmd.meta
        )

    class WorkOrderCompleted(Event):
        order_id: str
        result: str
        attachments: list[str]  # 随手拍 ids: photos of the work done

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """v1 completions were written before attachments existed: none."""
            state["attachments"] = []

        def apply(self, call: Call) -> None:
            order = call.work_orders[self.order_id]
            # Ending a pending extension request here changes the state old histories fold to
            # only where a decision on it never came; one that came (allowed before a finished
            # order refused decisions) still applies as it was recorded.
            order.finish(OrderStatus.COMPLETED, self.at)
            order.result = self.result
            call.attachments = _with(call.attachments, self.attachments)

    def complete_order(
        self, cmd: Command, order_id: str, result: str, attachments: list[str] | None = None
    ) -> None:
        """部门办结: the department reports the work done, with photos if it has them."""
        self._check(Action.COMPLETE, cmd, self._order(order_id))
        self.trigger_event(
            self.WorkOrderCompleted,
            order_id=order_id,
            result=result,
            attachments=list(attachments or []),
            **cmd.meta,
        )

    # --- closing the loop (回访反馈) -----------------------------------------------------------

    class Resolved(Event):
        summary: str
        level: str
        # {meeting_id, decision_id}: the joint meeting's 议定事项 that settled the call, if any
        decision: dict[str, str] | None = None

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """A v1 resolution cited no decision. The class default says so; its state stays as
            stored, so its history, feed and exports read byte for byte as they always did."""

        def apply(self, call: Call) -> None:
            call.status = Status.RESOLVED
            call.settled_by = self.decision
            call.resolved_level = Level(self.level)
            call._end_stint("resolved", self.at)
            # Once the matter is resolved, orders still open (an assist still working) are moot:
            # no work-order action is allowed on a resolved call, so they must not linger.
            call._cancel_open_orders(self.at)

    def resolve(self, cmd: Command, summary: str, decision: dict[str, str] | None = None) -> None:
        """办结: the holder declares the matter solved — citing, where one settled it, a joint
        meeting's decision (checked by the service, which reads the meeting)."""
        self._check(Action.RESOLVE, cmd)
        level = self.level.value
        self.trigger_event(self.Resolved, summary=summary, level=level, decision=decision, **cmd.meta)

    class PutOnAgenda(Event):
        meeting_id: str
        convener: str

        def apply(self, call: Call) -> None:
            call.agendas.append(self.meeting_id)

    def put_on_agenda(self, cmd: Command, meeting_id: str, convener: str) -> None:
        """难题自下而上提交: the holder puts this hard call before a joint meeting."""
        self._check(Action.PUT_ON_AGENDA, cmd)
        if meeting_id in self.agendas:
            raise TransitionNotAllowed(f"put-on-agenda: the call is already on meeting {meeting_id}'s agenda")
        self.trigger_event(self.PutOnAgenda, meeting_id=meeting_id, convener=convener, **cmd.meta)

    class Evaluated(Event):
        round: int
        contacted: bool
        solved: bool | None
        satisfaction: str | None
        comment: str | None

        def apply(self, call: Call) -> None:
            call.evaluations[self.round] = Evaluation(
                round=self.round,
                contacted=self.contacted,
                solved=self.solved,
                satisfaction=Satisfaction(self.satisfaction) if self.satisfaction else None,
                comment=self.comment,
                at=self.at,
                actor=self.actor,
            )
            call.status = Status.EVALUATED

    def evaluate(
        self,
        cmd: Command,
        *,
        contacted: bool,
        solved: bool | None = None,
        satisfaction: Satisfaction | None = None,
        comment: str | None = None,
    ) -> None:
        """回访 / 一呼一评: record the reporter's answer, once per round."""
        self._check(Action.EVALUATE, cmd)
        self.trigger_event(
            self.Evaluated,
            round=self.round,
            contacted=contacted,
            solved=solved if contacted else None,
            satisfaction=satisfaction.value if contacted and satisfaction else None,
            comment=comment,
            **cmd.meta,
        )

    # --- 一呼一评 by the caller: the unit that called up rates the response it got ------------

    class WorkOrderRated(Event):
        order_id: str
        department_code: str  # the rated unit, named so the feed alone can count it
        satisfaction: str
        comment: str | None

        def apply(self, call: Call) -> None:
            rating = CallerRating(
                self.department_code, Satisfaction(self.satisfaction), self.comment, self.at
            )
            call.work_orders[self.order_id].rating = rating

    def rate_work_order(
        self, cmd: Command, order_id: str, satisfaction: Satisfaction, comment: str | None = None
    ) -> None:
        """街道评部门: the street rates a department's work on its order, once, after resolving."""
        order = self._order(order_id)
        self._check(Action.RATE_WORK_ORDER, cmd, order)
        self.trigger_event(
            self.WorkOrderRated,
            order_id=order_id,
            department_code=order.department_code,
            satisfaction=satisfaction.value,
            comment=comment,
            **cmd.meta,
        )

    class StreetResponseRated(Event):
        round: int
        street_code: str  # the rated unit
        satisfaction: str
        comment: str | None

        def apply(self, call: Call) -> None:
            rating = CallerRating(self.street_code, Satisfaction(self.satisfaction), self.comment, self.at)
            call.response_ratings[self.round] = rating

    def rate_response(
        self, cmd: Command, satisfaction: Satisfaction, comment: str | None = None, round_: int | None = None
    ) -> None:
        """社区评街道: the community that called up rates its street's response in a round (by
        default the current one), once, when the street resolved it."""
        if round_ is not None and not 1 <= round_ <= self.round:
            raise InvalidCommand(
                "round", f"the call has rounds 1 to {self.round}; there is no round {round_}"
            )
        self._check(Action.RATE_RESPONSE, cmd, round_=round_)
        rated = round_ or self.round
        stint = street_stint(self, rated)
        assert stint is not None  # the table's guard saw to it
        self.trigger_event(
            self.StreetResponseRated,
            round=rated,
            street_code=stint.holder,
            satisfaction=satisfaction.value,
            comment=comment,
            **cmd.meta,
        )

    class Reopened(Event):
        reason: str
        level: str
        holder: str
        response_due: datetime | None
        resolution_due: datetime | None

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["response_due"] = None
            state["resolution_due"] = None

        def apply(self, call: Call) -> None:
            call.round += 1
            call.level = Level(self.level)
            call.holder = self.holder
            call.status = Status.IN_PROGRESS
            call.resolved_level = None
            call._begin_stint(
                call.level, self.holder, self.at, Clocks(self.response_due, self.resolution_due)
            )

    def reopen(
        self, cmd: Command, reason: str, clocks: ClockSetter = no_clocks, window: timedelta = REOPEN_WINDOW
    ) -> None:
        """重办: a dissatisfied call goes back to whoever resolved it, within ``window`` after its
        evaluation, in a new round."""
        self._check(Action.REOPEN, cmd, reopen_window=window)
        to_community = self.resolved_level is Level.COMMUNITY
        level = Level.COMMUNITY if to_community else Level.STREET
        due = clocks(level)
        self.trigger_event(
            self.Reopened,
            reason=reason,
            level=level.value,
            holder=self.community_code if to_community else self.street_code,
            # A reopened call is back in progress at once: nothing to acknowledge, so no
            # response clock — only the clock to resolve it again.
            response_due=None,
            resolution_due=due.resolution_due,
            **cmd.meta,
        )

    class Closed(Event):
        note: str | None

        def apply(self, call: Call) -> None:
            call.status = Status.CLOSED
            call._cancel_open_orders(self.at)

    def close(self, cmd: Command, note: str | None = None) -> None:
        """销号: the problem is struck off the ledger (解决一个销号一个)."""
        self._check(Action.CLOSE, cmd)
        self.trigger_event(self.Closed, note=note, **cmd.meta)

    class Withdrawn(Event):
        reason: str

        def apply(self, call: Call) -> None:
            call.status = Status.WITHDRAWN
            call._end_stint("withdrawn", self.at)
            call._cancel_open_orders(self.at)

    def withdraw(self, cmd: Command, reason: str) -> None:
        """撤回: the reporter no longer needs it."""
        self._check(Action.WITHDRAW, cmd)
        self.trigger_event(self.Withdrawn, reason=reason, **cmd.meta)

    class MergedInto(Event):
        into: str
        reason: str

        def apply(self, call: Call) -> None:
            call.status = Status.MERGED
            call.merged_into = self.into
            call._end_stint("merged", self.at)
            call._cancel_open_orders(self.at)

    def merge_into(self, cmd: Command, target: Call, reason: str) -> None:
        """一事一呼: the same matter reported twice becomes one call; the target is unchanged."""
        if target.id == self.id:
            raise InvalidCommand("into", "a call cannot be merged into itself")
        self._check(Action.MERGE, cmd)
        if target.status in TERMINAL:
            raise TransitionNotAllowed(f"merge: the target call is {target.status.value}, which is final")
        self.trigger_event(self.MergedInto, into=str(target.id), reason=reason, **cmd.meta)

    class Supervised(Event):
        reason: str
        unit: str
        clock: str | None  # the missed clock, when the watchdog flags it

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["clock"] = None

        def apply(self, call: Call) -> None:
            overdue = tuple(o.id for o in call.orders_by_arrival if o.is_open and o.deadline < self.at)
            call.supervisions.append(
                Supervision(self.reason, self.unit, self.at, self.actor, self.clock, overdue)
            )

    def supervise(self, cmd: Command, reason: str, unit: str | None = None, clock: str | None = None) -> None:
        """督办: a flag against the late unit (default: the holder), counted in its scores.
        The watchdog names the missed clock; each clock is flagged at most once."""
        self._check(Action.SUPERVISE, cmd)
        if cmd.principal.role is Role.SYSTEM:
            if clock is None:
                raise InvalidCommand("clock", "the watchdog supervises a missed clock; name it")
            missed = clock_of(self, clock)
            if clock in {s.clock for s in self.supervisions}:
                raise TransitionNotAllowed(f"supervise: clock {clock} was already flagged")
            require_missed(missed, cmd.at)
            unit = missed.unit
        self.trigger_event(self.Supervised, reason=reason, unit=unit or self.holder, clock=clock, **cmd.meta)


ACTION_OF_EVENT: Mapping[str, str] = TABLE.actions_by_event


def _with(kept: list[str], added: list[str]) -> list[str]:
    """Every photo on the call, each once, in the order they came: the raise's, then the notes'."""
    return list(dict.fromkeys([*kept, *added]))


class _RaiseProbe:
    """The little a raise needs to know who may raise it."""

    def __init__(self, grid_code: str, community_code: str) -> None:
        self.grid_code = grid_code
        self.community_code = community_code
        self.holder = community_code
        self.street_code = ""  # who may raise reads neither the street nor the chain
        self.round = 1
        self.chain: list[Stint] = []
        self.response_ratings: dict[int, CallerRating] = {}
        self.level = Level.COMMUNITY
        self.status = Status.AWAITING_RESPONSE
        self.evaluation = None
        self.lead_order = None
