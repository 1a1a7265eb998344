"""一呼一评 by the caller over HTTP, on each backend: the street rates its departments' work
orders, the community its street's response; every refusal as problem+json in the contract's
order (422 → 404 → 403 → 412 → 409), Idempotency-Key replays, If-Match."""

from __future__ import annotations

from typing import Any

from httpx import Client

from huying.clock import FakeClock

from .driver import ASSIST, LEAD, Driven, Driver, Place

OTHER_STREET = ("street", "LW-DB")
OTHER_COMMUNITY = ("community", "LW-LN-02")
SUPERVISOR = ("supervisor", "LW")


def problem(driver: Driver, path: str, who: tuple[str, str], body: Any, status: int, **kw: Any) -> str:
    answer = driver.post(path, who, body, expect=status, **kw)
    assert answer.headers["content-type"].startswith("application/problem+json")
    kind: str = answer.json()["type"]
    return kind


def test_the_street_rates_each_department_once_after_resolving(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    driver = Driver(client, tokens, clock)
    c = driver.drive("completed")
    street = c.place.street_staff
    lead, assist = (f"/api/v1/work-orders/{c.order_id(n)}/rating" for n in (1, 2))
    good = {"satisfaction": "satisfied", "comment": "当日清运"}
    not_yet = problem(driver, lead, street, good, 409)  # the call is still dispatched
    assert not_yet == "/problems/transition-not-allowed"
    driver.resolve(c, street)
    assert problem(driver, lead, street, {"satisfaction": "great"}, 422) == "/problems/invalid-request"
    assert problem(driver, lead, OTHER_STREET, good, 404) == "/problems/not-found"
    for rated_unit_or_stranger in (("department", LEAD), ("department", ASSIST), c.place.community_staff):
        assert problem(driver, lead, rated_unit_or_stranger, good, 403) == "/problems/not-permitted"
    assert problem(driver, lead, SUPERVISOR, good, 403) == "/problems/not-permitted"
    version = driver.read(c.id)["version"]
    problem(driver, lead, street, good, 412, **{"If-Match": f'"{version - 1}"'})

    first = driver.post(lead, street, good, key="rate-lead", **{"If-Match": f'"{version}"'})
    again = driver.post(lead, street, good, key="rate-lead")
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert first.headers["ETag"] == f'"{version + 1}"'
    other_body = {"satisfaction": "dissatisfied"}
    assert (
        problem(driver, lead, street, other_body, 422, key="rate-lead") == "/problems/idempotency-key-reused"
    )
    assert "already rated" in driver.post(lead, street, other_body, expect=409).json()["detail"]
    # The assist never signed before the resolve cancelled its order: no work of its to rate.
    assert "never took this order up" in driver.post(assist, street, good, expect=409).json()["detail"]
    history = driver.get(f"/api/v1/calls/{c.id}/history").json()["data"]
    rated = [e["data"] for e in history if e["type"] == "WorkOrderRated"]
    assert rated == [{"order_id": c.order_id(1), "department_code": LEAD, **good}]


def test_the_community_rates_its_streets_response_once_per_round(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    driver = Driver(client, tokens, clock)
    community = Place().community_staff
    at_home = driver.drive("resolved_community")
    path = f"/api/v1/calls/{at_home.id}/rating"
    good = {"satisfaction": "satisfied"}
    refused = driver.post(path, community, good, expect=409).json()
    assert "did not reach the street" in refused["detail"]

    c: Driven = driver.drive("street_in_progress")
    path = f"/api/v1/calls/{c.id}/rating"
    assert "not resolved" in driver.post(path, community, good, expect=409).json()["detail"]
    driver.resolve(c, c.place.street_staff)
    assert problem(driver, path, community, {"satisfaction": "satisfied", "round": 2}, 422) == (
        "/problems/invalid-request"
    )
    assert problem(driver, path, OTHER_COMMUNITY, good, 404) == "/problems/not-found"
    for never in (c.place.street_staff, SUPERVISOR, c.place.grid_worker):
        assert problem(driver, path, never, good, 403) == "/problems/not-permitted"
    answer = driver.post(path, community, {"satisfaction": "dissatisfied", "comment": "拖延三天", "round": 1})
    assert answer.json()["version"] == driver.read(c.id)["version"]
    assert "already rated" in driver.post(path, community, good, expect=409).json()["detail"]
    history = driver.get(f"/api/v1/calls/{c.id}/history").json()["data"]
    rated = [e["data"] for e in history if e["type"] == "StreetResponseRated"]
    assert rated == [
        {"round": 1, "street_code": c.place.street, "satisfaction": "dissatisfied", "comment": "拖延三天"}
    ]
