"""The authorisation matrix, over HTTP: every action of the transition table × every role, in
its own and another jurisdiction, × the states a call passes through.

The expected status comes from an oracle written here from the contract (api.md, domain.md):
visibility → 404, the table's ``who`` → 403, the "allowed when" column → 409, else 200. Only
*which parties may act* is read from ``TABLE``; which parties a principal *is*, what it may
see and what each state allows are worked out here independently, so a bug in huying's own
``parties()``, ``can_see()`` or guards shows up as a mismatch.

A refusal writes nothing, so refused cases share one call per state; every case the oracle
expects to succeed gets a fresh call of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import Response

from backends import Backend
from huying.domain.transitions import TABLE, Action, Party

from .driver import RECIPES, STATES, Driven, Driver, Facts, OrderFacts, Place
from .matrix import PROBLEM_TYPE, Asker, module_huying

MONDAY_MORNING = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
PLACE = Place()  # every call of the matrix: grid LW-LN-01-G01, community LW-LN-01, street LW-LN
TERMINAL = {"closed", "withdrawn", "merged"}


# --- who asks ------------------------------------------------------------------------------


ASKERS = (
    Asker("grid_worker", "LW-LN-01-G01", "the call's grid"),
    Asker("grid_worker", "LW-LN-01-G02", "another grid of the same community"),
    Asker("grid_worker", "LW-LN-02-G01", "a grid of another community of the same street"),
    Asker("grid_worker", "LW-HL-01-G01", "a grid of another street"),
    Asker("community", "LW-LN-01", "the origin community"),
    Asker("community", "LW-LN-02", "another community of the same street"),
    Asker("community", "LW-HL-01", "a community of another street"),
    Asker("street", "LW-LN", "the call's street"),
    Asker("street", "LW-HL", "another street"),
    Asker("department", "CG", "holds the lead order once dispatched"),
    Asker("department", "ZJ", "holds the assisting order once dispatched"),
    Asker("department", "SW", "never holds an order on the call"),
    Asker("supervisor", "LW", "district"),
    Asker("auditor", "LW", "district"),
    Asker("admin", "LW", "district"),
)


# --- the oracle, from the contract ---------------------------------------------------------

# The endpoints under /api/v1/work-orders/{id}/ (api.md, Resources); all the others are calls'.
ORDER_ACTIONS = frozenset(
    {
        Action.SIGN,
        Action.RETURN,
        Action.REQUEST_EXTENSION,
        Action.PROGRESS,
        Action.COMPLETE,
        Action.GRANT_EXTENSION,
        Action.DENY_EXTENSION,
    }
)
TARGET_ORDER = 1  # work-order actions aim at the lead order, <call>-w1


RECIPE_FACTS = {name: recipe.facts for name, recipe in RECIPES.items()}
MERGE_TARGET = Facts("awaiting_response", "community", "community")  # a fresh call, same grid


def community_of(grid: str) -> str:
    return grid.rsplit("-", 1)[0]


def street_of(community: str) -> str:
    return community.rsplit("-", 1)[0]


def sees(asker: Asker, place: Place, facts: Facts) -> bool:
    """api.md, Jurisdiction: grid workers and communities their community's calls, streets
    their communities', departments the calls they hold or held an order on, the rest all."""
    if asker.role == "grid_worker":
        return community_of(asker.unit) == place.community
    if asker.role == "community":
        return asker.unit == place.community
    if asker.role == "street":
        return asker.unit == street_of(place.community)
    if asker.role == "department":
        return asker.unit in facts.departments
    return asker.role in {"supervisor", "auditor", "admin"}


def is_parties(asker: Asker, place: Place, facts: Facts, order: OrderFacts | None) -> set[Party]:
    """Which of the table's named parties this asker is, for this call right now (domain.md)."""
    found: set[Party] = set()
    holder = facts.holder_unit(place)
    if asker.role == "community" and asker.unit == holder and facts.level == "community":
        found.add(Party.HOLDER_COMMUNITY)
    if asker.role == "street" and asker.unit == holder and facts.level in {"street", "department"}:
        found.add(Party.HOLDER_STREET)
    if asker.role == "grid_worker" and asker.unit == place.grid:
        found.add(Party.GRID_WORKER_OF_GRID)
    if asker.role == "community" and asker.unit == place.community:
        found.add(Party.ORIGIN_COMMUNITY)
    if asker.role == "supervisor":
        found.add(Party.SUPERVISOR)
    if asker.role == "department" and order is not None and asker.unit == order.department:
        found.add(Party.ORDER_DEPARTMENT)
    return found  # auditors and admins are none of them: they take no call actions


