"""The call's transition table (domain.md), checked move by move against the Call aggregate.

The expected outcomes below are written out by hand from domain.md's table, not read from
``huying.domain.transitions.TABLE``, so that a wrong table fails here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from calls import (
    ASSIST_DEPARTMENT,
    COMMUNITY,
    GRID,
    LEAD_DEPARTMENT,
    PRINCIPALS,
    RECIPES,
    STREET,
    T0,
    Story,
    build,
    raise_call,
    replay,
    state_of,
)

from huying.domain.aggregate import Remembered, request_scope
from huying.domain.call import Call
from huying.domain.commands import Command, OrderSpec
from huying.domain.errors import (
    DomainError,
    InvalidCommand,
    NotPermitted,
    StaleVersion,
    TransitionNotAllowed,
)
from huying.domain.levels import Level
from huying.domain.principal import SYSTEM
from huying.domain.sla import Clocks
from huying.domain.states import TERMINAL, OrderRole, OrderStatus, Satisfaction, Status

OK, FORBIDDEN, REFUSED = "succeeds", "NotPermitted", "TransitionNotAllowed"

# --- the table, by hand ----------------------------------------------------------------------

COMMUNITY_LEVEL = {
    "raised",
    "supervised",
    "acknowledged",
    "resolved at community",
    "satisfied at community",
    "dissatisfied at community",
    "reopened at community",
    "closed at community",
    "withdrawn at community",
    "merged at community",
}
WITH_ORDERS = {
    "dispatched",
    "signed",
    "extension pending",
    "completed",
    "completed with extension pending",
    "returned",
    "assist returned",
    "redispatched",
    "resolved at department",
    "satisfied at department",
    "dissatisfied at department",
    "reopened from department",
    "closed at department",
    "withdrawn while dispatched",
    "merged while dispatched",
    "supervised while dispatched",
}
FINAL = {
    "closed at community",
    "withdrawn at community",
    "merged at community",
    "withdrawn at street",
    "closed at department",
    "withdrawn while dispatched",
    "merged while dispatched",
}
NOT_FINAL = set(RECIPES) - FINAL


def holder(state: str) -> set[str]:
    """The holder: the community at community level, the street once called up (even dispatched)."""
    return {"community"} if state in COMMUNITY_LEVEL else {"street"}


def holder_street(state: str) -> set[str]:
    return set() if state in COMMUNITY_LEVEL else {"street"}


def holder_community_or_watchdog(state: str) -> set[str]:
    return {"system"} | ({"community"} if state in COMMUNITY_LEVEL else set())


def anyone_of(*names: str) -> Callable[[str], set[str]]:
    return lambda _state: set(names)


@dataclass(frozen=True)
class Row:
    """One row of domain.md's table: who it names (given the state) and the states it allows."""

    who: Callable[[str], set[str]]
    allowed: frozenset[str]
    on_lead_order: bool = False


def row(who: Callable[[str], set[str]], *allowed: str, on_lead_order: bool = False) -> Row:
    unknown = set(allowed) - set(RECIPES)
    assert not unknown, unknown
    return Row(who, frozenset(allowed), on_lead_order)


ORDER_DEPARTMENT = anyone_of("department")

# The states of an open call: awaiting response, in progress, dispatched or returned (domain.md's
# withdraw row; a call goes before a joint meeting from the same states).
OPEN_STATES = (
    "raised",
    "supervised",
    "acknowledged",
    "reopened at community",
    "escalated",
    "street acknowledged",
    "reopened at street",
    "dispatched",
    "signed",
    "extension pending",
    "completed",
    "completed with extension pending",
    "returned",
    "assist returned",
    "redispatched",
    "reopened from department",
    "supervised while dispatched",
)

TABLE_BY_HAND: dict[str, Row] = {
    "acknowledge": row(holder, "raised", "supervised", "escalated"),
    "escalate": row(
        holder_community_or_watchdog, "raised", "supervised", "acknowledged", "reopened at community"
    ),
    "dispatch": row(
        holder_street, "street acknowledged", "reopened at street", "reopened from department", "returned"
    ),
    "sign": row(
        ORDER_DEPARTMENT,
        "dispatched",
        "assist returned",
        "redispatched",
        "supervised while dispatched",
        on_lead_order=True,
    ),
    "return": row(
        ORDER_DEPARTMENT,
        "dispatched",
        "signed",
        "extension pending",
        "assist returned",
        "redispatched",
        "supervised while dispatched",
        on_lead_order=True,
    ),
    "request extension": row(ORDER_DEPARTMENT, "signed", on_lead_order=True),
    "grant extension": row(holder_street, "extension pending", on_lead_order=True),
    "deny extension": row(holder_street, "extension pending", on_lead_order=True),
    "progress": row(ORDER_DEPARTMENT, "signed", "extension pending", on_lead_order=True),
    "complete": row(ORDER_DEPARTMENT, "signed", "extension pending", on_lead_order=True),
    "resolve": row(
        holder,
        "acknowledged",
        "reopened at community",
        "street acknowledged",
        "reopened at street",
        "reopened from department",
        "completed",
        "completed with extension pending",
    ),
    "evaluate": row(
        anyone_of("community", "grid worker", "supervisor"),
        "resolved at community",
        "resolved at street",
        "resolved at department",
    ),
    "reopen": row(
        anyone_of("community", "supervisor"),
        "dissatisfied at community",
        "dissatisfied at street",
        "dissatisfied at department",
    ),
    "close": row(
        anyone_of("community", "supervisor"),
        "satisfied at community",
        "dissatisfied at community",
        "dissatisfied at street",
        "satisfied at department",
        "dissatisfied at department",
    ),
    "withdraw": row(anyone_of("grid worker", "community"), *OPEN_STATES),
    "merge": row(holder, *sorted(NOT_FINAL)),
    "supervise": row(anyone_of("supervisor", "system"), *sorted(NOT_FINAL)),
    # 难题自下而上提交: the holder puts an open call before a joint meeting
    "put-on-agenda": row(holder, *OPEN_STATES),
}


