# ruff: noqa: F811  (pytest fixtures imported from test_client, then named as parameters)
"""Work orders are listed by arrival — dispatch order, then number (docs/metrics.md §5) —
wherever they are listed: past ``-w9`` too, where comparing ids as text put ``-w10`` first."""

from __future__ import annotations

import json
from typing import Any

from huying.client import DepartmentClient

from .driver import Driven, Driver
from .inprocess import HTTP_PATIENCE
from .test_client import base_url, driver, http  # noqa: F401  (the fixtures: huying over TCP)

FIRST = ("CG", "ZJ", "SW", "JT", "GD", "HB", "SJ", "YJ", "GA", "WJ")  # -w1 (lead) … -w10
SECOND = ("GA", "MZ")  # the re-dispatch: -w11 (lead), -w12; the same event cancels GA's -w9


def dispatch(driver: Driver, c: Driven, lead: str, *assist: str) -> dict[str, Any]:
    body = driver.dispatch_body(lead=lead, assist=assist)
    return driver.act(c, "dispatch", c.place.street_staff, body)


def twelve_orders(driver: Driver) -> tuple[Driven, int]:
    """A call whose first dispatch made ten orders and whose second made two more."""
    c = driver.drive("street_in_progress")
    dispatch(driver, c, *FIRST)
    driver.on_order(c, "return", {"reason": "不属本部门职责"})  # the lead: back to the street
    answer = dispatch(driver, c, *SECOND)
    return c, int(answer["position"])


def test_a_call_lists_its_orders_by_arrival(driver: Driver) -> None:
    c, position = twelve_orders(driver)
    arrival = [c.order_id(n) for n in range(1, 13)]
    call = driver.read(c.id)
    assert [o["id"] for o in call["work_orders"]] == arrival
    record = driver.get(f"/api/v1/scores/calls/{c.id}?min_position={position}").json()
    listed = [o["order_id"] for o in record["rounds"][0]["obligations"] if o["order_id"]]
    assert listed == arrival
    history = driver.get(f"/api/v1/calls/{c.id}/history").json()["data"]
    dispatched = [o["id"] for e in history if e["type"] == "Dispatched" for o in e["data"]["orders"]]
    assert dispatched == arrival
    export = driver.get("/api/v1/exports/events?type=Dispatched", ("auditor", "LW")).text.splitlines()
    exported = [o["id"] for e in map(json.loads, export) if e["call_id"] == c.id for o in e["data"]["orders"]]
    assert exported == arrival


def test_a_queue_lists_orders_one_event_changed_by_arrival(
    driver: Driver, tokens: Any, base_url: str
) -> None:
    c, position = twelve_orders(driver)
    with DepartmentClient(base_url, tokens.token("department", "GA"), "GA", timeout=HTTP_PATIENCE) as ga:
        for limit in (1, 100):  # a page never ends between two orders of one event
            page = ga.queue_page(after=0, limit=limit, min_position=position)
            assert [(o.id, o.status) for o in page.orders] == [
                (c.order_id(9), "cancelled"),
                (c.order_id(11), "dispatched"),
            ]