def state_forbids(action: Action, facts: Facts, order: OrderFacts | None) -> bool:
    """domain.md's "allowed when" column, read for a call and (for order actions) its order."""
    status, level = facts.status, facts.level
    orders_active = status in {"dispatched", "returned"}
    lead = facts.orders.get(1)
    match action:
        case Action.ACKNOWLEDGE:
            return status != "awaiting_response"
        case Action.ESCALATE:
            return not (level == "community" and status in {"awaiting_response", "in_progress"})
        case Action.DISPATCH:
            return not (status == "returned" or (level == "street" and status == "in_progress"))
        case Action.RESOLVE:
            in_hand = status == "in_progress" and level in {"community", "street"}
            lead_done = status == "dispatched" and lead is not None and lead.status == "completed"
            return not (in_hand or lead_done)
        case Action.EVALUATE:
            return status != "resolved"
        case Action.REOPEN:
            return not (status == "evaluated" and facts.satisfaction == "dissatisfied")
        case Action.CLOSE:
            return status != "evaluated"
        case Action.WITHDRAW:
            return status not in {"awaiting_response", "in_progress", "dispatched", "returned"}
        case Action.MERGE | Action.SUPERVISE:
            return status in TERMINAL
    assert order is not None
    if not orders_active:
        return True
    match action:
        case Action.SIGN:
            return order.status != "dispatched"
        case Action.RETURN:
            return order.status not in {"dispatched", "signed"}
        case Action.REQUEST_EXTENSION:
            return order.status != "signed" or order.extension_pending
        case Action.PROGRESS | Action.COMPLETE:
            return order.status != "signed"
        case Action.GRANT_EXTENSION | Action.DENY_EXTENSION:
            # A finished order (completed, returned, cancelled) takes no extension decisions.
            return order.status != "signed" or not order.extension_pending
    raise AssertionError(f"no rule for {action}")


def expected_status(action: Action, asker: Asker, state: str) -> int:
    """401 → 422 → 404 → 403 → 409 → 200, as the contract orders them."""
    if action is Action.RAISE:
        fresh = Facts("awaiting_response", "community", "community")
        return 201 if TABLE[action].who & is_parties(asker, PLACE, fresh, None) else 403
    facts = RECIPE_FACTS[state]
    if action is Action.MERGE and not sees(asker, PLACE, MERGE_TARGET):
        return 422  # the target must be visible to whoever merges (domain.md), and 422 comes first
    if not sees(asker, PLACE, facts):
        return 404
    order = facts.orders.get(TARGET_ORDER) if action in ORDER_ACTIONS else None
    if action in ORDER_ACTIONS and order is None:
        return 404  # no such work order
    if not TABLE[action].who & is_parties(asker, PLACE, facts, order):
        return 403
    if state_forbids(action, facts, order):
        return 409
    return 200


# --- the cases ------------------------------------------------------------------------------

# Work-order actions in every state that has orders, and in two that have none.
ORDER_STATES = (*(s for s in STATES if RECIPE_FACTS[s].orders), "awaiting_response", "closed")


@dataclass(frozen=True)
class Case:
    action: Action
    state: str
    asker: Asker
    expected: int

    @property
    def id(self) -> str:
        where = "" if self.action is Action.RAISE else f"-{self.state}"
        return f"{self.action.value.replace('/', '-')}{where}-{self.asker}={self.expected}"


# Put on a joint meeting's agenda (难题自下而上提交) has no path of its own on the call: it is
# POST /api/v1/meetings/{id}/agenda/calls, tried with the meeting's own table in
# tests/unit/test_meeting_matrix.py and by the call's table in tests/unit/test_call_transitions.py.
# The callers' ratings (一呼一评 by the caller) are POST …/rating, tried state by state in
# tests/unit/test_caller_ratings.py, over HTTP in tests/e2e/test_ratings.py, and asked by every
# principal in tests/e2e/test_authorisation_matrix_scores.py.
BY_ANOTHER_PATH = frozenset({Action.PUT_ON_AGENDA, Action.RATE_WORK_ORDER, Action.RATE_RESPONSE})


def _cases() -> list[Case]:
    cases = []
    for action in TABLE:
        if action in BY_ANOTHER_PATH:
            continue
        if action is Action.RAISE:
            states: tuple[str, ...] = ("new",)
        elif action in ORDER_ACTIONS:
            states = ORDER_STATES
        else:
            states = STATES
        for state in states:
            for asker in ASKERS:
                cases.append(Case(action, state, asker, expected_status(action, asker, state)))
    return cases


CASES = _cases()


# --- one app for the whole module ----------------------------------------------------------


