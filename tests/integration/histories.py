"""Random histories of calls, driven through huying's own commands.

A ``Planner`` looks at a call as it stands and proposes the next ``Move``: mostly what the
right party would sensibly do next, and — as often as the ``Shape`` says — a move by the wrong
principal, a move the call's state forbids, a move with invalid content, a stale ``If-Match``,
or a repeat of an earlier keyed request (same body: answered from the record; other body:
refused). ``drive`` plays such a history through the application services' commands on a fake clock
that jumps by random amounts, and checks after every command that a refusal raised a
``DomainError`` and wrote nothing, and that a repeat wrote nothing either.

``write_in_batches`` plays a history through the same commands but stores its events many calls
per transaction (the crash test and the rebuild benchmark use it to write large logs fast).

Nothing here imports pytest or hypothesis: the benchmark imports this module too.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.call import Call
from huying.domain.contact import Contact
from huying.domain.errors import DomainError
from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.domain.principal import SYSTEM, Principal, Role
from huying.domain.states import (
    TERMINAL,
    WITHDRAWABLE,
    OrderRole,
    OrderStatus,
    Satisfaction,
    Status,
    WorkOrder,
)
from huying.service_layer.calls import CallDraft, DispatchPlan, Outcome
from huying.service_layer.command_path import Submission
from huying.synthetic.staging import BatchedSaves

# Every command of the application but raise, by the name a Move carries.
ACTIONS = (
    "acknowledge",
    "escalate",
    "dispatch",
    "sign",
    "return",
    "request_extension",
    "grant_extension",
    "deny_extension",
    "progress",
    "complete",
    "resolve",
    "evaluate",
    "reopen",
    "close",
    "withdraw",
    "merge",
    "supervise",
    "rate_order",
    "rate_response",
)
ORDER_ACTIONS = frozenset(
    {
        "sign",
        "return",
        "request_extension",
        "grant_extension",
        "deny_extension",
        "progress",
        "complete",
        "rate_order",
    }
)
# The 18 event classes of a call: what "every event kind" means.
EVENT_KINDS = frozenset(
    {
        "Raised",
        "Acknowledged",
        "Escalated",
        "Dispatched",
        "WorkOrderSigned",
        "WorkOrderReturned",
        "ExtensionRequested",
        "ExtensionGranted",
        "ExtensionDenied",
        "ProgressNoted",
        "WorkOrderCompleted",
        "Resolved",
        "Evaluated",
        "Reopened",
        "Closed",
        "Withdrawn",
        "MergedInto",
        "Supervised",
    }
)
# 一呼一评 by the caller: random histories rate too (the synthetic seeder does not, yet).
CALLER_RATINGS = frozenset({"WorkOrderRated", "StreetResponseRated"})

CHANNELS = ("grid_worker", "photo", "hotline", "council", "walk_in")
URGENCIES = ("normal", "normal", "normal", "urgent", "emergency")
TITLES = ("井盖松动", "垃圾堆积", "路灯不亮", "占道经营", "噪音扰民", "违章搭建", "积水内涝", "树木倒伏")


@dataclass(frozen=True)
class Shape:
    """How a history looks: its size, how many calls are in play at once, how wild it is."""

    calls: int = 1000
    concurrency: int = 40  # calls in play at the same time (their events interleave in the log)
    wrong_principal: float = 0.06  # the right move, by a random principal
    wrong_move: float = 0.05  # any action, by its natural party, whatever the call's state
    invalid: float = 0.03  # the right move with invalid content
    stale: float = 0.02  # the right move with an If-Match naming an old version
    keyed: float = 0.25  # send an Idempotency-Key (and body fingerprint)
    reporters: float = 0.3  # raises that give the reporter's contact details
    repeat: float = 0.04  # send the last keyed request again (half the time with another body)
    dead_call: float = 0.02  # act on a call that is out of play (often terminal)
    max_rounds: int = 3  # reopen at most this often
    max_steps: int = 60  # moves per call before it leaves play
    pace: float = 1.0  # scales how far business time jumps between two commands (see advance)

    @classmethod
    def tame(cls, calls: int, concurrency: int = 40, pace: float = 1.0) -> Shape:
        """Only sensible moves by the right parties (the benchmark's shape)."""
        return cls(
            calls=calls,
            concurrency=concurrency,
            pace=pace,
            wrong_principal=0,
            wrong_move=0,
            invalid=0,
            stale=0,
            keyed=0,
            repeat=0,
            dead_call=0,
            reporters=0,
        )


@dataclass(frozen=True)
class Move:
    """One command: what, by whom, on which call (and work order), with what content."""

    action: str
    principal: Principal
    call_id: UUID | None = None
    order_id: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    sub: Submission = field(default_factory=Submission)


@dataclass
class Stats:
    """What a history did: successes by action, refusals by error, repeats answered."""

    done: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    raised: list[UUID] = field(default_factory=list)

    @property
    def commands(self) -> int:
        return sum(self.done.values()) + sum(self.refused.values()) + self.replayed


class Planner:
    """Proposes moves for calls; all randomness comes from ``rng``."""

    def __init__(self, org: Org, items: list[str], rng: random.Random, shape: Shape) -> None:
        self.org = org
        self.items = items
        self.rng = rng
        self.shape = shape
        self.grids = [u.code for u in org.of_kind(UnitKind.GRID)]
        self.departments = [u.code for u in org.of_kind(UnitKind.DEPARTMENT)]
        district = org.district.code
        self.anyone = (
            [Principal(Role.GRID_WORKER, g) for g in self.grids]
            + [Principal(Role.COMMUNITY, u.code) for u in org.of_kind(UnitKind.COMMUNITY)]
            + [Principal(Role.STREET, u.code) for u in org.of_kind(UnitKind.STREET)]
            + [Principal(Role.DEPARTMENT, d) for d in self.departments]
            + [Principal(r, district) for r in (Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN)]
            + [SYSTEM]
        )
        self.supervisor = Principal(Role.SUPERVISOR, district)
        self._keys = 0

    def chance(self, p: float) -> bool:
        return p > 0 and self.rng.random() < p

    # --- raise ---------------------------------------------------------------------------------

    def raise_move(self, now: datetime) -> Move:
        rng = self.rng
        grid = rng.choice(self.grids)
        community = self.org.community_of(grid)
        principal = rng.choices(
            [Principal(Role.GRID_WORKER, grid), Principal(Role.COMMUNITY, community), self.supervisor],
            weights=[6, 3, 1],
        )[0]
        draft = CallDraft(
            item_code=rng.choice(self.items),
            grid_code=grid,
            title=f"{rng.choice(TITLES)} #{rng.randrange(10_000)}",
            description="群众反映，请尽快处理。" * rng.randint(1, 3),
            channel=rng.choice(CHANNELS),
            urgency=rng.choice(URGENCIES),
            occurred_at=now - timedelta(minutes=rng.randint(0, 3000)) if rng.random() < 0.5 else None,
            location={"address": f"某路 {rng.randint(1, 300)} 号"} if rng.random() < 0.5 else None,
            reporter=(
                Contact(name="张三", phone=f"138{rng.randrange(10**8):08d}")
                if rng.random() < self.shape.reporters
                else None
            ),
        )
        move = Move("raise", principal, args={"draft": draft}, sub=self._sub())
        if self.chance(self.shape.wrong_principal):
            move = replace(move, principal=rng.choice(self.anyone))
        if self.chance(self.shape.invalid):
            move = self._invalid_raise(move, now)
        return move

    def _invalid_raise(self, move: Move, now: datetime) -> Move:
        draft: CallDraft = move.args["draft"]
        bad = self.rng.choice(
            [
                replace(draft, item_code="NO-SUCH-ITEM"),
                replace(draft, grid_code=self.org.community_of(draft.grid_code)),  # a community, not a grid
                replace(draft, occurred_at=now + timedelta(days=1)),
            ]
        )
        return replace(move, args={"draft": bad})

    # --- every other move ------------------------------------------------------------------------

    def next_move(self, call: Call, now: datetime, others: list[Call]) -> Move | None:
        """The next move for ``call`` (None: the call leaves play as it stands)."""
        shape, rng = self.shape, self.rng
        if self.chance(shape.wrong_move):
            action = rng.choice(ACTIONS)
            order = rng.choice(list(call.work_orders.values())) if call.work_orders else None
            move = self._move(action, call, now, others, order)
        else:
            sensible = self._sensible(call)
            if sensible is None:
                return None
            action, order = sensible
            move = self._move(action, call, now, others, order)
        if self.chance(shape.wrong_principal):
            move = replace(move, principal=rng.choice(self.anyone))
        if self.chance(shape.invalid):
            move = self._invalid(move, call, now)
        if self.chance(shape.stale) and call.version > 1:
            move = replace(move, sub=replace(move.sub, if_match=rng.randrange(1, call.version)))
        elif self.chance(shape.stale):
            move = replace(move, sub=replace(move.sub, if_match=call.version))  # current: allowed
        return move

    def _sensible(self, call: Call) -> tuple[str, WorkOrder | None] | None:
        options: list[tuple[float, str, WorkOrder | None]] = []
        s, level = call.status, call.level
        if s is Status.AWAITING_RESPONSE:
            options.append((10, "acknowledge", None))
            if level is Level.COMMUNITY:
                options.append((2, "escalate", None))
        elif s is Status.IN_PROGRESS:
            if level is Level.COMMUNITY:
                options += [(5, "resolve", None), (4, "escalate", None)]
            else:
                options += [(6, "dispatch", None), (2, "resolve", None)]
        elif s in (Status.DISPATCHED, Status.RETURNED):
            for o in call.work_orders.values():
                lead = o.role is OrderRole.LEAD
                if o.status is OrderStatus.DISPATCHED:
                    options += [(3, "sign", o), (0.7 if lead else 0.5, "return", o)]
                elif o.status is OrderStatus.SIGNED:
                    options += [(4 if lead else 3, "complete", o), (1, "progress", o), (0.4, "return", o)]
                    if o.extension is None:
                        options.append((0.6, "request_extension", o))
                    else:
                        options += [(1.5, "grant_extension", o), (1, "deny_extension", o)]
            lead_order = call.lead_order
            if (
                s is Status.DISPATCHED
                and lead_order is not None
                and lead_order.status is OrderStatus.COMPLETED
            ):
                options.append((8, "resolve", None))
            if s is Status.RETURNED:
                options.append((6, "dispatch", None))
        elif s is Status.RESOLVED:
            options.append((10, "evaluate", None))
        if s in (Status.RESOLVED, Status.EVALUATED):
            options += self._ratings(call)
        if s is Status.EVALUATED:
            evaluation = call.evaluation
            if evaluation is not None and evaluation.dissatisfied and call.round <= self.shape.max_rounds:
                options.append((6, "reopen", None))
            options += [(4, "close", None), (1, "leave", None)]
        if s not in TERMINAL:
            options += [(0.3, "supervise", None), (0.15, "merge", None)]
            if s in WITHDRAWABLE:
                options.append((0.2, "withdraw", None))
        if not options:
            return None
        weights = [w for w, _, _ in options]
        _, action, order = self.rng.choices(options, weights=weights)[0]
        return None if action == "leave" else (action, order)

    @staticmethod
    def _ratings(call: Call) -> list[tuple[float, str, WorkOrder | None]]:
        """一呼一评 by the caller, where there is something to rate (and now and then where not)."""
        options: list[tuple[float, str, WorkOrder | None]] = [
            (1.5, "rate_order", o)
            for o in call.work_orders.values()
            if o.rating is None and (o.signed_at or o.status is OrderStatus.RETURNED)
        ]
        if any(st.level is Level.STREET and st.round == call.round for st in call.chain):
            options.append((1.5 if call.round not in call.response_ratings else 0.1, "rate_response", None))
        return options

    def natural(self, action: str, call: Call, order: WorkOrder | None) -> Principal:
        """The party the transition table names for ``action`` on ``call`` as it stands."""
        rng = self.rng
        holder = Principal(Role.COMMUNITY if call.level is Level.COMMUNITY else Role.STREET, call.holder)
        origin = Principal(Role.COMMUNITY, call.community_code)
        grid_worker = Principal(Role.GRID_WORKER, call.grid_code)
        if action == "rate_order":
            return Principal(Role.STREET, call.street_code)
        if action == "rate_response":
            return origin
        if action in ORDER_ACTIONS - {"grant_extension", "deny_extension"}:
            return Principal(
                Role.DEPARTMENT, order.department_code if order else rng.choice(self.departments)
            )
        if action in ("grant_extension", "deny_extension", "dispatch"):
            return Principal(Role.STREET, call.street_code)
        if action == "escalate":
            return SYSTEM if rng.random() < 0.1 else holder
        if action == "evaluate":
            return rng.choice([origin, grid_worker, self.supervisor])
        if action in ("reopen", "close"):
            return rng.choice([origin, self.supervisor])
        if action == "withdraw":
            return rng.choice([grid_worker, origin])
        if action == "supervise":
            return SYSTEM if rng.random() < 0.2 else self.supervisor
        return holder  # acknowledge, resolve, merge

    def _move(
        self, action: str, call: Call, now: datetime, others: list[Call], order: WorkOrder | None
    ) -> Move:
        rng = self.rng
        principal = self.natural(action, call, order)
        args: dict[str, Any] = {}
        order_id = None
        if action in ORDER_ACTIONS:
            order_id = order.id if order is not None else f"{call.id}-w{len(call.work_orders) + 1}"
        if action == "acknowledge":
            args["note"] = rng.choice([None, "已响应"])
        elif action == "escalate":
            args["reason"] = "社区无执法权，需街道统筹"
        elif action == "dispatch":
            lead, *assists = rng.sample(self.departments, rng.choices([1, 2, 3], weights=[4, 4, 1])[0])
            args["plan"] = DispatchPlan(
                lead_department=lead,
                assisting_departments=assists,
                deadline=now + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 23)),
                instructions="限期办理并反馈",
            )
        elif action == "sign":
            args["note"] = rng.choice([None, "已签收"])
        elif action == "return":
            args["reason"] = "不属本部门职责"
        elif action == "request_extension":
            deadline = order.deadline if order is not None else now
            args["until"] = deadline + timedelta(days=rng.randint(1, 10))
            args["reason"] = "需协调产权单位"
        elif action == "grant_extension":
            args["note"] = rng.choice([None, "同意延期"])
        elif action == "deny_extension":
            args["reason"] = "不予延期，按期办结"
        elif action == "progress":
            args["note"] = "已到现场勘查"
        elif action == "complete":
            args["result"] = "已处理完毕"
        elif action == "resolve":
            args["summary"] = "问题已解决"
        elif action == "evaluate":
            contacted = rng.random() < 0.85
            satisfaction = rng.choices(list(Satisfaction), weights=[5, 2, 3])[0] if contacted else None
            args.update(
                contacted=contacted,
                solved=(satisfaction is not Satisfaction.DISSATISFIED) if contacted else None,
                satisfaction=satisfaction,
                comment=rng.choice([None, "回访记录"]),
            )
        elif action == "reopen":
            args["reason"] = "群众不满意，重新办理"
        elif action == "close":
            args["note"] = rng.choice([None, "销号"])
        elif action == "withdraw":
            args["reason"] = "群众已自行解决"
        elif action == "merge":
            visible = [
                c
                for c in others
                if c.id != call.id
                and c.status not in TERMINAL
                and (c.community_code if call.level is Level.COMMUNITY else c.street_code)
                == (call.community_code if call.level is Level.COMMUNITY else call.street_code)
            ]
            strangers = [c for c in others if c.id != call.id]
            target = rng.choice(visible or strangers or [call])
            args.update(into=target.id, reason="同一事项重复反映")
        elif action in ("rate_order", "rate_response"):
            args.update(
                satisfaction=rng.choices(list(Satisfaction), weights=[5, 3, 2])[0],
                comment=rng.choice([None, "配合及时"]),
            )
        elif action == "supervise":
            unit = None
            if rng.random() < 0.3:
                unit = rng.choice([call.holder, call.community_code, *self.departments[:3]])
            args.update(reason="超时未办结", unit=unit)
        return Move(action, principal, call.id, order_id, args, self._sub())

    def _invalid(self, move: Move, call: Call, now: datetime) -> Move:
        """The same move with content no state of the call could accept (422)."""
        args = dict(move.args)
        if move.action == "dispatch":
            plan: DispatchPlan = args["plan"]
            args["plan"] = self.rng.choice(
                [
                    replace(plan, lead_department="NO-SUCH-DEPT"),
                    replace(plan, assisting_departments=[plan.lead_department]),
                    replace(plan, deadline=now - timedelta(hours=1)),
                ]
            )
        elif move.action == "request_extension":
            order = call.work_orders.get(move.order_id or "")
            args["until"] = (order.deadline if order else now) - timedelta(hours=1)
        elif move.action == "merge":
            args["into"] = self.rng.choice([call.id, uuid4()])
        elif move.action == "supervise":
            args["unit"] = "NO-SUCH-UNIT"
        elif move.action in ORDER_ACTIONS:
            return replace(
                move, order_id=self.rng.choice([f"{call.id}-w99", "not-an-order", f"{uuid4()}-w1"])
            )
        else:
            return replace(move, call_id=uuid4())  # no such call
        return replace(move, args=args)

    def _sub(self) -> Submission:
        if not self.chance(self.shape.keyed):
            return Submission()
        self._keys += 1
        return Submission(key=f"k-{self._keys}", fingerprint=f"f-{self._keys}")


