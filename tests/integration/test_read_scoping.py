"""Who may read what on the read side: every role, in its own and in other units.

Three calls — c1 in LW-LN-01 dispatched to CG (lead) and ZJ (assisting), c2 in LW-LN-02 still
awaiting its community, c3 in LW-HL-01 dispatched to SW — and, for each read endpoint, the whole
matrix principal × unit → status (and on 200, exactly which rows) written out here from the
contract (api.md "Jurisdiction"), compared in one assertion so a failure shows every mismatch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Protocol

import pytest
from httpx import Client

from backends import Backend
from conftest import MONDAY_MORNING
from conftest import Tokens as IssuedTokens
from deployment_templates import Templates, module_services
from huying.api.app import create_app
from huying.clock import FakeClock
from in_loop import in_loop


class Tokens(Protocol):
    def headers(self, role: str, unit: str, key: str | None = None, **extra: str) -> dict[str, str]: ...


Who = tuple[str, str]

GRID_LN01 = ("grid_worker", "LW-LN-01-G01")
GRID_LN01_OTHER = ("grid_worker", "LW-LN-01-G02")  # another grid of the same community
COMMUNITY_LN01 = ("community", "LW-LN-01")
COMMUNITY_LN02 = ("community", "LW-LN-02")
STREET_LN = ("street", "LW-LN")
STREET_HL = ("street", "LW-HL")
CG = ("department", "CG")
ZJ = ("department", "ZJ")
SW = ("department", "SW")
GD = ("department", "GD")  # never holds an order
SUPERVISOR = ("supervisor", "LW")
AUDITOR = ("auditor", "LW")
ADMIN = ("admin", "LW")
EVERYONE: tuple[Who, ...] = (
    GRID_LN01,
    GRID_LN01_OTHER,
    COMMUNITY_LN01,
    COMMUNITY_LN02,
    STREET_LN,
    STREET_HL,
    CG,
    ZJ,
    SW,
    GD,
    SUPERVISOR,
    AUDITOR,
    ADMIN,
)
DISTRICT_WIDE = (SUPERVISOR, AUDITOR, ADMIN)


class World:
    def __init__(self, client: Client, tokens: Tokens, clock: FakeClock) -> None:
        self.client, self.tokens, self.clock = client, tokens, clock
        self.position = 0
        self.c1 = self.raise_call("LW-LN-01-G01")
        self.escalate_and_dispatch(self.c1, "LW-LN-01", "LW-LN", "CG", "ZJ")
        self.c2 = self.raise_call("LW-LN-02-G01")
        self.c3 = self.raise_call("LW-HL-01-G01")
        self.escalate_and_dispatch(self.c3, "LW-HL-01", "LW-HL", "SW")

    def post(self, path: str, who: Who, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.client.post(path, json=body, headers=self.tokens.headers(*who))
        assert r.status_code in (200, 201), r.text
        answer: dict[str, Any] = r.json()
        self.position = max(self.position, answer["position"])
        return answer

    def raise_call(self, grid: str) -> str:
        body = {
            "item_code": "C01-01",
            "grid_code": grid,
            "title": "垃圾",
            "description": "垃圾",
            "channel": "photo",
        }
        call_id: str = self.post("/api/v1/calls", ("grid_worker", grid), body)["id"]
        return call_id

    def escalate_and_dispatch(self, call: str, community: str, street: str, lead: str, *assist: str) -> None:
        self.clock.advance(600)
        self.post(f"/api/v1/calls/{call}/escalate", ("community", community), {"reason": "上呼"})
        self.post(f"/api/v1/calls/{call}/acknowledge", ("street", street))
        deadline = (self.clock.now() + timedelta(days=2)).isoformat()
        body = {
            "lead_department": lead,
            "assisting_departments": list(assist),
            "deadline": deadline,
            "instructions": "处理",
        }
        self.post(f"/api/v1/calls/{call}/dispatch", ("street", street), body)

    def get(self, path: str, who: Who, **params: str) -> tuple[int, dict[str, Any]]:
        r = self.client.get(
            path, params={**params, "min_position": str(self.position)}, headers=self.tokens.headers(*who)
        )
        return r.status_code, r.json()

    def names(self, ids: list[str]) -> set[str]:
        known = {self.c1: "c1", self.c2: "c2", self.c3: "c3"}
        return {known.get(i, i) for i in ids}


@pytest.fixture(scope="module")
def world(
    backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The three calls, made once per backend on a deployment of the module's own: its tests
    only read them (GETs, and the tokens they ask with), so none can change what another sees."""
    clock = FakeClock(start=MONDAY_MORNING)
    data_dir = tmp_path_factory.mktemp("read_scoping") / "var"
    with (
        module_services(backend, templates, data_dir, clock, run_watchdog=False) as services,
        in_loop(create_app(services=services)) as client,
    ):
        yield World(client, IssuedTokens(services), clock)