def expected_outcomes(action: str, state: str) -> dict[str, str]:
    rule = TABLE_BY_HAND[action]
    named = rule.who(state)
    return {
        name: (
            FORBIDDEN
            if name not in named
            # The watchdog acts only on a missed clock, and these stories start no clocks.
            else REFUSED
            if name == "system"
            else OK
            if state in rule.allowed
            else REFUSED
        )
        for name in PRINCIPALS
    }


# --- doing it ------------------------------------------------------------------------------


def _orders(story: Story) -> list[OrderSpec]:
    deadline = story.now + timedelta(days=3)
    return [
        OrderSpec(LEAD_DEPARTMENT, OrderRole.LEAD, deadline, "清运"),
        OrderSpec(ASSIST_DEPARTMENT, OrderRole.ASSIST, deadline, "配合"),
    ]


def _until(story: Story) -> Any:
    assert story.lead is not None
    return story.call.work_orders[story.lead].deadline + timedelta(days=3)


ACT: dict[str, Callable[[Story, Command], None]] = {
    "acknowledge": lambda s, c: s.call.acknowledge(c),
    "escalate": lambda s, c: s.call.escalate(c, reason="需街道统筹"),
    "dispatch": lambda s, c: s.call.dispatch(c, _orders(s)),
    "sign": lambda s, c: s.call.sign(c, s.lead),
    "return": lambda s, c: s.call.return_order(c, s.lead, reason="非本部门职责"),
    "request extension": lambda s, c: s.call.request_extension(c, s.lead, until=_until(s), reason="需协调"),
    "grant extension": lambda s, c: s.call.grant_extension(c, s.lead),
    "deny extension": lambda s, c: s.call.deny_extension(c, s.lead, reason="不予延期"),
    "progress": lambda s, c: s.call.note_progress(c, s.lead, note="已到场"),
    "complete": lambda s, c: s.call.complete_order(c, s.lead, result="已办结"),
    "resolve": lambda s, c: s.call.resolve(c, summary="已解决"),
    "evaluate": lambda s, c: s.call.evaluate(
        c, contacted=True, solved=False, satisfaction=Satisfaction.DISSATISFIED
    ),
    "reopen": lambda s, c: s.call.reopen(c, reason="问题依旧"),
    "close": lambda s, c: s.call.close(c),
    "withdraw": lambda s, c: s.call.withdraw(c, reason="已自行解决"),
    "merge": lambda s, c: s.call.merge_into(c, raise_call(Command(PRINCIPALS["grid worker"], s.now)), "重复"),
    "supervise": lambda s, c: s.call.supervise(
        c, reason="超时", clock="stint1:response" if c.principal == SYSTEM else None
    ),
    "put-on-agenda": lambda s, c: s.call.put_on_agenda(c, "a-meeting", "LW-LN"),
}


def attempt(story: Story, action: str, who: str, **kw: Any) -> str:
    """Try one move; a refusal must leave the call exactly as it was."""
    before = copy.deepcopy(state_of(story.call))
    try:
        ACT[action](story, story.cmd(who, **kw))
    except NotPermitted:
        outcome = FORBIDDEN
    except TransitionNotAllowed:
        outcome = REFUSED
    else:
        return OK
    assert state_of(story.call) == before
    return outcome


def open_orders(call: Call) -> list[str]:
    return [o.id for o in call.work_orders.values() if o.is_open]