# --- playing moves -------------------------------------------------------------------------------


def execute(services: Services, move: Move) -> Outcome:
    """Send ``move`` as the application command it names."""
    calls, orders = services.calls, services.orders
    p, sub, a, oid = move.principal, move.sub, move.args, move.order_id or ""
    cid = move.call_id or UUID(int=0)
    match move.action:
        case "raise":
            return calls.raise_call(p, a["draft"], sub)
        case "acknowledge":
            return calls.acknowledge(p, cid, sub, a["note"])
        case "escalate":
            return calls.escalate(p, cid, sub, a["reason"])
        case "dispatch":
            return calls.dispatch(p, cid, sub, a["plan"])
        case "sign":
            return orders.sign(p, oid, sub, a["note"])
        case "return":
            return orders.return_order(p, oid, sub, a["reason"])
        case "request_extension":
            return orders.request_extension(p, oid, sub, a["until"], a["reason"])
        case "grant_extension":
            return orders.grant_extension(p, oid, sub, a["note"])
        case "deny_extension":
            return orders.deny_extension(p, oid, sub, a["reason"])
        case "progress":
            return orders.note_progress(p, oid, sub, a["note"])
        case "complete":
            return orders.complete_order(p, oid, sub, a["result"])
        case "resolve":
            return calls.resolve(p, cid, sub, a["summary"])
        case "evaluate":
            return calls.evaluate(
                p,
                cid,
                sub,
                contacted=a["contacted"],
                solved=a["solved"],
                satisfaction=a["satisfaction"],
                comment=a["comment"],
            )
        case "reopen":
            return calls.reopen(p, cid, sub, a["reason"])
        case "close":
            return calls.close_call(p, cid, sub, a["note"])
        case "withdraw":
            return calls.withdraw(p, cid, sub, a["reason"])
        case "merge":
            return calls.merge(p, cid, sub, a["into"], a["reason"])
        case "supervise":
            return calls.supervise(p, cid, sub, a["reason"], a["unit"])
        case "rate_order":
            return orders.rate(p, oid, sub, a["satisfaction"], a["comment"])
        case "rate_response":
            return calls.rate_response(p, cid, sub, a["satisfaction"], a["comment"])
    raise ValueError(f"no action {move.action}")


