"""A small HTTP driver for the end-to-end tests: raise a call and drive it, through the real
endpoints only, into any named state of its life.

Every state is a recipe — the state it starts from and one step — plus the facts the call must
show once there. The driver checks those facts on arrival, so a test that starts "given a call
in state X" knows it really is in state X.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from httpx import Client, Response

GRID = "LW-LN-01-G01"
COMMUNITY = "LW-LN-01"
STREET = "LW-LN"
LEAD = "CG"
ASSIST = "ZJ"
ITEM = "C01-01"  # 垃圾堆积

Who = tuple[str, str]  # (role, unit)


class TokenSource(Protocol):
    def headers(self, role: str, unit: str, key: str | None = None, **extra: str) -> dict[str, str]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class Place:
    """Where a call sits in the org: its grid, and (derived by code) community and street."""

    grid: str = GRID

    @property
    def community(self) -> str:
        return self.grid.rsplit("-", 1)[0]

    @property
    def street(self) -> str:
        return self.community.rsplit("-", 1)[0]

    @property
    def grid_worker(self) -> Who:
        return ("grid_worker", self.grid)

    @property
    def community_staff(self) -> Who:
        return ("community", self.community)

    @property
    def street_staff(self) -> Who:
        return ("street", self.street)


SUPERVISOR: Who = ("supervisor", "LW")
LEAD_DEPARTMENT: Who = ("department", LEAD)


@dataclass(frozen=True)
class OrderFacts:
    """What a work order must show: its department, role, status, and a pending extension?"""

    department: str
    role: str
    status: str
    extension_pending: bool = False


@dataclass(frozen=True)
class Facts:
    """What a call in a named state must show. ``holder`` is "community" or "street" (resolved
    against the call's place); ``orders`` is keyed by work-order number (1 = ``-w1``)."""

    status: str
    level: str
    holder: str
    round: int = 1
    orders: dict[int, OrderFacts] = field(default_factory=dict)
    satisfaction: str | None = None
    supervised: int = 0

    def holder_unit(self, place: Place) -> str:
        return place.community if self.holder == "community" else place.street

    @property
    def departments(self) -> frozenset[str]:
        """Departments that hold or held an order: the ones that may see the call."""
        return frozenset(o.department for o in self.orders.values())


@dataclass
class Driven:
    """A call the driver has brought somewhere: its id, place, latest body and the facts."""

    id: str
    place: Place
    call: dict[str, Any]
    state: str = "awaiting_response"
    facts: Facts | None = None

    def order_id(self, number: int = 1) -> str:
        return f"{self.id}-w{number}"

    @property
    def version(self) -> int:
        return int(self.call["version"])


Step = Callable[["Driver", Driven], dict[str, Any]]


@dataclass(frozen=True)
class Recipe:
    after: str | None
    step: Step
    facts: Facts


def _order(status: str, ext: bool = False) -> OrderFacts:
    return OrderFacts(LEAD, "lead", status, ext)


def _assist(status: str = "dispatched") -> OrderFacts:
    return OrderFacts(ASSIST, "assist", status)


def _dispatched(lead: str, ext: bool = False) -> dict[int, OrderFacts]:
    return {1: _order(lead, ext), 2: _assist()}


RECIPES: dict[str, Recipe] = {
    "awaiting_response": Recipe(
        None,
        lambda d, c: c.call,
        Facts("awaiting_response", "community", "community"),
    ),
    "in_progress": Recipe(
        "awaiting_response",
        lambda d, c: d.acknowledge(c, c.place.community_staff),
        Facts("in_progress", "community", "community"),
    ),
    "escalated": Recipe(
        "awaiting_response",
        lambda d, c: d.escalate(c),
        Facts("awaiting_response", "street", "street"),
    ),
    "street_in_progress": Recipe(
        "escalated",
        lambda d, c: d.acknowledge(c, c.place.street_staff),
        Facts("in_progress", "street", "street"),
    ),
    "dispatched": Recipe(
        "street_in_progress",
        lambda d, c: d.dispatch(c),
        Facts("dispatched", "department", "street", orders=_dispatched("dispatched")),
    ),
    "signed": Recipe(
        "dispatched",
        lambda d, c: d.on_order(c, "sign"),
        Facts("dispatched", "department", "street", orders=_dispatched("signed")),
    ),
    "extension_pending": Recipe(
        "signed",
        lambda d, c: d.request_extension(c),
        Facts("dispatched", "department", "street", orders=_dispatched("signed", ext=True)),
    ),
    "completed": Recipe(
        "signed",
        lambda d, c: d.on_order(c, "complete", {"result": "已清运完毕"}),
        Facts("dispatched", "department", "street", orders=_dispatched("completed")),
    ),
    "completed_after_extension_request": Recipe(
        "extension_pending",
        lambda d, c: d.on_order(c, "complete", {"result": "已清运完毕"}),
        # The request pending when the order finished ends with it.
        Facts("dispatched", "department", "street", orders=_dispatched("completed")),
    ),
    "returned": Recipe(
        "dispatched",
        lambda d, c: d.on_order(c, "return", {"reason": "不属本部门职责"}),
        Facts("returned", "department", "street", orders=_dispatched("returned")),
    ),
    "resolved_community": Recipe(
        "in_progress",
        lambda d, c: d.resolve(c, c.place.community_staff),
        Facts("resolved", "community", "community"),
    ),
    "resolved_department": Recipe(
        "completed",
        lambda d, c: d.resolve(c, c.place.street_staff),
        Facts("resolved", "department", "street", orders={1: _order("completed"), 2: _assist("cancelled")}),
    ),
    "evaluated_satisfied": Recipe(
        "resolved_community",
        lambda d, c: d.evaluate(c, "satisfied"),
        Facts("evaluated", "community", "community", satisfaction="satisfied"),
    ),
    "evaluated_dissatisfied": Recipe(
        "resolved_community",
        lambda d, c: d.evaluate(c, "dissatisfied"),
        Facts("evaluated", "community", "community", satisfaction="dissatisfied"),
    ),
    "reopened": Recipe(
        "evaluated_dissatisfied",
        lambda d, c: d.act(c, "reopen", c.place.community_staff, {"reason": "居民反映仍有垃圾"}),
        Facts("in_progress", "community", "community", round=2, satisfaction="dissatisfied"),
    ),
    "closed": Recipe(
        "evaluated_satisfied",
        lambda d, c: d.act(c, "close", c.place.community_staff, {"note": "销号"}),
        Facts("closed", "community", "community", satisfaction="satisfied"),
    ),
    "withdrawn": Recipe(
        "awaiting_response",
        lambda d, c: d.act(c, "withdraw", c.place.grid_worker, {"reason": "居民已自行处理"}),
        Facts("withdrawn", "community", "community"),
    ),
    "withdrawn_after_dispatch": Recipe(
        "dispatched",
        lambda d, c: d.act(c, "withdraw", c.place.community_staff, {"reason": "居民撤回诉求"}),
        Facts("withdrawn", "department", "street", orders={1: _order("cancelled"), 2: _assist("cancelled")}),
    ),
    "merged": Recipe(
        "awaiting_response",
        lambda d, c: d.merge(c),
        Facts("merged", "community", "community"),
    ),
    "supervised": Recipe(
        "awaiting_response",
        lambda d, c: d.act(c, "supervise", SUPERVISOR, {"reason": "超时未响应"}),
        Facts("awaiting_response", "community", "community", supervised=1),
    ),
}

STATES: tuple[str, ...] = tuple(RECIPES)


class Driver:
    """Raises calls and moves them along, as the principals the transition table names."""

    def __init__(self, client: Client, tokens: TokenSource, clock: Clock) -> None:
        self.client = client
        self.tokens = tokens
        self.clock = clock

    # --- plain HTTP ------------------------------------------------------------------------

    def post(
        self,
        path: str,
        who: Who,
        body: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        expect: int | None = 200,
        **headers: str,
    ) -> Response:
        response = self.client.post(path, json=body, headers=self.tokens.headers(*who, key=key, **headers))
        if expect is not None:
            assert response.status_code == expect, f"POST {path} as {who}: {response.text}"
        return response

    def get(self, path: str, who: Who = SUPERVISOR, *, expect: int | None = 200) -> Response:
        response = self.client.get(path, headers=self.tokens.headers(*who))
        if expect is not None:
            assert response.status_code == expect, f"GET {path} as {who}: {response.text}"
        return response

    def read(self, call_id: str) -> dict[str, Any]:
        body: dict[str, Any] = self.get(f"/api/v1/calls/{call_id}").json()
        return body

    # --- commands --------------------------------------------------------------------------

    def raise_call(
        self, place: Place | None = None, who: Who | None = None, key: str | None = None, **fields: Any
    ) -> Driven:
        place = place or Place()
        body = {
            "item_code": ITEM,
            "grid_code": place.grid,
            "title": "十三行路口垃圾堆积",
            "description": "垃圾堆放超过24小时无人清运",
            "channel": "grid_worker",
            **fields,
        }
        response = self.post("/api/v1/calls", who or place.grid_worker, body, key=key, expect=201)
        call = response.json()
        return Driven(call["id"], place, call)

    def act(
        self, c: Driven, action: str, who: Who, body: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        call: dict[str, Any] = self.post(f"/api/v1/calls/{c.id}/{action}", who, body, **kw).json()
        return call

    def on_order(
        self,
        c: Driven,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        number: int = 1,
        who: Who = LEAD_DEPARTMENT,
        **kw: Any,
    ) -> dict[str, Any]:
        call: dict[str, Any] = self.post(
            f"/api/v1/work-orders/{c.order_id(number)}/{action}", who, body, **kw
        ).json()
        return call

    def acknowledge(self, c: Driven, who: Who) -> dict[str, Any]:
        return self.act(c, "acknowledge", who, {"note": "已响应"})

    def escalate(self, c: Driven) -> dict[str, Any]:
        return self.act(c, "escalate", c.place.community_staff, {"reason": "社区无法协调，需街道统筹"})

    def dispatch_body(
        self, days: float = 3, lead: str = LEAD, assist: tuple[str, ...] = (ASSIST,)
    ) -> dict[str, Any]:
        return {
            "lead_department": lead,
            "assisting_departments": list(assist),
            "deadline": (self.clock.now() + timedelta(days=days)).isoformat(),
            "instructions": "三日内清运并冲洗消杀",
        }

    def dispatch(self, c: Driven, **kw: Any) -> dict[str, Any]:
        return self.act(c, "dispatch", c.place.street_staff, self.dispatch_body(), **kw)

    def request_extension(self, c: Driven, number: int = 1, days: float = 2) -> dict[str, Any]:
        order = next(o for o in c.call["work_orders"] if o["id"] == c.order_id(number))
        until = datetime.fromisoformat(order["deadline"]) + timedelta(days=days)
        return self.on_order(
            c, "request-extension", {"until": until.isoformat(), "reason": "需协调物业"}, number=number
        )

    def resolve(self, c: Driven, who: Who) -> dict[str, Any]:
        return self.act(c, "resolve", who, {"summary": "已清运并冲洗"})

    def evaluate(self, c: Driven, satisfaction: str, who: Who | None = None) -> dict[str, Any]:
        body = {"contacted": True, "solved": satisfaction != "dissatisfied", "satisfaction": satisfaction}
        return self.act(c, "evaluate", who or c.place.community_staff, body)

    def merge(self, c: Driven, into: str | None = None) -> dict[str, Any]:
        target = into or self.raise_call(c.place).id
        return self.act(c, "merge", c.place.community_staff, {"into": target, "reason": "同一事项重复上报"})

    # --- into a named state ------------------------------------------------------------------

    def drive(self, state: str, place: Place | None = None) -> Driven:
        """A fresh call, raised by the grid's grid worker and brought into ``state``."""
        if state not in RECIPES:
            raise KeyError(f"no recipe for state {state!r}; known: {', '.join(STATES)}")
        path = [state]
        while (before := RECIPES[path[-1]].after) is not None:
            path.append(before)
        c = self.raise_call(place)
        for name in reversed(path):
            c.call = RECIPES[name].step(self, c)
            c.state = name
        c.facts = RECIPES[state].facts
        self.check(c, c.facts)
        return c

    def check(self, c: Driven, facts: Facts) -> None:
        """The call shows the facts of its state (read fresh, as a supervisor)."""
        call = self.read(c.id)
        seen = {
            "status": call["status"],
            "level": call["level"],
            "holder": call["holder"],
            "round": call["round"],
            "supervised": call["supervised"],
            "satisfaction": (call["evaluation"] or {}).get("satisfaction"),
            "orders": {
                o["id"]: (o["department_code"], o["role"], o["status"], o["extension"] is not None)
                for o in call["work_orders"]
            },
        }
        wanted = {
            "status": facts.status,
            "level": facts.level,
            "holder": facts.holder_unit(c.place),
            "round": facts.round,
            "supervised": facts.supervised,
            "satisfaction": facts.satisfaction,
            "orders": {
                c.order_id(n): (o.department, o.role, o.status, o.extension_pending)
                for n, o in facts.orders.items()
            },
        }
        assert seen == wanted, f"call {c.id} in state {c.state}"
        c.call = call