def check_effect(action: str, state: str, before: Call, story: Story) -> None:
    """The table's effect column, for a move that succeeded."""
    call = story.call
    assert call.version == before.version + 1
    assert call.round == before.round + (action == "reopen")
    moves_the_call = {"acknowledge", "escalate", "dispatch", "resolve", "reopen", "return"}
    if action not in moves_the_call:
        assert (call.level, call.holder) == (before.level, before.holder)
    lead = call.work_orders.get(story.lead or "")
    was = before.work_orders.get(story.lead or "")
    match action:
        case "acknowledge":
            assert (call.status, call.level, call.holder) == (Status.IN_PROGRESS, before.level, before.holder)
        case "escalate":
            assert (call.status, call.level, call.holder) == (Status.AWAITING_RESPONSE, Level.STREET, STREET)
        case "dispatch":
            assert (call.status, call.level, call.holder) == (Status.DISPATCHED, Level.DEPARTMENT, STREET)
            for oid in open_orders(before):
                assert call.work_orders[oid].status is OrderStatus.CANCELLED
            new = [o for oid, o in call.work_orders.items() if oid not in before.work_orders]
            assert [(o.department_code, o.role, o.status) for o in new] == [
                (LEAD_DEPARTMENT, OrderRole.LEAD, OrderStatus.DISPATCHED),
                (ASSIST_DEPARTMENT, OrderRole.ASSIST, OrderStatus.DISPATCHED),
            ]
        case "sign":
            assert lead is not None and lead.status is OrderStatus.SIGNED
            assert call.status is before.status
        case "return":
            assert lead is not None and lead.status is OrderStatus.RETURNED
            assert (call.status, call.level, call.holder) == (Status.RETURNED, Level.DEPARTMENT, STREET)
        case "request extension":
            assert lead is not None and was is not None and lead.extension is not None
            assert lead.extension.until == was.deadline + timedelta(days=3)
        case "grant extension":
            assert lead is not None and was is not None and was.extension is not None
            assert (lead.deadline, lead.extension) == (was.extension.until, None)
        case "deny extension":
            assert lead is not None and was is not None
            assert (lead.deadline, lead.extension) == (was.deadline, None)
        case "progress":
            assert lead is not None and was is not None
            assert lead.progress_notes == was.progress_notes + 1
        case "complete":
            assert lead is not None and lead.status is OrderStatus.COMPLETED
            assert lead.result == "已办结"
        case "resolve":
            assert (call.status, call.level, call.holder) == (Status.RESOLVED, before.level, before.holder)
            assert call.resolved_level is before.level
        case "evaluate":
            assert call.status is Status.EVALUATED
            evaluation = call.evaluations[call.round]
            assert evaluation.dissatisfied and evaluation.solved is False and evaluation.contacted
        case "reopen":
            back_to = (Level.COMMUNITY, COMMUNITY) if state.endswith("community") else (Level.STREET, STREET)
            assert (call.status, call.level, call.holder) == (Status.IN_PROGRESS, *back_to)
        case "close":
            assert call.status is Status.CLOSED and open_orders(call) == []
        case "withdraw":
            assert call.status is Status.WITHDRAWN and open_orders(call) == []
        case "merge":
            assert call.status is Status.MERGED and open_orders(call) == []
            assert call.merged_into is not None and call.merged_into != str(call.id)
        case "supervise":
            assert call.status is before.status
            assert call.supervisions[-1].unit == before.holder
            assert len(call.supervisions) == len(before.supervisions) + 1
        case "put-on-agenda":
            assert (call.status, call.holder) == (before.status, before.holder)
            assert call.agendas == [*before.agendas, "a-meeting"]


MATRIX = [
    (action, state)
    for action, rule in TABLE_BY_HAND.items()
    for state in RECIPES
    if not rule.on_lead_order or state in WITH_ORDERS
]


@pytest.mark.parametrize(("action", "state"), MATRIX, ids=[f"{a} when {s}" for a, s in MATRIX])
def test_each_principal_gets_exactly_the_outcome_the_table_names(action: str, state: str) -> None:
    outcomes: dict[str, str] = {}
    for who in PRINCIPALS:
        story = build(state)
        before = copy.deepcopy(story.call)
        outcomes[who] = attempt(story, action, who)
        if outcomes[who] == OK:
            check_effect(action, state, before, story)
    assert outcomes == expected_outcomes(action, state)


# --- raising ---------------------------------------------------------------------------------


def test_a_grid_worker_raises_a_call_at_the_community_of_its_grid() -> None:
    call = raise_call()
    assert (call.level, call.holder, call.status, call.round) == (
        Level.COMMUNITY,
        COMMUNITY,
        Status.AWAITING_RESPONSE,
        1,
    )
    assert (call.grid_code, call.community_code, call.street_code) == (GRID, COMMUNITY, STREET)
    assert (call.catalog_version, call.item_code, call.raised_at) == ("2026.1", "C01-01", T0)
    assert call.version == 1 and call.work_orders == {} and call.evaluation is None


@pytest.mark.parametrize("who", ["grid worker", "community", "supervisor"])
def test_the_grid_worker_the_community_of_the_grid_and_a_supervisor_may_raise_a_call(who: str) -> None:
    call = raise_call(Command(PRINCIPALS[who], T0))
    assert call.raised_by == PRINCIPALS[who].as_dict()
    assert call.holder == COMMUNITY


@pytest.mark.parametrize(
    "who",
    [
        "other grid worker",
        "other community",
        "street",
        "other street",
        "department",
        "auditor",
        "admin",
        "system",
    ],
)
def test_nobody_else_may_raise_a_call_in_the_grid(who: str) -> None:
    with pytest.raises(NotPermitted):
        raise_call(Command(PRINCIPALS[who], T0))


def test_raising_records_the_sla_snapshot_channel_urgency_and_capture_time() -> None:
    sla = {"community": {"response": {"amount": 2, "unit": "working_hours"}}}
    occurred = T0 - timedelta(hours=3)
    call = raise_call(sla=sla, channel="hotline", urgency="urgent", occurred_at=occurred)
    assert (call.sla, call.channel, call.urgency, call.occurred_at) == (sla, "hotline", "urgent", occurred)


# --- acknowledging and calling up ------------------------------------------------------------