def advance(clock: FakeClock, rng: random.Random, pace: float = 1.0) -> None:
    """Business time jumps: mostly minutes, sometimes hours, now and then days (past deadlines
    and reopen windows); about 7 hours per command on average at ``pace`` 1."""
    band = rng.choices(
        [(1, 900), (900, 8 * 3600), (8 * 3600, 3 * 86400), (3 * 86400, 9 * 86400)], [70, 20, 8, 2]
    )
    clock.advance(max(1, round(rng.randint(*band[0]) * pace)))


# --- a whole history through the application -------------------------------------------------------


def drive(
    services: Services,
    clock: FakeClock,
    rng: random.Random,
    shape: Shape,
    between: Callable[[], None] | None = None,
) -> Stats:
    """Play a random history of ``shape.calls`` calls through the application's commands.

    After every command: a refusal must have raised ``DomainError`` and written nothing; a
    repeat answered from the record must have written nothing; then ``between()`` runs (the
    property test projects a random batch there).
    """
    app = services.app
    planner = Planner(app.org, sorted(app.catalog.items), rng, shape)
    stats = Stats()
    live: dict[UUID, Call] = {}  # in play, as each call now stands
    steps: Counter[UUID] = Counter()
    gone: list[UUID] = []  # out of play
    last_keyed: Move | None = None

    def play(move: Move) -> Outcome | None:
        nonlocal last_keyed
        before = app.recorder.max_notification_id()
        try:
            outcome = execute(services, move)
        except DomainError as e:
            after = app.recorder.max_notification_id()
            assert after == before, (
                f"refused {move.action} ({type(e).__name__}) wrote events {before}→{after}"
            )
            stats.refused[type(e).__name__] += 1
            return None
        after = app.recorder.max_notification_id()
        if outcome.replayed:
            assert after == before, f"a repeated {move.action} wrote events {before}→{after}"
            stats.replayed += 1
            return outcome
        assert after is not None and after > (before or 0), f"{move.action} succeeded but wrote nothing"
        stats.done[move.action] += 1
        if move.sub.key is not None:
            last_keyed = move
        return outcome

    while len(stats.raised) < shape.calls or live:
        advance(clock, rng, shape.pace)
        if last_keyed is not None and planner.chance(shape.repeat):
            again = last_keyed
            if rng.random() < 0.5:
                again = replace(again, sub=replace(again.sub, fingerprint="another body"))
            play(again)
        elif len(live) < shape.concurrency and len(stats.raised) < shape.calls:
            outcome = play(planner.raise_move(clock.now()))
            if outcome is not None and not outcome.replayed:
                live[outcome.call.id] = outcome.call
                stats.raised.append(outcome.call.id)
        elif gone and planner.chance(shape.dead_call):
            call = app.repository.get(rng.choice(gone))
            move = planner._move(rng.choice(ACTIONS), call, clock.now(), list(live.values()), None)
            play(move)
        else:
            call = live[rng.choice(list(live))]
            move = planner.next_move(call, clock.now(), list(live.values()))
            steps[call.id] += 1
            if move is None or steps[call.id] > shape.max_steps:
                del live[call.id]
                gone.append(call.id)
            else:
                outcome = play(move)
                if outcome is not None and not outcome.replayed and outcome.call.id in live:
                    live[outcome.call.id] = outcome.call
                    if outcome.call.status in TERMINAL:
                        del live[outcome.call.id]
                        gone.append(outcome.call.id)
        if between is not None:
            between()
    return stats


