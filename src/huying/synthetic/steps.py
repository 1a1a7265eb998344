"""What a call needs next, who does it, and when — read from the call as it stands and its fate.

A call has several things that can happen next at once: its holder's next step, each open work
order's next step, a withdrawal or a district 督办 waiting to happen. Each is a *target* with a
*mark*: the part of the call's state its next step depends on. A step is planned when its
target's mark changes and carried out only if the mark is still the same when its time comes —
so a call the watchdog called up, or a work order another step settled, drops stale plans.
"""

from __future__ import annotations

import random
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from huying.api.schemas.requests import (
    AcknowledgeBody,
    CompleteBody,
    DispatchBody,
    ExtensionBody,
    MergeBody,
    NoteBody,
    ProgressBody,
    ReasonBody,
    ResolveBody,
    SuperviseBody,
)
from huying.domain.call import Call
from huying.domain.deadlines import runs_on_clock_time
from huying.domain.levels import Level
from huying.domain.principal import Principal, Role
from huying.domain.states import (
    ORDERS_ACTIVE,
    TERMINAL,
    WITHDRAWABLE,
    OrderRole,
    OrderStatus,
    Status,
    WorkOrder,
)
from huying.synthetic.district import District
from huying.synthetic.evaluation import evaluation
from huying.synthetic.fate import LEFT_UNCLOSED, REOPEN_WHEN_DISSATISFIED, End, Fate
from huying.synthetic.pace import Pace

CALL = "call"


@dataclass(frozen=True)
class Intent:
    """One request a person (or a department's system) will send."""

    at: datetime
    action: str
    principal: Principal
    body: BaseModel
    order_id: str | None = None
    once: str | None = None  # recorded in the fate's ``done`` when carried out