def test_a_street_cannot_escalate_a_call_it_holds() -> None:
    story = build("street acknowledged")
    with pytest.raises(NotPermitted):
        story.call.escalate(story.cmd("street"), reason="再上呼")


def test_the_origin_community_no_longer_holds_a_call_it_called_up() -> None:
    story = build("escalated")
    with pytest.raises(NotPermitted):
        story.call.acknowledge(story.cmd("community"))
    story.call.acknowledge(story.cmd("street"))
    assert story.call.status is Status.IN_PROGRESS


def test_the_watchdog_calls_up_a_community_call_but_not_a_street_call() -> None:
    due = T0 + timedelta(hours=2)
    call = raise_call(clocks=lambda level: Clocks(due, due + timedelta(days=1)))
    call.escalate(Command(SYSTEM, due + timedelta(minutes=1)), reason="response_overdue")
    assert (call.level, call.holder) == (Level.STREET, STREET)
    with pytest.raises(TransitionNotAllowed):
        call.escalate(Command(SYSTEM, due + timedelta(minutes=2)), reason="response_overdue")


def test_the_watchdog_cannot_call_up_before_the_response_deadline_or_once_answered() -> None:
    due = T0 + timedelta(hours=2)
    call = raise_call(clocks=lambda level: Clocks(due, due + timedelta(days=1)))
    with pytest.raises(TransitionNotAllowed):
        call.escalate(Command(SYSTEM, due - timedelta(minutes=1)), reason="response_overdue")
    call.acknowledge(Command(PRINCIPALS["community"], due - timedelta(minutes=1)))
    with pytest.raises(TransitionNotAllowed):
        call.escalate(Command(SYSTEM, due + timedelta(hours=1)), reason="response_overdue")


def test_the_watchdog_flags_each_missed_clock_once_against_its_unit() -> None:
    due = T0 + timedelta(hours=2)
    call = raise_call(clocks=lambda level: Clocks(due, due + timedelta(days=1)))
    late = Command(SYSTEM, due + timedelta(minutes=5))
    call.supervise(late, reason="response_overdue", clock="stint1:response")
    assert call.supervisions[-1].unit == COMMUNITY and call.supervisions[-1].clock == "stint1:response"
    with pytest.raises(TransitionNotAllowed):
        call.supervise(late, reason="response_overdue", clock="stint1:response")
    with pytest.raises(TransitionNotAllowed):  # the resolution clock has not run out yet
        call.supervise(late, reason="resolution_overdue", clock="stint1:resolution")
    with pytest.raises(InvalidCommand):
        call.supervise(late, reason="超时")


def test_escalating_hands_the_call_to_the_communitys_street_awaiting_its_response() -> None:
    story = build("acknowledged").escalate()
    call = story.call
    assert (call.level, call.holder, call.status) == (Level.STREET, STREET, Status.AWAITING_RESPONSE)
    assert [step.holder for step in call.chain] == [COMMUNITY, STREET]


# --- dispatching and work orders -------------------------------------------------------------


def test_dispatch_creates_one_lead_and_assisting_orders_each_with_deadline_and_instructions() -> None:
    story = build("dispatched")
    call = story.call
    assert (call.level, call.holder, call.status) == (Level.DEPARTMENT, STREET, Status.DISPATCHED)
    lead, assist = call.work_orders[story.lead or ""], call.work_orders[story.assist or ""]
    assert (lead.department_code, lead.role, lead.status) == ("CG", OrderRole.LEAD, OrderStatus.DISPATCHED)
    assert (assist.department_code, assist.role) == ("ZJ", OrderRole.ASSIST)
    assert lead.deadline > lead.dispatched_at and lead.instructions
    assert call.lead_order is lead and call.departments_involved == {"CG", "ZJ"}


def test_a_street_cannot_dispatch_a_call_it_has_not_acknowledged() -> None:
    story = build("escalated")
    with pytest.raises(TransitionNotAllowed):
        story.dispatch()


def test_another_department_cannot_sign_the_lead_departments_order() -> None:
    story = build("dispatched")
    for who in ("assist department", "other department"):
        with pytest.raises(NotPermitted):
            story.call.sign(story.cmd(who), story.lead or "")


def test_the_assisting_department_signs_and_completes_its_own_order() -> None:
    story = build("dispatched").sign("assist").complete("assist")
    assert story.call.work_orders[story.assist or ""].status is OrderStatus.COMPLETED
    assert story.call.status is Status.DISPATCHED


def test_acting_on_a_work_order_the_call_does_not_have_is_an_invalid_command() -> None:
    story = build("dispatched")
    with pytest.raises(InvalidCommand):
        story.call.sign(story.cmd("department"), "no-such-order")


def test_a_returned_lead_order_sends_the_call_back_to_the_street() -> None:
    story = build("returned")
    call = story.call
    assert (call.status, call.holder) == (Status.RETURNED, STREET)
    assert call.work_orders[story.lead or ""].status is OrderStatus.RETURNED


def test_a_returned_assist_order_leaves_the_call_dispatched() -> None:
    story = build("signed").return_order("assist")
    call = story.call
    assert call.status is Status.DISPATCHED
    assert call.work_orders[story.assist or ""].status is OrderStatus.RETURNED
    assert call.work_orders[story.lead or ""].status is OrderStatus.SIGNED
    story.complete().resolve()
    assert call.status is Status.RESOLVED