class World:
    """The module's huying, a driver, and one untouched call per state for refused cases."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self._shared: dict[str, Driven] = {}
        self._last_use: dict[str, Action] = {}
        self._merge_target: str | None = None

    def call_in(self, state: str, action: Action, *, fresh: bool) -> Driven:
        if fresh:
            return self.driver.drive(state, PLACE)
        if state not in self._shared:
            self._shared[state] = self.driver.drive(state, PLACE)
        elif self._last_use.get(state) is not action:
            self.assert_untouched(state)
        self._last_use[state] = action
        return self._shared[state]

    def assert_untouched(self, state: str) -> None:
        """The shared call is still at the version it was driven to: the refusals tried on it
        since (one action's worth of them) wrote nothing."""
        c = self._shared[state]
        version = self.driver.read(c.id)["version"]
        tried = self._last_use.get(state)
        assert version == c.version, f"refusing {tried} on the shared {state} call wrote an event"

    def spoilt(self, state: str) -> None:
        """A shared call was changed (a case succeeded that should not have): retire it."""
        self._shared.pop(state, None)

    @property
    def merge_target(self) -> str:
        if self._merge_target is None:
            self._merge_target = self.driver.raise_call(PLACE).id
        return self._merge_target

    def body(self, action: Action, c: Driven | None) -> dict[str, Any] | None:
        d = self.driver
        match action:
            case Action.RAISE:
                return {
                    "item_code": "C01-01",
                    "grid_code": PLACE.grid,
                    "title": "垃圾堆积",
                    "description": "楼道垃圾无人清运",
                    "channel": "hotline",
                }
            case Action.DISPATCH:
                return d.dispatch_body()
            case Action.EVALUATE:
                return {"contacted": True, "solved": True, "satisfaction": "satisfied"}
            case Action.MERGE:
                return {"into": self.merge_target, "reason": "重复上报"}
            case Action.REQUEST_EXTENSION:
                assert c is not None
                deadlines = [o["deadline"] for o in c.call["work_orders"] if o["id"] == c.order_id()]
                start = datetime.fromisoformat(deadlines[0]) if deadlines else d.clock.now()
                return {"until": (start + timedelta(days=2)).isoformat(), "reason": "需协调物业"}
            case Action.RESOLVE:
                return {"summary": "已处理"}
            case Action.COMPLETE:
                return {"result": "已办结"}
            case Action.PROGRESS:
                return {"note": "正在处理"}
            case Action.ACKNOWLEDGE | Action.SIGN | Action.CLOSE | Action.GRANT_EXTENSION:
                return {"note": "收到"}
        return {"reason": "依规办理"}

    def attempt(self, case: Case, c: Driven | None) -> Response:
        who = (case.asker.role, case.asker.unit)
        body = self.body(case.action, c)
        if case.action is Action.RAISE:
            path = "/api/v1/calls"
        elif case.action in ORDER_ACTIONS:
            assert c is not None
            path = f"/api/v1/work-orders/{c.order_id(TARGET_ORDER)}/{case.action.value}"
        else:
            assert c is not None
            path = f"/api/v1/calls/{c.id}/{case.action.value}"
        return self.driver.post(path, who, body, expect=None)


@pytest.fixture(scope="module")
def world(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with module_huying(backend, tmp_path_factory, MONDAY_MORNING) as h:
        yield World(Driver(h.client, h.tokens, h.clock))


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_principal_gets_exactly_what_the_contract_says(world: World, case: Case) -> None:
    succeeds = case.expected in (200, 201)
    c = None if case.action is Action.RAISE else world.call_in(case.state, case.action, fresh=succeeds)
    response = world.attempt(case, c)

    if response.is_success and not succeeds:
        world.spoilt(case.state)
    assert response.status_code == case.expected, (
        f"{case.asker.role} of {case.asker.unit} ({case.asker.relation}) tried {case.action.value} "
        f"on a call in state {case.state}: expected {case.expected}, got {response.status_code} "
        f"{response.text}"
    )
    if succeeds:
        call = response.json()
        history = world.driver.get(f"/api/v1/calls/{call['id']}/history").json()["data"]
        assert history[-1]["type"] == TABLE[case.action].event
        assert history[-1]["actor"] == {"role": case.asker.role, "unit": case.asker.unit}
        assert response.headers["ETag"] == f'"{call["version"]}"'
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == case.expected
        assert problem["type"] == PROBLEM_TYPE[case.expected]
        assert problem["detail"]
        if case.expected in (403, 409):
            assert case.action.value in problem["detail"], "the detail names the refused action"


def test_refusals_wrote_nothing(world: World) -> None:
    """Each state's shared call is still at the version it was driven to (checked as the
    matrix moves from one action to the next, and here for the last action of each state)."""
    for state in STATES:
        world.call_in(state, Action.SUPERVISE, fresh=False)
        world.assert_untouched(state)


def test_the_matrix_covers_every_action_and_every_outcome() -> None:
    assert {c.action for c in CASES} == set(TABLE) - BY_ANOTHER_PATH
    outcomes = {c.expected for c in CASES}
    assert outcomes == {201, 200, 403, 404, 409, 422}
    for action in set(TABLE) - BY_ANOTHER_PATH:
        if action is not Action.RAISE:
            assert any(c.action is action and c.expected == 200 for c in CASES), f"{action} never succeeds"
