"""部门年度考核 and 街道综合考核 over HTTP, on each backend, recomputed by hand from the event
feed (docs/metrics.md §10–11): callers' ratings counted for the rated unit; a 督办 on the
street's resolution clock while the lead order was overdue charged to the department; a
street's counts pooled with its communities'; the weighted composite less the deduction."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from httpx import Client

from backends import Backend
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.principal import SYSTEM
from huying.projections.rating_tables import RATING_TABLES
from huying.service_layer.command_path import Submission
from huying.settings import Settings

from .driver import LEAD, Driven, Driver, Place

STREET, COMMUNITY = Place().street, Place().community
CONTENT = {"satisfied", "basically_satisfied"}
Played = tuple[Driver, list[dict[str, Any]]]


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, run_watchdog=False, min_evaluated_for_rank=1)


def feed(driver: Driver) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while page := driver.get(f"/api/v1/events?after={after}&limit=500", ("auditor", "LW")).json()["data"]:
        events += page
        after = page[-1]["position"]
    return events


def charged_by_hand(events: list[dict[str, Any]]) -> dict[str, int]:
    """Each 督办 against its unit — or, on a street stint's resolution clock while an order was
    open past its deadline, against that order's department."""
    deadlines: dict[str, tuple[str, datetime]] = {}
    done: set[str] = set()
    charged: dict[str, int] = defaultdict(int)
    for e in events:
        data = e["data"]
        if e["type"] == "Dispatched":
            for o in data["orders"]:
                deadlines[o["id"]] = (o["department_code"], datetime.fromisoformat(o["deadline"]))
        elif e["type"] in ("WorkOrderCompleted", "WorkOrderReturned"):
            done.add(data["order_id"])
        elif e["type"] == "Supervised":
            at = datetime.fromisoformat(e["at"])
            late = [d for o, (d, due) in deadlines.items() if o not in done and due < at]
            street_clock = data["clock"] == "stint2:resolution"  # the street's stint, in these calls
            charged[late[0] if street_clock and late else data["unit"]] += 1
    return charged