def test_assisting_work_goes_on_while_the_lead_order_is_returned() -> None:
    story = build("returned").sign("assist")
    assert story.call.work_orders[story.assist or ""].status is OrderStatus.SIGNED
    assert story.call.status is Status.RETURNED


def test_redispatch_after_a_returned_lead_order_cancels_the_still_open_orders_of_the_earlier_dispatch() -> (
    None
):
    story = build("dispatched").sign("assist").return_order("lead")
    first_lead, first_assist = story.lead or "", story.assist or ""
    story.dispatch()
    call = story.call
    assert call.work_orders[first_assist].status is OrderStatus.CANCELLED
    assert call.work_orders[first_lead].status is OrderStatus.RETURNED  # closed already: kept as it was
    assert {call.work_orders[o].status for o in story.dispatches[-1]} == {OrderStatus.DISPATCHED}
    assert (call.status, call.level, call.holder) == (Status.DISPATCHED, Level.DEPARTMENT, STREET)
    assert call.lead_order is call.work_orders[story.lead or ""] and story.lead != first_lead
    with pytest.raises(TransitionNotAllowed):
        call.sign(story.cmd("assist department"), first_assist)


def test_redispatch_cancels_a_pending_extension_of_the_earlier_dispatch() -> None:
    story = build("signed").request_extension("assist").return_order("lead")
    assist = story.assist or ""
    story.dispatch()
    order = story.call.work_orders[assist]
    assert (order.status, order.extension) == (OrderStatus.CANCELLED, None)


def test_resolving_cancels_the_orders_still_open_and_they_take_no_more_action() -> None:
    story = build("resolved at department")
    assert story.call.work_orders[story.assist or ""].status is OrderStatus.CANCELLED
    assert story.call.work_orders[story.lead or ""].status is OrderStatus.COMPLETED
    with pytest.raises(TransitionNotAllowed):
        story.complete("assist")


# --- extensions (延期) -------------------------------------------------------------------------


def test_granting_an_extension_moves_the_deadline() -> None:
    story = build("signed")
    lead = story.call.work_orders[story.lead or ""]
    until = lead.deadline + timedelta(days=4)
    story.call.request_extension(story.cmd("department"), lead.id, until=until, reason="雨天施工受阻")
    assert lead.extension is not None and lead.extension.until == until
    story.call.grant_extension(story.cmd("street"), lead.id, note="同意")
    assert (lead.deadline, lead.extension) == (until, None)


def test_denying_an_extension_keeps_the_deadline() -> None:
    story = build("extension pending")
    lead = story.call.work_orders[story.lead or ""]
    deadline = lead.deadline
    story.call.deny_extension(story.cmd("street"), lead.id, reason="可按期完成")
    assert (lead.deadline, lead.extension) == (deadline, None)


@pytest.mark.parametrize("by", [timedelta(0), timedelta(days=-1)], ids=["on the deadline", "before it"])
def test_an_extension_not_later_than_the_deadline_is_an_invalid_command(by: timedelta) -> None:
    story = build("signed")
    lead = story.call.work_orders[story.lead or ""]
    with pytest.raises(InvalidCommand) as refused:
        story.call.request_extension(story.cmd("department"), lead.id, until=lead.deadline + by, reason="x")
    assert refused.value.field == "until"
    assert lead.extension is None and story.call.version == 6


def test_a_second_extension_request_while_one_is_pending_is_refused() -> None:
    story = build("extension pending")
    with pytest.raises(TransitionNotAllowed):
        story.request_extension()


def test_only_the_holder_street_decides_an_extension() -> None:
    story = build("extension pending")
    for who in ("department", "other street", "community", "supervisor"):
        with pytest.raises(NotPermitted):
            story.call.grant_extension(story.cmd(who), story.lead or "")


@pytest.mark.parametrize("ending", ["complete", "return_order"])
def test_a_pending_extension_request_ends_with_its_order(ending: str) -> None:
    """A finished order takes no extension decisions: the street can neither grant (moving a
    finished order's deadline) nor deny what the department asked before it finished."""
    story = build("extension pending")
    lead = story.call.work_orders[story.lead or ""]
    deadline = lead.deadline
    getattr(story, ending)()
    assert lead.extension is None
    for decide in ("grant extension", "deny extension"):
        with pytest.raises(TransitionNotAllowed, match=f"{lead.status.value}; a finished order"):
            ACT[decide](story, story.cmd("street"))
    assert lead.deadline == deadline


def test_a_history_stored_with_a_decision_after_completion_still_folds() -> None:
    """Before finished orders refused extension decisions, a grant could be stored after the
    order completed. Stored events are forever: such a history replays as it was recorded."""
    story = build("extension pending").complete()
    lead = story.call.work_orders[story.lead or ""]
    until = lead.deadline + timedelta(days=10)
    street = story.cmd("street")  # the event the old gate let through, triggered past the new one
    story.call.trigger_event(Call.ExtensionGranted, order_id=lead.id, until=until, note=None, **street.meta)
    replayed = story.replayed()
    order = replayed.work_orders[lead.id]
    assert (order.status, order.deadline, order.extension) == (OrderStatus.COMPLETED, until, None)
    assert replayed.version == story.call.version