@dataclass
class Planner:
    district: District
    pace: Pace
    rng: random.Random
    reopen_window: timedelta

    def marks(self, call: Call, fate: Fate) -> dict[str, Hashable]:
        """Every target of the call that may have a next step, with its mark."""
        status = call.status
        if status in TERMINAL:
            return {}
        found: dict[str, Hashable] = {CALL: (status, call.level, call.round, call.holder, _settled(call))}
        if status in ORDERS_ACTIVE:
            for o in call.work_orders.values():
                if o.is_open:
                    found[o.id] = (status, o.status, o.extension is not None, o.progress_notes, o.deadline)
        if fate.withdraw_after is not None and status in WITHDRAWABLE:
            found["withdraw"] = True
        if fate.supervise_after is not None and "supervise" not in fate.done:
            found["supervise"] = True
        return found

    def intent(self, target: str, call: Call, fate: Fate, now: datetime) -> Intent | None:
        if target == CALL:
            return self._holder_step(call, fate, now)
        if target == "withdraw":
            assert fate.withdraw_after is not None
            who = self.rng.choice([Principal(Role.GRID_WORKER, call.grid_code), _origin(call)])
            at = max(now, call.raised_at + fate.withdraw_after)
            return Intent(at, "withdraw", who, ReasonBody(reason="群众来电表示问题已自行解决，申请撤回"))
        if target == "supervise":
            assert fate.supervise_after is not None
            at = max(now, call.raised_at + fate.supervise_after)
            body = SuperviseBody(reason="群众多次反映，办理进度缓慢")
            return Intent(at, "supervise", _supervisor(self.district), body, once="supervise")
        return self._order_step(call, call.work_orders[target], fate, now)

    # --- the holder: community, then street -------------------------------------------------

    def _holder_step(self, call: Call, fate: Fate, now: datetime) -> Intent | None:
        status = call.status
        holder = Principal(Role.COMMUNITY if call.level is Level.COMMUNITY else Role.STREET, call.holder)
        clock_time = runs_on_clock_time(call.sla)
        if (
            fate.end is End.MERGE
            and fate.merge_into
            and status in (Status.AWAITING_RESPONSE, Status.IN_PROGRESS)
        ):
            body = MergeBody(into=fate.merge_into, reason="同一事项重复反映，并入在办呼叫")
            return Intent(self.pace.soon(now, 0.1, 3, clock_time), "merge", holder, body)
        if status in (Status.AWAITING_RESPONSE, Status.IN_PROGRESS):
            return self._handling(call, fate, holder, now, clock_time)
        if status is Status.DISPATCHED:
            if not _settled(call):
                return None  # the departments are at work
            done = ResolveBody(summary="部门已办结，经核实问题已解决")
            return Intent(self.pace.soon(now, 0.3, 8, clock_time), "resolve", holder, done)
        if status is Status.RETURNED:
            used = call.departments_involved
            lead = next((d for d in fate.spare if d not in used), fate.departments[0])
            return self._dispatch(call, fate, holder, self.pace.soon(now, 0.5, 12, clock_time), [lead])
        if status is Status.RESOLVED:
            who, judged = evaluation(self.rng, self.district, call)
            return Intent(self.pace.soon(now, 1, 20, clock_time), "evaluate", who, judged)
        return self._after_evaluation(call, now, clock_time)

    def _handling(self, call: Call, fate: Fate, holder: Principal, now: datetime, clock_time: bool) -> Intent:
        """The community or the street takes the call on, then solves it, calls it up or dispatches it."""
        stint, punctual = call.stint, self.district.punctuality[call.holder]
        climbs = call.level is Level.COMMUNITY and fate.end in (End.STREET, End.DEPARTMENT)
        if call.status is Status.AWAITING_RESPONSE:
            at = self.pace.by(now, stint.response_due, punctual, clock_time)
            if climbs and fate.call_up_at_once:
                return Intent(at, "escalate", holder, ReasonBody(reason="超出社区处置能力，需街道统筹"))
            note = self.rng.choice([None, "已响应，安排人员核实"])
            return Intent(at, "acknowledge", holder, AcknowledgeBody(note=note))
        if climbs:
            at = self.pace.soon(now, 0.3, 10, clock_time)
            return Intent(at, "escalate", holder, ReasonBody(reason="社区无执法权，需街道统筹"))
        if call.level is Level.STREET and fate.end is End.DEPARTMENT:
            at = self.pace.soon(now, 0.3, 8, clock_time)
            return self._dispatch(call, fate, holder, at, fate.departments)
        at = self.pace.by(now, stint.resolution_due, punctual, clock_time)
        return Intent(at, "resolve", holder, ResolveBody(summary="现场处置完毕，问题已解决"))

    def _after_evaluation(self, call: Call, now: datetime, clock_time: bool) -> Intent | None:
        """重办 within the reopen window for most dissatisfied calls; otherwise 销号, mostly."""
        rng, judged = self.rng, call.evaluation
        who = rng.choice([_origin(call), _supervisor(self.district)])
        if (
            judged is not None
            and judged.dissatisfied
            and call.round <= 2
            and rng.random() < REOPEN_WHEN_DISSATISFIED
        ):
            # Within working time mostly, and always inside the reopen window.
            at = min(self.pace.soon(now, 0.5, 20, clock_time), now + self.reopen_window * 0.9)
            return Intent(at, "reopen", who, ReasonBody(reason="群众不满意，重新办理"))
        if rng.random() < LEFT_UNCLOSED:
            return None
        return Intent(
            self.pace.soon(now, 0.3, 14, clock_time), "close", who, NoteBody(note=rng.choice([None, "销号"]))
        )

    def _dispatch(
        self, call: Call, fate: Fate, street: Principal, at: datetime, departments: list[str]
    ) -> Intent:
        """派单: to the lead and assisting departments; the item's own deadline (限期办理) mostly."""
        deadline = None
        if "department" not in call.sla or self.rng.random() < 0.2:
            deadline = self.pace.calendar.add_working_days(at, self.rng.randint(3, 15))
        lead, *assists = departments
        body = DispatchBody(
            lead_department=lead,
            assisting_departments=assists,
            deadline=deadline,
            instructions="请按清单处置标准限期办理并反馈",
        )
        return Intent(at, "dispatch", street, body)

    # --- a department's work order --------------------------------------------------------------

    def _order_step(self, call: Call, order: WorkOrder, fate: Fate, now: datetime) -> Intent | None:
        department = Principal(Role.DEPARTMENT, order.department_code)
        punctual = self.district.punctuality[order.department_code]
        clock_time = runs_on_clock_time(call.sla)
        lead = order.role is OrderRole.LEAD
        if order.status is OrderStatus.DISPATCHED:
            once = "lead returned" if lead else "assist returned"
            if once not in fate.done and (fate.lead_returns if lead else fate.assist_returns):
                at = self.pace.soon(now, 0.2, 6, clock_time)
                return Intent(
                    at, "return", department, ReasonBody(reason="不属本部门职责，请重新派单"), order.id, once
                )
            at = self.pace.by(now, order.sign_due, punctual, clock_time)
            return Intent(at, "sign", department, NoteBody(note=self.rng.choice([None, "已签收"])), order.id)
        if order.extension is not None:
            street = Principal(Role.STREET, call.holder)
            at = self.pace.soon(now, 0.5, 14, clock_time)
            if fate.extension_granted:
                return Intent(at, "grant_extension", street, NoteBody(note="同意延期"), order.id)
            return Intent(at, "deny_extension", street, ReasonBody(reason="不予延期，请按期办结"), order.id)
        if order.progress_notes < fate.notes:
            at = self.pace.share(now, order.deadline, self.rng.uniform(0.05, 0.5), clock_time)
            return Intent(
                at, "progress", department, ProgressBody(note="已到现场勘查，正在组织处置"), order.id
            )
        if lead and fate.extension and "extension" not in fate.done:
            return self._ask_extension(call, order, now, department, clock_time)
        at = self.pace.by(now, order.deadline, punctual, clock_time)
        return Intent(at, "complete", department, CompleteBody(result="已按处置标准办结"), order.id)

    def _ask_extension(
        self, call: Call, order: WorkOrder, now: datetime, department: Principal, clock_time: bool
    ) -> Intent:
        at = self.pace.share(now, order.deadline, self.rng.uniform(0.3, 0.9), clock_time)
        until = self.pace.calendar.add_working_days(max(order.deadline, at), self.rng.randint(2, 10))
        body = ExtensionBody(until=until, reason="需协调产权单位，申请延期")
        return Intent(at, "request_extension", department, body, order.id, once="extension")


def _settled(call: Call) -> bool:
    """The lead order is completed and no order is still open: the street can resolve."""
    lead = call.lead_order
    return (
        lead is not None
        and lead.status is OrderStatus.COMPLETED
        and not any(o.is_open for o in call.work_orders.values())
    )


def _origin(call: Call) -> Principal:
    return Principal(Role.COMMUNITY, call.community_code)


def _supervisor(district: District) -> Principal:
    return Principal(Role.SUPERVISOR, district.org.district.code)