def rated_by_hand(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    ratings: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e["type"] == "WorkOrderRated":
            ratings[e["data"]["department_code"]].append(e["data"]["satisfaction"])
        elif e["type"] == "StreetResponseRated":
            ratings[e["data"]["street_code"]].append(e["data"]["satisfaction"])
    return ratings


def two_calls(driver: Driver, services: Services, clock: FakeClock) -> tuple[Driven, Driven]:
    street = ("street", STREET)
    late = driver.drive("signed")
    clock.advance(timedelta(days=6).total_seconds())  # past the order's deadline and the street's clock
    services.calls.supervise(
        SYSTEM, UUID(late.id), Submission(), "街道办结超时", None, clock="stint2:resolution"
    )
    driver.act(late, "supervise", ("supervisor", "LW"), {"reason": "街道统筹不力"})  # the street's own
    driver.on_order(late, "complete", {"result": "已清运"})
    driver.resolve(late, street)
    driver.evaluate(late, "satisfied")
    driver.post(f"/api/v1/work-orders/{late.order_id(1)}/rating", street, {"satisfaction": "satisfied"})
    driver.post(
        f"/api/v1/calls/{late.id}/rating", ("community", COMMUNITY), {"satisfaction": "basically_satisfied"}
    )
    poor = driver.drive("resolved_department")
    driver.evaluate(poor, "dissatisfied")
    driver.post(f"/api/v1/work-orders/{poor.order_id(1)}/rating", street, {"satisfaction": "dissatisfied"})
    driver.post(f"/api/v1/calls/{poor.id}/rating", ("community", COMMUNITY), {"satisfaction": "dissatisfied"})
    return late, poor


@pytest.fixture
def played(client: Client, tokens: Any, clock: FakeClock, services: Services) -> Played:
    """The two calls played over HTTP, and the event feed they left."""
    driver = Driver(client, tokens, clock)
    two_calls(driver, services, clock)
    return driver, feed(driver)


def test_the_assessment_is_the_events_combined_with_the_weights(
    played: Played, clock: FakeClock, services: Services
) -> None:
    driver, events = played
    position = events[-1]["position"]
    period = str(clock.now().year)
    ask = f"?period={period}&min_position={position}"
    weights = dict(
        zip(
            ("satisfaction", "caller_rating", "response", "solve", "directives"),
            services.settings.assessment_weights,
            strict=True,
        )
    )
    deduction = Fraction(str(services.settings.supervision_deduction))
    charged = charged_by_hand(events)
    assert dict(charged) == {LEAD: 1, STREET: 1}
    rated = rated_by_hand(events)
    evaluated = [e["data"] for e in events if e["type"] == "Evaluated"]
    content = sum(e["satisfaction"] in CONTENT for e in evaluated)
    solved = sum(bool(e["solved"]) for e in evaluated)

    def sla(kind: str, units: set[str]) -> tuple[int, int]:
        rows = driver.get(f"/api/v1/scores/units?kind={kind}&{ask[1:]}").json()["data"]
        return (
            sum(r["counts"]["responded_on_time"] for r in rows if r["unit"] in units),
            sum(r["counts"]["response_owed"] for r in rows if r["unit"] in units),
        )

    def expected(unit: str, rounds: int, response: tuple[int, int]) -> Fraction:
        # Both rounds reached the community, the street and (lead completed) the department.
        parts = {
            "satisfaction": Fraction(content * rounds, len(evaluated) * rounds),
            "caller_rating": Fraction(sum(r in CONTENT for r in rated[unit]), len(rated[unit])),
            "response": Fraction(*response),
            "solve": Fraction(solved * rounds, len(evaluated) * rounds),
        }
        w = {k: Fraction(str(weights[k])) for k in parts}
        score = sum(w[k] * parts[k] for k in parts) / sum(w.values())
        return score - deduction * charged[unit]

    street_sla = sla("street", {STREET})
    community_sla = sla("community", {COMMUNITY})
    pooled_sla = (street_sla[0] + community_sla[0], street_sla[1] + community_sla[1])
    streets = driver.get(f"/api/v1/scores/assessment?kind=street&{ask[1:]}").json()
    row = next(r for r in streets["data"] if r["unit"] == STREET)
    assert row["composite"] == round(float(expected(STREET, 2, pooled_sla)), 6)
    assert row["components"]["directives"] is None and row["rank"] == 1
    assert (row["counts"]["supervised"], row["counts"]["supervised_moved_out"]) == (1, 1)
    assert (row["counts"]["ratings"], row["counts"]["contacted"]) == (2, 4)  # street + community rounds
    assert COMMUNITY in row["pooled"]
    departments = driver.get(f"/api/v1/scores/assessment?kind=department&{ask[1:]}").json()
    cg = next(r for r in departments["data"] if r["unit"] == LEAD)
    assert cg["composite"] == round(float(expected(LEAD, 1, sla("department", {LEAD}))), 6)
    assert (cg["counts"]["supervised"], cg["counts"]["supervised_moved_in"], cg["rank"]) == (1, 1, 1)
    assert departments["weights"] == weights


def test_who_reads_the_assessment_and_bad_periods(client: Client, tokens: Any, clock: FakeClock) -> None:
    driver = Driver(client, tokens, clock)
    own = driver.get("/api/v1/scores/assessment?kind=department", ("department", LEAD)).json()
    assert [r["unit"] for r in own["data"]] == [LEAD]
    refused = driver.get("/api/v1/scores/assessment?kind=department", ("community", COMMUNITY), expect=403)
    assert refused.headers["content-type"].startswith("application/problem+json")
    for bad in ("2026-13", "20x6", "0000"):
        answer = driver.get(f"/api/v1/scores/assessment?kind=street&period={bad}", expect=422)
        assert "period" in answer.text
    assert driver.get("/api/v1/scores/assessment?kind=community", expect=422).status_code == 422


def test_the_ratings_read_model_is_the_feed_and_rebuilds_to_the_same_rows(
    played: Played, services: Services
) -> None:
    events = played[1]
    projector = services.projector
    projector.wait_until(events[-1]["position"], timeout=30)

    def dump() -> dict[str, list[tuple[Any, ...]]]:
        with services.engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(t.select().order_by(*t.primary_key))]
                for t in RATING_TABLES
            }

    incremental = dump()
    ratings = incremental["rm_caller_ratings"]
    by_hand = rated_by_hand(events)
    assert sorted((r.rated_unit, r.satisfaction) for r in _rows(services, "rm_caller_ratings")) == sorted(
        (unit, s) for unit, grades in by_hand.items() for s in grades
    )
    assert len(ratings) == 4
    charges = _rows(services, "rm_supervision_charges")
    assert sorted((c.charged_unit, c.moved) for c in charges) == [(LEAD, True), (STREET, False)]
    projector.reset()
    assert all(not rows for rows in dump().values())
    projector.catch_up()
    assert dump() == incremental


def _rows(services: Services, name: str) -> list[Any]:
    table = next(t for t in RATING_TABLES if t.name == name)
    with services.engine.connect() as conn:
        return list(conn.execute(table.select()))