# --- resolving -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["dispatched", "signed", "extension pending", "assist returned"])
def test_resolving_at_department_level_needs_the_lead_order_completed(state: str) -> None:
    story = build(state)
    with pytest.raises(TransitionNotAllowed):
        story.resolve()


def test_a_completed_assist_order_does_not_let_the_street_resolve() -> None:
    story = build("signed").complete("assist")
    with pytest.raises(TransitionNotAllowed):
        story.resolve()


def test_a_completed_lead_order_lets_the_street_resolve_even_with_assisting_work_open() -> None:
    story = build("completed").resolve()
    assert story.call.status is Status.RESOLVED
    assert story.call.resolved_level is Level.DEPARTMENT
    assert story.call.holder == STREET


def test_a_returned_call_cannot_be_resolved_before_it_is_dispatched_again() -> None:
    story = build("returned")
    with pytest.raises(TransitionNotAllowed):
        story.resolve()


# --- evaluating (一呼一评) ----------------------------------------------------------------------


def test_a_second_evaluation_in_the_same_round_is_refused() -> None:
    story = build("satisfied at community")
    for who in ("community", "grid worker", "supervisor"):
        with pytest.raises(TransitionNotAllowed):
            story.call.evaluate(
                story.cmd(who), contacted=True, solved=True, satisfaction=Satisfaction.SATISFIED
            )
    assert list(story.call.evaluations) == [1]


def test_an_unreachable_reporter_is_recorded_as_an_invalid_follow_up() -> None:
    story = build("resolved at street")
    story.call.evaluate(
        story.cmd("supervisor"), contacted=False, solved=True, satisfaction=Satisfaction.SATISFIED
    )
    evaluation = story.call.evaluation
    assert evaluation is not None
    assert (evaluation.contacted, evaluation.solved, evaluation.satisfaction) == (False, None, None)
    assert evaluation.actor == PRINCIPALS["supervisor"].as_dict()


def test_a_reopened_call_gets_one_evaluation_in_each_round() -> None:
    story = build("reopened at community").resolve().evaluate(Satisfaction.BASICALLY_SATISFIED)
    call = story.call
    assert sorted(call.evaluations) == [1, 2]
    assert call.evaluations[1].dissatisfied
    assert call.evaluation is call.evaluations[2] and not call.evaluation.dissatisfied


# --- reopening (重办) ---------------------------------------------------------------------------


def test_reopen_goes_back_to_the_community_if_it_resolved_at_community_level() -> None:
    call = build("reopened at community").call
    assert (call.level, call.holder, call.status, call.round) == (
        Level.COMMUNITY,
        COMMUNITY,
        Status.IN_PROGRESS,
        2,
    )
    assert call.resolved_level is None


def test_reopen_goes_back_to_the_street_at_street_level_if_the_street_resolved_it() -> None:
    call = build("reopened at street").call
    assert (call.level, call.holder, call.status, call.round) == (Level.STREET, STREET, Status.IN_PROGRESS, 2)


def test_reopen_after_a_dispatch_goes_back_to_the_street_at_street_level() -> None:
    call = build("reopened from department").call
    assert (call.level, call.holder, call.status, call.round) == (Level.STREET, STREET, Status.IN_PROGRESS, 2)


def test_a_street_may_resolve_or_dispatch_again_a_call_reopened_to_it() -> None:
    resolved = build("reopened from department").resolve().call
    assert (resolved.status, resolved.resolved_level) == (Status.RESOLVED, Level.STREET)
    story = build("reopened from department")
    earlier_assist = story.assist or ""
    story.dispatch()
    assert story.call.status is Status.DISPATCHED
    assert story.call.work_orders[earlier_assist].status is OrderStatus.CANCELLED


def test_a_community_may_call_up_again_a_call_reopened_to_it() -> None:
    call = build("reopened at community").escalate().call
    assert (call.level, call.holder, call.round) == (Level.STREET, STREET, 2)


def test_reopen_is_allowed_up_to_seven_days_after_the_evaluation() -> None:
    story = build("dissatisfied at community")
    story.call.reopen(story.cmd("community", later=timedelta(days=7) - timedelta(hours=1)), reason="依旧")
    assert story.call.round == 2


def test_reopen_is_refused_after_the_seven_day_window() -> None:
    story = build("dissatisfied at community")
    with pytest.raises(TransitionNotAllowed, match="window"):
        story.call.reopen(story.cmd("community", later=timedelta(days=7, seconds=1)), reason="依旧")
    assert story.call.round == 1 and story.call.status is Status.EVALUATED


def test_the_reopen_window_is_the_one_the_application_gives() -> None:
    story = build("dissatisfied at street")
    with pytest.raises(TransitionNotAllowed):
        story.call.reopen(
            story.cmd("supervisor", later=timedelta(days=2)), reason="依旧", window=timedelta(days=1)
        )
    story.call.reopen(story.cmd("supervisor"), reason="依旧", window=timedelta(days=30))
    assert story.call.round == 2


@pytest.mark.parametrize("satisfaction", [Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED])
def test_only_a_dissatisfied_call_can_be_reopened(satisfaction: Satisfaction) -> None:
    story = build("resolved at community").evaluate(satisfaction)
    with pytest.raises(TransitionNotAllowed, match="dissatisfied"):
        story.reopen()


