"""A small builder that drives a Call aggregate into any state of its life, with no I/O.

``Story`` keeps the call, its business clock (one hour per step unless told otherwise) and the
ids of the work orders it dispatched; ``build(state)`` replays a named recipe from ``RECIPES``.
The call is raised in grid LW-LN-01-G01 of community LW-LN-01 of street LW-LN (岭南街道), and
dispatched to 城管 (CG, lead) with 住建 (ZJ) assisting.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from huying.domain.call import Call
from huying.domain.commands import Command, OrderSpec
from huying.domain.levels import Level
from huying.domain.principal import SYSTEM, Principal, Role
from huying.domain.states import OrderRole, Satisfaction

# Monday 23 November 2026, 09:00 in Guangzhou.
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
STEP = timedelta(hours=1)

GRID = "LW-LN-01-G01"
COMMUNITY = "LW-LN-01"
STREET = "LW-LN"
LEAD_DEPARTMENT = "CG"
ASSIST_DEPARTMENT = "ZJ"

# Everyone who might try to act, by the name the tests use for them.
PRINCIPALS: dict[str, Principal] = {
    "community": Principal(Role.COMMUNITY, COMMUNITY),  # the origin (and, at community level, holder)
    "other community": Principal(Role.COMMUNITY, "LW-LN-02"),
    "grid worker": Principal(Role.GRID_WORKER, GRID),
    "other grid worker": Principal(Role.GRID_WORKER, "LW-LN-01-G02"),
    "street": Principal(Role.STREET, STREET),  # the call's street (the holder once called up)
    "other street": Principal(Role.STREET, "LW-DB"),
    "department": Principal(Role.DEPARTMENT, LEAD_DEPARTMENT),  # the lead order's department
    "assist department": Principal(Role.DEPARTMENT, ASSIST_DEPARTMENT),
    "other department": Principal(Role.DEPARTMENT, "SW"),
    "supervisor": Principal(Role.SUPERVISOR, "LW"),
    "auditor": Principal(Role.AUDITOR, "LW"),
    "admin": Principal(Role.ADMIN, "LW"),
    "system": SYSTEM,
}
P = PRINCIPALS


def raise_call(cmd: Command | None = None, **overrides: Any) -> Call:
    """群众有呼: a fresh call in GRID, raised by the grid worker at T0 unless ``cmd`` says otherwise."""
    raised: dict[str, Any] = {
        "item_code": "C01-01",
        "catalog_version": "2026.1",
        "sla": {},
        "grid_code": GRID,
        "community_code": COMMUNITY,
        "street_code": STREET,
        "title": "垃圾堆积",
        "description": "十三行路口垃圾三天无人清运",
        "channel": "grid_worker",
        "urgency": "normal",
        "occurred_at": None,
        "location": None,
        "reporter_ref": None,
        "attachments": [],
    }
    raised.update(overrides)
    return Call.raise_call(cmd or Command(P["grid worker"], T0), call_id=uuid4(), **raised)


@dataclass
class Story:
    """One call driven through its life by the parties the table names."""

    call: Call = field(default_factory=raise_call)
    now: datetime = T0
    lead: str | None = None
    assist: str | None = None
    dispatches: list[list[str]] = field(default_factory=list)
    keyed: bool = False  # send an Idempotency-Key (and body fingerprint) with every command
    sent: int = 0

    def cmd(self, who: str | Principal, later: timedelta = STEP, **kw: Any) -> Command:
        """A command from ``who`` at the next tick of the business clock."""
        self.now += later
        self.sent += 1
        principal = P[who] if isinstance(who, str) else who
        if self.keyed:
            kw.setdefault("idempotency_key", f"key-{self.sent}")
            kw.setdefault("fingerprint", f"body-{self.sent}")
        return Command(principal, self.now, **kw)

    @property
    def holder(self) -> str:
        return "community" if self.call.level is Level.COMMUNITY else "street"

    # --- community and street ----------------------------------------------------------------

    def acknowledge(self) -> Story:
        self.call.acknowledge(self.cmd(self.holder))
        return self

    def escalate(self) -> Story:
        self.call.escalate(self.cmd("community"), reason="社区无执法权，需街道统筹")
        return self

    def dispatch(self, assist: bool = True) -> Story:
        deadline = self.now + timedelta(days=5)
        specs = [OrderSpec(LEAD_DEPARTMENT, OrderRole.LEAD, deadline, "当日清运并消杀")]
        if assist:
            specs.append(OrderSpec(ASSIST_DEPARTMENT, OrderRole.ASSIST, deadline, "督促物业配合"))
        before = set(self.call.work_orders)
        self.call.dispatch(self.cmd("street"), specs)
        new = [o for o in self.call.work_orders if o not in before]
        self.dispatches.append(new)
        self.lead = new[0]
        self.assist = new[1] if assist else None
        return self

    # --- departments -------------------------------------------------------------------------

    def _dept(self, which: str) -> tuple[str, str]:
        if which == "lead":
            assert self.lead is not None
            return "department", self.lead
        assert self.assist is not None
        return "assist department", self.assist

    def sign(self, which: str = "lead") -> Story:
        who, order = self._dept(which)
        self.call.sign(self.cmd(who), order)
        return self

    def return_order(self, which: str = "lead") -> Story:
        who, order = self._dept(which)
        self.call.return_order(self.cmd(who), order, reason="不属本部门职责")
        return self

    def request_extension(self, which: str = "lead", days: int = 10) -> Story:
        who, order = self._dept(which)
        until = self.call.work_orders[order].deadline + timedelta(days=days)
        self.call.request_extension(self.cmd(who), order, until=until, reason="需协调产权单位")
        return self

    def complete(self, which: str = "lead") -> Story:
        who, order = self._dept(which)
        self.call.complete_order(self.cmd(who), order, result="已清运并消杀")
        return self

    # --- closing the loop --------------------------------------------------------------------

    def resolve(self) -> Story:
        self.call.resolve(self.cmd(self.holder), summary="已处理完毕")
        return self

    def evaluate(self, satisfaction: Satisfaction = Satisfaction.SATISFIED) -> Story:
        solved = satisfaction is not Satisfaction.DISSATISFIED
        self.call.evaluate(self.cmd("community"), contacted=True, solved=solved, satisfaction=satisfaction)
        return self

    def dissatisfied(self) -> Story:
        return self.evaluate(Satisfaction.DISSATISFIED)

    def reopen(self) -> Story:
        self.call.reopen(self.cmd("community"), reason="居民反映问题依旧")
        return self

    def close(self) -> Story:
        self.call.close(self.cmd("community"))
        return self

    def withdraw(self) -> Story:
        self.call.withdraw(self.cmd("grid worker"), reason="居民已自行解决")
        return self

    def merge(self) -> Story:
        self.call.merge_into(
            self.cmd(self.holder), raise_call(Command(P["grid worker"], self.now)), reason="同一事项重复上报"
        )
        return self

    def supervise(self) -> Story:
        self.call.supervise(self.cmd("supervisor"), reason="超时未响应")
        return self

    # --- checking ----------------------------------------------------------------------------

    def replayed(self) -> Call:
        """The call rebuilt from its events alone (collects the pending ones)."""
        return replay(self.call.collect_events())


def replay(events: Iterable[Any]) -> Call:
    call: Call = functools.reduce(lambda agg, e: e.mutate(agg), events, None)
    return call


def state_of(call: Call) -> dict[str, Any]:
    """Everything the call holds, for comparing a call with its replay."""
    return {k: v for k, v in vars(call).items() if k != "_pending_events"}


_STREET = ("escalate", "acknowledge")
_DISPATCHED = (*_STREET, "dispatch")
_SIGNED = (*_DISPATCHED, "sign", "sign assist")
_COMPLETED = (*_SIGNED, "complete")

# Each reachable state, by name, as the steps that lead there from a raised call.
RECIPES: dict[str, tuple[str, ...]] = {
    # community level
    "raised": (),
    "supervised": ("supervise",),
    "acknowledged": ("acknowledge",),
    "resolved at community": ("acknowledge", "resolve"),
    "satisfied at community": ("acknowledge", "resolve", "evaluate"),
    "dissatisfied at community": ("acknowledge", "resolve", "dissatisfied"),
    "reopened at community": ("acknowledge", "resolve", "dissatisfied", "reopen"),
    "closed at community": ("acknowledge", "resolve", "evaluate", "close"),
    "withdrawn at community": ("withdraw",),
    "merged at community": ("acknowledge", "merge"),
    # street level
    "escalated": ("escalate",),
    "street acknowledged": _STREET,
    "resolved at street": (*_STREET, "resolve"),
    "dissatisfied at street": (*_STREET, "resolve", "dissatisfied"),
    "reopened at street": (*_STREET, "resolve", "dissatisfied", "reopen"),
    "withdrawn at street": (*_STREET, "withdraw"),
    # department level
    "dispatched": _DISPATCHED,
    "signed": _SIGNED,
    "extension pending": (*_SIGNED, "request extension"),
    "completed": _COMPLETED,
    "completed with extension pending": (*_SIGNED, "request extension", "complete"),
    "returned": (*_DISPATCHED, "return"),
    "assist returned": (*_DISPATCHED, "return assist"),
    "redispatched": (*_DISPATCHED, "return", "dispatch"),
    "resolved at department": (*_COMPLETED, "resolve"),
    "satisfied at department": (*_COMPLETED, "resolve", "evaluate"),
    "dissatisfied at department": (*_COMPLETED, "resolve", "dissatisfied"),
    "reopened from department": (*_COMPLETED, "resolve", "dissatisfied", "reopen"),
    "closed at department": (*_COMPLETED, "resolve", "evaluate", "close"),
    "withdrawn while dispatched": (*_SIGNED, "withdraw"),
    "merged while dispatched": (*_SIGNED, "merge"),
    "supervised while dispatched": (*_DISPATCHED, "supervise"),
}

_STEPS = {
    "acknowledge": Story.acknowledge,
    "escalate": Story.escalate,
    "dispatch": Story.dispatch,
    "sign": Story.sign,
    "sign assist": lambda s: s.sign("assist"),
    "request extension": Story.request_extension,
    "complete": Story.complete,
    "return": Story.return_order,
    "return assist": lambda s: s.return_order("assist"),
    "resolve": Story.resolve,
    "evaluate": Story.evaluate,
    "dissatisfied": Story.dissatisfied,
    "reopen": Story.reopen,
    "close": Story.close,
    "withdraw": Story.withdraw,
    "merge": Story.merge,
    "supervise": Story.supervise,
}


def build(state: str, keyed: bool = False) -> Story:
    """A story whose call has just reached ``state`` (a key of ``RECIPES``)."""
    story = Story(keyed=keyed)
    if keyed:
        story.call = raise_call(story.cmd("grid worker", later=timedelta(0)))
    for step in RECIPES[state]:
        _STEPS[step](story)
    return story