def matrix(world: World, ask: Any) -> dict[Who, Any]:
    return {who: ask(who) for who in EVERYONE}


# --- the existing read endpoints --------------------------------------------------------------


def test_the_call_search_shows_each_principal_only_its_jurisdiction(world: World) -> None:
    def ask(who: Who) -> Any:
        status, body = world.get("/api/v1/calls", who)
        return status, world.names([c["id"] for c in body["data"]])

    assert matrix(world, ask) == {
        GRID_LN01: (200, {"c1"}),
        GRID_LN01_OTHER: (200, {"c1"}),
        COMMUNITY_LN01: (200, {"c1"}),
        COMMUNITY_LN02: (200, {"c2"}),
        STREET_LN: (200, {"c1", "c2"}),
        STREET_HL: (200, {"c3"}),
        CG: (200, {"c1"}),
        ZJ: (200, {"c1"}),
        SW: (200, {"c3"}),
        GD: (200, set()),
        SUPERVISOR: (200, {"c1", "c2", "c3"}),
        AUDITOR: (200, {"c1", "c2", "c3"}),
        ADMIN: (200, {"c1", "c2", "c3"}),
    }


def test_naming_another_unit_in_the_search_never_widens_it(world: World) -> None:
    def ask(who: Who, unit: str) -> Any:
        status, body = world.get("/api/v1/calls", who, unit=unit)
        return (status, world.names([c["id"] for c in body["data"]])) if status == 200 else status

    assert ask(COMMUNITY_LN01, "LW-LN-02") == (200, set())
    assert ask(COMMUNITY_LN02, "LW-LN") == (200, {"c2"})  # its own call is its street's too
    assert ask(STREET_LN, "LW-HL") == (200, set())
    assert ask(CG, "SW") == (200, set())
    assert ask(SW, "LW-HL-01") == (200, {"c3"})
    assert ask(SUPERVISOR, "LW-HL") == (200, {"c3"})
    assert ask(GRID_LN01, "LW-XX") == 422


def test_the_ledger_shows_each_principal_only_its_jurisdiction(world: World) -> None:
    def ask(who: Who, unit: str | None = None) -> Any:
        status, body = world.get("/api/v1/ledger", who, **({"unit": unit} if unit else {}))
        if status != 200:
            return status
        return status, body["summary"]["open"], world.names([c["id"] for c in body["data"]])

    own = matrix(world, ask)
    assert own == {
        GRID_LN01: (200, 1, {"c1"}),  # its grid's calls
        GRID_LN01_OTHER: (200, 0, set()),  # nothing raised in LW-LN-01-G02
        COMMUNITY_LN01: (200, 1, {"c1"}),
        COMMUNITY_LN02: (200, 1, {"c2"}),
        STREET_LN: (200, 2, {"c1", "c2"}),
        STREET_HL: (200, 1, {"c3"}),
        CG: (200, 1, {"c1"}),
        ZJ: (200, 1, {"c1"}),
        SW: (200, 1, {"c3"}),
        GD: (200, 0, set()),
        SUPERVISOR: (200, 3, {"c1", "c2", "c3"}),
        AUDITOR: (200, 3, {"c1", "c2", "c3"}),
        ADMIN: (200, 3, {"c1", "c2", "c3"}),
    }
    # Another unit's ledger is empty to those outside it, whole to the district.
    other = {who: ask(who, "LW-HL") for who in EVERYONE}
    assert other == {
        who: (200, 1, {"c3"}) if who in (STREET_HL, SW, *DISTRICT_WIDE) else (200, 0, set())
        for who in EVERYONE
    }