def test_a_call_whose_reporter_could_not_be_reached_cannot_be_reopened() -> None:
    story = build("resolved at community")
    story.call.evaluate(story.cmd("grid worker"), contacted=False)
    with pytest.raises(TransitionNotAllowed):
        story.reopen()
    story.close()
    assert story.call.status is Status.CLOSED


def test_a_grid_worker_cannot_reopen_a_call() -> None:
    story = build("dissatisfied at community")
    with pytest.raises(NotPermitted):
        story.call.reopen(story.cmd("grid worker"), reason="依旧")


# --- closing, withdrawing, merging ---------------------------------------------------------------


def test_closing_leaves_no_order_open() -> None:
    story = build("satisfied at department")
    story.close()
    assert story.call.status is Status.CLOSED
    assert not any(o.is_open for o in story.call.work_orders.values())
    assert story.call.work_orders[story.lead or ""].status is OrderStatus.COMPLETED


def test_a_reopened_call_cannot_be_closed() -> None:
    story = build("reopened at street")
    with pytest.raises(TransitionNotAllowed):
        story.close()


@pytest.mark.parametrize("who", ["grid worker", "community"])
def test_withdrawing_cancels_the_open_orders(who: str) -> None:
    story = build("dispatched").sign().return_order("assist")
    story.call.withdraw(story.cmd(who), reason="居民已自行解决")
    call = story.call
    assert call.status is Status.WITHDRAWN
    assert call.work_orders[story.lead or ""].status is OrderStatus.CANCELLED
    assert call.work_orders[story.assist or ""].status is OrderStatus.RETURNED


def test_a_resolved_call_cannot_be_withdrawn() -> None:
    story = build("resolved at street")
    with pytest.raises(TransitionNotAllowed):
        story.withdraw()


def test_merging_cancels_open_orders_and_points_at_the_target_which_is_unchanged() -> None:
    story = build("extension pending")
    target = raise_call(Command(PRINCIPALS["community"], story.now))
    target_before = copy.deepcopy(state_of(target))
    story.call.merge_into(story.cmd("street"), target, reason="同一事项")
    call = story.call
    assert (call.status, call.merged_into) == (Status.MERGED, str(target.id))
    assert open_orders(call) == []
    assert all(o.extension is None for o in call.work_orders.values())
    assert state_of(target) == target_before


@pytest.mark.parametrize(
    "target_state", ["closed at community", "withdrawn at street", "merged while dispatched"]
)
def test_merging_into_a_call_that_is_final_is_refused(target_state: str) -> None:
    target = build(target_state).call
    story = build("acknowledged")
    with pytest.raises(TransitionNotAllowed, match="target"):
        story.call.merge_into(story.cmd("community"), target, reason="同一事项")
    assert story.call.status is Status.IN_PROGRESS and story.call.merged_into is None


def test_a_stranger_merging_into_a_final_call_is_not_permitted_before_anything_else() -> None:
    target = build("closed at community").call
    story = build("acknowledged")
    with pytest.raises(NotPermitted):
        story.call.merge_into(story.cmd("other community"), target, reason="同一事项")


@pytest.mark.parametrize("state", sorted(FINAL))
def test_nothing_is_allowed_after_a_call_is_closed_withdrawn_or_merged(state: str) -> None:
    succeeded = []
    for action, rule in TABLE_BY_HAND.items():
        if rule.on_lead_order and state not in WITH_ORDERS:
            continue
        for who in PRINCIPALS:
            story = build(state)
            version = story.call.version
            if attempt(story, action, who) == OK:
                succeeded.append((action, who))
            assert story.call.version == version
            assert story.call.status in TERMINAL
    assert succeeded == []


# --- supervision (督办) ------------------------------------------------------------------------


def test_a_supervision_counts_against_the_holder_unless_another_unit_is_named() -> None:
    story = build("dispatched")
    story.call.supervise(story.cmd("supervisor"), reason="逾期未签收", unit=LEAD_DEPARTMENT)
    story.call.supervise(story.cmd("supervisor"), reason="超时")
    assert [s.unit for s in story.call.supervisions] == [LEAD_DEPARTMENT, STREET]
    assert story.call.supervised == 2
    assert story.call.supervisions[1].actor == PRINCIPALS["supervisor"].as_dict()
    assert story.call.status is Status.DISPATCHED


def test_a_supervised_call_is_still_answered_by_its_holder() -> None:
    call = build("supervised").acknowledge().call
    assert (call.status, call.holder, call.supervised) == (Status.IN_PROGRESS, COMMUNITY, 1)


# --- If-Match (optimistic concurrency) ---------------------------------------------------------


def test_a_stale_if_match_is_refused_with_stale_version() -> None:
    story = build("raised")
    with pytest.raises(StaleVersion):
        story.call.acknowledge(story.cmd("community", expected_version=0))
    assert story.call.status is Status.AWAITING_RESPONSE and story.call.version == 1


def test_a_current_if_match_lets_the_command_through() -> None:
    story = build("raised")
    story.call.acknowledge(story.cmd("community", expected_version=1))
    assert story.call.version == 2


def test_not_permitted_is_checked_before_a_stale_if_match() -> None:
    story = build("raised")
    with pytest.raises(NotPermitted):
        story.call.acknowledge(story.cmd("street", expected_version=99))