# --- a whole history straight into the store, many calls per transaction -------------------------


def write_in_batches(
    services: Services,
    clock: FakeClock,
    rng: random.Random,
    shape: Shape,
    *,
    per_save: int = 500,
    on_saved: Callable[[int], None] | None = None,
) -> int:
    """Play a history through the application's commands, storing about ``per_save`` events at a
    time (``BatchedSaves``). Returns how many events were written; ``on_saved(total)`` runs after
    each transaction."""
    app = services.app
    planner = Planner(app.org, sorted(app.catalog.items), rng, shape)
    live: dict[UUID, Call] = {}
    steps: Counter[UUID] = Counter()
    raised = 0
    with BatchedSaves(app) as batch:
        while raised < shape.calls or live:
            advance(clock, rng, shape.pace)
            if len(live) < shape.concurrency and raised < shape.calls:
                call = execute(services, planner.raise_move(clock.now())).call
                raised += 1
                live[call.id] = call
            else:
                call = live[rng.choice(list(live))]
                move = planner.next_move(call, clock.now(), list(live.values()))
                steps[call.id] += 1
                if move is not None and steps[call.id] <= shape.max_steps:
                    with suppress(DomainError):  # e.g. a merge into a call that has meanwhile closed
                        execute(services, move)
                if move is None or steps[call.id] > shape.max_steps or call.status in TERMINAL:
                    del live[call.id]
                    batch.retire(call.id)
            if batch.pending >= per_save:
                batch.flush()
                if on_saved is not None:
                    on_saved(batch.written)
        written = batch.flush()
    if on_saved is not None:
        on_saved(written)
    return written