def test_a_department_pulls_only_its_own_queue(world: World) -> None:
    def ask(who: Who) -> Any:
        seen = {}
        for code in ("CG", "ZJ", "SW"):
            status, body = world.get(f"/api/v1/departments/{code}/work-orders", who)
            seen[code] = (status, {o["id"][-3:] for o in body["data"]}) if status == 200 else status
        return seen

    everything = {"CG": (200, {"-w1"}), "ZJ": (200, {"-w2"}), "SW": (200, {"-w1"})}
    assert matrix(world, ask) == {
        GRID_LN01: {"CG": 404, "ZJ": 404, "SW": 404},
        GRID_LN01_OTHER: {"CG": 404, "ZJ": 404, "SW": 404},
        COMMUNITY_LN01: {"CG": 404, "ZJ": 404, "SW": 404},
        COMMUNITY_LN02: {"CG": 404, "ZJ": 404, "SW": 404},
        STREET_LN: {"CG": 404, "ZJ": 404, "SW": 404},
        STREET_HL: {"CG": 404, "ZJ": 404, "SW": 404},
        CG: {"CG": (200, {"-w1"}), "ZJ": 404, "SW": 404},
        ZJ: {"CG": 404, "ZJ": (200, {"-w2"}), "SW": 404},
        SW: {"CG": 404, "ZJ": 404, "SW": (200, {"-w1"})},
        GD: {"CG": 404, "ZJ": 404, "SW": 404},
        SUPERVISOR: everything,
        AUDITOR: everything,
        ADMIN: everything,
    }
    status, body = world.get("/api/v1/departments/CG/work-orders", SUPERVISOR)
    assert (status, {o["call_id"] for o in body["data"]}) == (200, {world.c1})


# --- the SLA dashboard ----------------------------------------------------------------------

UNITS = (
    "LW",
    "LW-LN",
    "LW-LN-01",
    "LW-LN-01-G01",
    "LW-LN-01-G02",
    "LW-LN-02",
    "LW-HL",
    "LW-HL-01",
    "CG",
    "SW",
)
_LN01_AND_BELOW = {"LW-LN-01", "LW-LN-01-G01", "LW-LN-01-G02"}
READABLE: dict[Who, set[str]] = {
    GRID_LN01: _LN01_AND_BELOW,
    GRID_LN01_OTHER: _LN01_AND_BELOW,
    COMMUNITY_LN01: _LN01_AND_BELOW,
    COMMUNITY_LN02: {"LW-LN-02"},
    STREET_LN: {"LW-LN", "LW-LN-02", *_LN01_AND_BELOW},
    STREET_HL: {"LW-HL", "LW-HL-01"},
    CG: {"CG"},
    ZJ: set(),
    SW: {"SW"},
    GD: set(),
    SUPERVISOR: set(UNITS),
    AUDITOR: set(UNITS),
    ADMIN: set(UNITS),
}
# What each unit's own series counted as received (c1: LN-01 → LN → CG, ZJ; c2: LN-02; c3: HL-01
# → HL → SW): {level: received}.
RECEIVED = {
    "LW": {"community": 3, "street": 2, "department": 3},
    "LW-LN": {"street": 1, "community": 2},
    "LW-LN-01": {"community": 1},
    "LW-LN-01-G01": {"community": 1},
    "LW-LN-01-G02": {"community": 0},
    "LW-LN-02": {"community": 1},
    "LW-HL": {"street": 1, "community": 1},
    "LW-HL-01": {"community": 1},
    "CG": {"department": 1},
    "SW": {"department": 1},
}


def test_the_dashboard_opens_only_the_units_in_jurisdiction(world: World) -> None:
    def ask(who: Who) -> dict[str, Any]:
        seen = {}
        for unit in UNITS:
            status, body = world.get("/api/v1/dashboards/sla", who, unit=unit)
            if status == 200:
                seen[unit] = {s["level"]: s["totals"]["received"] for s in body["series"]}
            else:
                seen[unit] = status
        return seen

    assert matrix(world, ask) == {
        who: {unit: RECEIVED[unit] if unit in READABLE[who] else 404 for unit in UNITS} for who in EVERYONE
    }


def test_a_dashboards_children_are_the_units_below_it(world: World) -> None:
    status, body = world.get("/api/v1/dashboards/sla", STREET_LN)  # its own street by default
    assert (status, body["unit"]) == (200, "LW-LN")
    assert {s["unit"]: s["totals"]["received"] for s in body["children"]} == {
        "LW-LN-01": 1,
        "LW-LN-02": 1,
        "LW-LN-03": 0,
    }
    status, body = world.get("/api/v1/dashboards/sla", GRID_LN01)  # a grid worker: its community
    assert (status, body["unit"], [s["unit"] for s in body["children"]]) == (
        200,
        "LW-LN-01",
        ["LW-LN-01-G01", "LW-LN-01-G02", "LW-LN-01-G03"],
    )
    status, body = world.get("/api/v1/dashboards/sla", SUPERVISOR)
    assert (status, body["unit"]) == (200, "LW")