def test_a_stale_if_match_is_checked_before_the_state_forbids_the_move() -> None:
    story = build("acknowledged")
    with pytest.raises(StaleVersion):
        story.call.acknowledge(story.cmd("community", expected_version=1))
    with pytest.raises(TransitionNotAllowed):
        story.call.acknowledge(story.cmd("community", expected_version=2))


def test_a_stale_if_match_on_a_work_order_is_checked_between_who_and_state() -> None:
    story = build("signed")
    lead = story.lead or ""
    with pytest.raises(NotPermitted):
        story.call.sign(story.cmd("other department", expected_version=1), lead)
    with pytest.raises(StaleVersion):
        story.call.sign(story.cmd("department", expected_version=1), lead)
    with pytest.raises(TransitionNotAllowed):
        story.call.sign(story.cmd("department", expected_version=story.call.version), lead)


# --- the record: events, replay, idempotency ---------------------------------------------------


def test_every_event_carries_actor_at_and_idempotency_key() -> None:
    story = build("reopened from department", keyed=True)
    story.supervise().dispatch().sign().request_extension()
    story.call.grant_extension(story.cmd("street"), story.lead or "")
    story.call.note_progress(story.cmd("department"), story.lead or "", note="过半")
    story.complete().resolve().evaluate().close()
    events = story.call.collect_events()
    assert len(events) == story.sent == story.call.version
    times = [e.at for e in events]
    assert times == sorted(times) and times[0] == T0
    for n, event in enumerate(events, start=1):
        assert event.actor in [p.as_dict() for p in PRINCIPALS.values()]
        assert event.idempotency_key == f"key-{n}"
        assert event.fingerprint == f"body-{n}"
    assert {type(e).__name__ for e in events} >= {
        "Raised",
        "Acknowledged",
        "Escalated",
        "Dispatched",
        "WorkOrderSigned",
        "ExtensionRequested",
        "ExtensionGranted",
        "ProgressNoted",
        "WorkOrderCompleted",
        "Resolved",
        "Evaluated",
        "Reopened",
        "Supervised",
        "Closed",
    }


def test_an_event_without_an_idempotency_key_says_so() -> None:
    story = build("acknowledged")
    events = story.call.collect_events()
    assert [e.idempotency_key for e in events] == [None, None]
    assert events[1].actor == {"role": "community", "unit": COMMUNITY}
    assert events[1].at == T0 + timedelta(hours=1)


@pytest.mark.parametrize("state", list(RECIPES))
def test_replaying_the_events_rebuilds_identical_state(state: str) -> None:
    story = build(state, keyed=True)
    expected = copy.deepcopy(state_of(story.call))
    assert state_of(story.replayed()) == expected


def test_an_idempotency_key_is_remembered_with_its_version_and_fingerprint() -> None:
    story = build("dispatched")
    street = PRINCIPALS["street"].as_dict()
    department = PRINCIPALS["department"].as_dict()
    story.call.supervise(story.cmd("supervisor", idempotency_key="k-sup", fingerprint="fp-1"), reason="慢")
    story.call.sign(story.cmd("department", idempotency_key="k-sign", fingerprint="fp-2"), story.lead or "")
    call = story.call
    supervisor = PRINCIPALS["supervisor"].as_dict()
    assert call.remembered(request_scope(supervisor, "supervise"), "k-sup") == Remembered(5, "fp-1")
    assert call.remembered(request_scope(department, "sign", story.lead), "k-sign") == Remembered(6, "fp-2")
    # The same key in another scope (another principal, action or work order) is another request.
    assert call.remembered(request_scope(street, "supervise"), "k-sup") is None
    assert call.remembered(request_scope(supervisor, "escalate"), "k-sup") is None
    assert call.remembered(request_scope(department, "sign", story.assist), "k-sign") is None
    assert call.remembered(request_scope(supervisor, "supervise"), "k-other") is None
    # …and the memory is rebuilt from the events.
    rebuilt = replay(call.collect_events())
    assert rebuilt.remembered(request_scope(department, "sign", story.lead), "k-sign") == Remembered(
        6, "fp-2"
    )


def test_the_raise_request_is_remembered_too() -> None:
    grid_worker = PRINCIPALS["grid worker"]
    call = raise_call(Command(grid_worker, T0, idempotency_key="k-raise", fingerprint="fp"))
    assert call.remembered(request_scope(grid_worker.as_dict(), "raise"), "k-raise") == Remembered(1, "fp")


def test_a_refused_command_remembers_nothing() -> None:
    story = build("raised")
    with pytest.raises(DomainError):
        story.call.resolve(story.cmd("community", idempotency_key="k-res"), summary="x")
    assert story.call.remembered(request_scope(PRINCIPALS["community"].as_dict(), "resolve"), "k-res") is None
    assert story.call.requests == {}


def test_the_builder_reaches_every_state_it_names() -> None:
    """Guards the hand-written lists above against a recipe drifting from its name."""
    for state in RECIPES:
        call = build(state).call
        assert (call.level is Level.COMMUNITY) == (state in COMMUNITY_LEVEL), state
        assert (call.status in TERMINAL) == (state in FINAL), state
        assert bool(call.work_orders) == (state in WITH_ORDERS), state
