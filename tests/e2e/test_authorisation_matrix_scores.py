"""The authorisation matrix for 一呼一评 by the caller, the 考核 and published 考评, over HTTP:
the two rating commands, the assessment read and every endpoint under
/api/v1/scores/publications, asked by every role from units inside and outside the
jurisdiction, answer exactly what the contract says (docs/metrics.md §10–11,
docs/publications.md).

The oracle is written here from those pages and unit codes alone: a call outside what the
asker may see → 404, not the unit that called up → 403; a publication with no row the asker
may read → 404, not a supervisor → 403; a list or assessment of a kind none of whose units is
the asker's → 403. Refusals share one call (publication) and are checked to have written
nothing; every expected success gets a fresh call.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from httpx import Response

from backends import Backend
from huying.domain.org import UnitKind
from huying.service_layer.publications import PUBLISHED_KINDS, publication_id

from .driver import Driven, Driver, Place
from .matrix import Asker, ModuleHuying, check, judged, module_huying

MONDAY_MORNING = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
PLACE = Place()  # grid LW-LN-01-G01, community LW-LN-01, street LW-LN; orders to CG (lead), ZJ
PUBLICATIONS = "/api/v1/scores/publications"
DISTRICT_WIDE = {"supervisor", "auditor", "admin"}
SETTLED, UNPUBLISHED, PUBLISHED_HERE = "2026-09", "2026-08", "2026-06"  # each test its own

ASKERS = (
    Asker("grid_worker", "LW-LN-01-G01", "the call's grid"),
    Asker("grid_worker", "LW-HL-01-G01", "a grid of another street"),
    Asker("community", "LW-LN-01", "the origin community"),
    Asker("community", "LW-LN-02", "another community of the same street"),
    Asker("community", "LW-HL-01", "a community of another street"),
    Asker("street", "LW-LN", "the call's street"),
    Asker("street", "LW-HL", "another street"),
    Asker("department", "CG", "holds the lead order"),
    Asker("department", "ZJ", "holds the assisting order"),
    Asker("department", "SW", "never holds an order on the call"),
    Asker("member", "LW-LN-M01", "a member unit of LW-LN's 大工委"),
    Asker("supervisor", "LW", "district"),
    Asker("auditor", "LW", "district"),
    Asker("admin", "LW", "district"),
)
ADMIN, SUPERVISOR = Asker("admin", "LW", "district"), Asker("supervisor", "LW", "district")


# --- the oracle, from the contract ------------------------------------------------------------


def reads_unit(asker: Asker, unit: str) -> bool:
    """Whose figures a unit reads: its own and those below it (a grid worker: its community's);
    a department or member unit its own; the district-wide roles all."""
    if asker.role in DISTRICT_WIDE:
        return True
    if asker.role in {"department", "member"}:
        return unit == asker.unit
    home = asker.unit.rsplit("-", 1)[0] if asker.role == "grid_worker" else asker.unit
    return unit == home or unit.startswith(home + "-")


def sees_call(asker: Asker, departments: frozenset[str]) -> bool:
    """api.md: the district; the call's grid workers, community, street; its departments."""
    if asker.role in DISTRICT_WIDE:
        return True
    if asker.role == "department":
        return asker.unit in departments
    return asker.role != "member" and reads_unit(asker, PLACE.community)


def expected_rating(asker: Asker, rater: tuple[str, str], departments: frozenset[str]) -> int:
    if not sees_call(asker, departments):
        return 404
    return 200 if asker.who == rater else 403


# --- the module's huying ----------------------------------------------------------------------


class World:
    def __init__(self, h: ModuleHuying) -> None:
        self.h = h
        self.driver = Driver(h.client, h.tokens, h.clock)
        self._keys = 0

    def post(self, asker: Asker, path: str, body: dict[str, Any] | None, key: str | None = None) -> Response:
        self._keys += 1
        headers = self.h.tokens.headers(*asker.who, key=key or f"scores-matrix-{self._keys}")
        return self.h.client.post(path, json=body, headers=headers)

    def get(self, asker: Asker, path: str) -> Response:
        return self.h.client.get(path, headers=self.h.tokens.headers(*asker.who))

    def resolved(self, state: str) -> Driven:
        """A call driven to ``state`` and resolved by its street: rateable."""
        c = self.driver.drive(state, PLACE)
        c.call = self.driver.resolve(c, PLACE.street_staff)
        return c

    def version_of(self, c: Driven) -> int:
        return int(self.driver.read(c.id)["version"])

    def units(self, kind: UnitKind) -> set[str]:
        return {u.code for u in self.h.services.app.org.of_kind(kind)}


@pytest.fixture(scope="module")
def world(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with module_huying(backend, tmp_path_factory, MONDAY_MORNING) as h:
        yield World(h)


# --- 一呼一评 by the caller ---------------------------------------------------------------------

RATINGS = {  # the state a rateable call is driven to, who rates, the path, the event
    "work-order": ("completed", PLACE.street_staff, "/api/v1/work-orders/{id}-w1/rating", "WorkOrderRated"),
    "street-response": (
        "street_in_progress",
        PLACE.community_staff,
        "/api/v1/calls/{id}/rating",
        "StreetResponseRated",
    ),
}


@pytest.mark.parametrize("rating", list(RATINGS))
def test_each_rating(world: World, rating: str) -> None:
    state, rater, path, event = RATINGS[rating]
    shared = world.resolved(state)
    assert shared.facts is not None
    departments, before = shared.facts.departments, world.version_of(shared)
    mismatches = []
    for asker in ASKERS:
        expected = expected_rating(asker, rater, departments)
        c = world.resolved(state) if expected == 200 else shared
        response = world.post(asker, path.format(id=c.id), {"satisfaction": "satisfied"})
        mismatches.append(judged(asker, f"rate the {rating}", response, expected))
        if expected == 200 and response.status_code == 200:
            last = world.driver.get(f"/api/v1/calls/{c.id}/history").json()["data"][-1]
            assert (last["type"], last["actor"]) == (event, {"role": asker.role, "unit": asker.unit})
    check(mismatches)
    assert world.version_of(shared) == before, "a refused rating wrote an event"


# --- the 考核 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [UnitKind.STREET, UnitKind.DEPARTMENT], ids=str)
def test_the_assessment_shows_each_asker_its_own_rows(world: World, kind: UnitKind) -> None:
    units, mismatches = world.units(kind), []
    for asker in ASKERS:
        readable = {u for u in units if reads_unit(asker, u)}
        response = world.get(asker, f"/api/v1/scores/assessment?kind={kind.value}&period=2026")
        mismatches.append(judged(asker, f"the {kind.value} assessment", response, 200 if readable else 403))
        if response.status_code == 200 and {r["unit"] for r in response.json()["data"]} != readable:
            mismatches.append(f"{asker}: rows {sorted(r['unit'] for r in response.json()['data'])}")
    check(mismatches)


# --- published 考评 -----------------------------------------------------------------------------


def test_only_a_supervisor_publishes(world: World) -> None:
    """Refusals first, on a period nobody has published: afterwards it still does not exist."""
    mismatches: list[str | None] = []
    for asker in ASKERS:
        if asker.role != "supervisor":
            response = world.post(asker, PUBLICATIONS, {"kind": "street", "period": UNPUBLISHED})
            mismatches.append(judged(asker, "publish", response, 403))
    never = publication_id(UnitKind.STREET, UNPUBLISHED)
    assert world.get(ADMIN, f"{PUBLICATIONS}/{never}").status_code == 404, "a refused publish wrote"
    for kind in ("street", "department"):
        response = world.post(SUPERVISOR, PUBLICATIONS, {"kind": kind, "period": PUBLISHED_HERE})
        mismatches.append(judged(SUPERVISOR, f"publish {kind} {PUBLISHED_HERE}", response, 201))
    for asker in ASKERS:  # once published: who asks is judged before the state (403 before 409)
        again = world.post(asker, PUBLICATIONS, {"kind": "street", "period": PUBLISHED_HERE})
        mismatches.append(judged(asker, "publish again", again, 409 if asker.role == "supervisor" else 403))
    check(mismatches)


def published(world: World, kind: UnitKind) -> dict[str, Any]:
    """The settled period's publication of ``kind``, published once for the module."""
    pid = publication_id(kind, SETTLED)
    found = world.get(ADMIN, f"{PUBLICATIONS}/{pid}")
    if found.status_code == 404:
        made = world.post(SUPERVISOR, PUBLICATIONS, {"kind": kind.value, "period": SETTLED})
        assert made.status_code == 201, made.text
        return dict(made.json())
    return dict(found.json())


@pytest.mark.parametrize("kind", [UnitKind.STREET, UnitKind.DEPARTMENT], ids=str)
def test_each_read_of_a_publication(world: World, kind: UnitKind) -> None:
    pub, units, mismatches = published(world, kind), world.units(kind), []
    base = f"{PUBLICATIONS}/{pub['id']}"
    for asker in ASKERS:
        readable = {u for u in units if reads_unit(asker, u)}
        sees = 200 if readable else 404
        for path in (base, f"{base}?version=1", f"{base}?as_of={quote(pub['published_at'])}"):
            response = world.get(asker, path)
            mismatches.append(judged(asker, f"GET {path}", response, sees))
            if response.status_code == 200 and {r["unit"] for r in response.json()["data"]} != readable:
                mismatches.append(f"{asker} GET {path}: rows {[r['unit'] for r in response.json()['data']]}")
        history = 200 if asker.role in DISTRICT_WIDE else 403 if readable else 404
        mismatches.append(judged(asker, "GET history", world.get(asker, f"{base}/history"), history))
        listing = world.get(asker, f"{PUBLICATIONS}?kind={kind.value}&min_position={pub['position']}")
        mismatches.append(judged(asker, f"list {kind.value}", listing, 200 if readable else 403))
        if listing.status_code == 200 and pub["id"] not in {x["id"] for x in listing.json()["data"]}:
            mismatches.append(f"{asker}: the list lacks the publication")
        any_kind = any(reads_unit(asker, u) for k in UnitKind for u in world.units(k) if k in PUBLISHED_KINDS)
        every = world.get(asker, f"{PUBLICATIONS}?min_position={pub['position']}")
        mismatches.append(judged(asker, "list every kind", every, 200 if any_kind else 403))
    check(mismatches)


@pytest.mark.parametrize("kind", [UnitKind.STREET, UnitKind.DEPARTMENT], ids=str)
def test_only_a_supervisor_republishes(world: World, kind: UnitKind) -> None:
    """Refusals first, checked to leave the version as it was; then the supervisor's success."""
    pub, units, mismatches = published(world, kind), world.units(kind), []
    path, reason = f"{PUBLICATIONS}/{pub['id']}", {"reason": "更正"}
    before = world.get(ADMIN, path).json()["latest_version"]
    successes = []
    for asker in ASKERS:
        expected = 404 if not any(reads_unit(asker, u) for u in units) else 403
        if asker.role == "supervisor":
            successes.append(asker)
            continue
        response = world.post(asker, f"{path}/republish", reason)
        mismatches.append(judged(asker, "republish", response, expected))
    assert world.get(ADMIN, path).json()["latest_version"] == before, "a refused republish wrote"
    for asker in successes:
        response = world.post(asker, f"{path}/republish", reason)
        mismatches.append(judged(asker, "republish", response, 200))
        if response.status_code == 200:
            assert response.json()["version"] == before + 1
    check(mismatches)


# --- an Idempotency-Key someone else used -----------------------------------------------------


def test_another_principals_key_replays_nothing(world: World) -> None:
    """The one who may act does, with a key; everyone else sending the same key and body gets
    the answer they get without it (404 or 403), never the recorded success."""
    c = world.resolved("completed")
    assert c.facts is not None
    rate = f"/api/v1/work-orders/{c.id}-w1/rating"
    pub = published(world, UnitKind.DEPARTMENT)
    republish, units = f"{PUBLICATIONS}/{pub['id']}/republish", world.units(UnitKind.DEPARTMENT)
    cases = (  # the path, the body, who may act, what each other asker is answered
        (
            rate,
            {"satisfaction": "satisfied"},
            PLACE.street_staff,
            lambda a: 404 if not sees_call(a, c.facts.departments) else 403,
        ),
        (
            republish,
            {"reason": "复核"},
            SUPERVISOR.who,
            lambda a: 403 if any(reads_unit(a, u) for u in units) else 404,
        ),
        (PUBLICATIONS, {"kind": "street", "period": "2026-07"}, SUPERVISOR.who, lambda a: 403),
    )
    mismatches: list[str | None] = []
    for n, (path, body, actor, refused) in enumerate(cases):
        key = f"someone-elses-key-{n}"
        first = world.post(Asker(*actor, "acts"), path, body, key=key)
        assert first.status_code in (200, 201), first.text
        for asker in ASKERS:
            if asker.who != actor:
                response = world.post(asker, path, body, key=key)
                mismatches.append(judged(asker, f"POST {path} with another's key", response, refused(asker)))
    check(mismatches)