@pytest.mark.parametrize("who", EVERYONE, ids=lambda w: f"{w[0]}@{w[1]}")
def test_an_unknown_unit_or_bad_window_is_invalid_for_everyone(world: World, who: Who) -> None:
    assert world.get("/api/v1/dashboards/sla", who, unit="LW-XX")[0] == 422
    assert world.get("/api/v1/dashboards/sla", who, **{"from": "2026-12-01", "to": "2026-11-01"})[0] == 422
    assert world.get("/api/v1/dashboards/sla", who, granularity="hour")[0] == 422
    assert world.get("/api/v1/dashboards/sla", who, **{"from": "2000-01-01", "to": "2026-01-01"})[0] == 422


# --- the scores -----------------------------------------------------------------------------


def test_unit_scores_are_read_by_each_unit_for_itself_and_those_below_it(world: World) -> None:
    def ask(who: Who) -> Any:
        answers = {}
        for kind in ("community", "street", "department"):
            status, body = world.get("/api/v1/scores/units", who, kind=kind)
            answers[kind] = {s["unit"] for s in body["data"]} if status == 200 else status
        return answers

    ln = {"LW-LN-01", "LW-LN-02", "LW-LN-03"}
    got = matrix(world, ask)
    assert {who: got[who] for who in EVERYONE if who not in DISTRICT_WIDE} == {
        GRID_LN01: {"community": {"LW-LN-01"}, "street": 403, "department": 403},
        GRID_LN01_OTHER: {"community": {"LW-LN-01"}, "street": 403, "department": 403},
        COMMUNITY_LN01: {"community": {"LW-LN-01"}, "street": 403, "department": 403},
        COMMUNITY_LN02: {"community": {"LW-LN-02"}, "street": 403, "department": 403},
        STREET_LN: {"community": ln, "street": {"LW-LN"}, "department": 403},
        STREET_HL: {
            "community": {"LW-HL-01", "LW-HL-02", "LW-HL-03"},
            "street": {"LW-HL"},
            "department": 403,
        },
        CG: {"community": 403, "street": 403, "department": {"CG"}},
        ZJ: {"community": 403, "street": 403, "department": {"ZJ"}},
        SW: {"community": 403, "street": 403, "department": {"SW"}},
        GD: {"community": 403, "street": 403, "department": {"GD"}},
    }
    for who in DISTRICT_WIDE:
        assert [len(got[who][kind]) for kind in ("community", "street")] == [12, 4], who
    assert world.get("/api/v1/scores/units", SUPERVISOR, kind="street", period="2026-13")[0] == 422
    assert world.get("/api/v1/scores/units", SUPERVISOR, kind="grid")[0] == 422
    assert world.get("/api/v1/scores/units", SUPERVISOR)[0] == 422  # kind is required


def test_a_calls_score_is_read_where_the_call_is(world: World) -> None:
    def ask(who: Who) -> dict[str, int]:
        calls = {"c1": world.c1, "c2": world.c2, "c3": world.c3}
        return {name: world.get(f"/api/v1/scores/calls/{cid}", who)[0] for name, cid in calls.items()}

    def seen(*names: str) -> dict[str, int]:
        return {name: 200 if name in names else 404 for name in ("c1", "c2", "c3")}

    assert matrix(world, ask) == {
        GRID_LN01: seen("c1"),
        GRID_LN01_OTHER: seen("c1"),
        COMMUNITY_LN01: seen("c1"),
        COMMUNITY_LN02: seen("c2"),
        STREET_LN: seen("c1", "c2"),
        STREET_HL: seen("c3"),
        CG: seen("c1"),
        ZJ: seen("c1"),
        SW: seen("c3"),
        GD: seen(),
        SUPERVISOR: seen("c1", "c2", "c3"),
        AUDITOR: seen("c1", "c2", "c3"),
        ADMIN: seen("c1", "c2", "c3"),
    }
    assert world.get("/api/v1/scores/calls/not-a-call", SUPERVISOR)[0] == 404
