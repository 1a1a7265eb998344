"""重复提示 — duplicate hints, over HTTP on real SQLite files: the same alley problem reported
twice is hinted to whoever raises the second (same item, same grid — or within the configured
distance when both have lat/lon — open, raised within the last N days, visible to the raiser),
and the holder can merge it (一事一呼).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from httpx import Client

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.queries.duplicates import DuplicateRule, Subject, haversine_m, open_now

Who = tuple[str, str]
G01, G02 = "LW-LN-01-G01", "LW-LN-01-G02"  # two grids of community LW-LN-01
ELSEWHERE = "LW-LN-02-G01"  # a grid of another community, same street
COMMUNITY: Who = ("community", "LW-LN-01")
SUPERVISOR: Who = ("supervisor", "LW")
GARBAGE, POTHOLE = "C01-01", "C02-01"  # 垃圾堆积, 道路破损

# 多宝路 alley: the base point, and points a given distance north or east of it.
BASE = (23.1180, 113.2520)
M_PER_DEG_LAT = math.pi * 6_371_008.8 / 180


def north(metres: float) -> tuple[float, float]:
    return BASE[0] + metres / M_PER_DEG_LAT, BASE[1]


def east(metres: float) -> tuple[float, float]:
    return BASE[0], BASE[1] + metres / (M_PER_DEG_LAT * math.cos(math.radians(BASE[0])))


class Intake:
    def __init__(self, client: Client, tokens: Any, clock: FakeClock) -> None:
        self.client, self.tokens, self.clock = client, tokens, clock

    def raise_call(
        self,
        grid: str,
        item: str = GARBAGE,
        at: tuple[float, float] | None = None,
        who: Who | None = None,
        title: str = "多宝路巷口垃圾堆积",
        key: str | None = None,
    ) -> dict[str, Any]:
        if key is None:
            self.clock.advance(60)
        body: dict[str, Any] = {
            "item_code": item,
            "grid_code": grid,
            "title": title,
            "description": "巷口垃圾两天无人清运",
            "channel": "photo",
        }
        if at is not None:
            body["location"] = {"address": "多宝路", "lat": at[0], "lon": at[1]}
        response = self.client.post(
            "/api/v1/calls", json=body, headers=self.tokens.headers(*(who or ("grid_worker", grid)), key=key)
        )
        assert response.status_code == 201, response.text
        call: dict[str, Any] = response.json()
        return call

    def act(self, call: dict[str, Any], action: str, who: Who, body: dict[str, Any]) -> Any:
        return self.client.post(
            f"/api/v1/calls/{call['id']}/{action}", json=body, headers=self.tokens.headers(*who)
        )

    def hints_for(self, call: dict[str, Any], who: Who = COMMUNITY, after: int | None = None) -> Any:
        return self.client.get(
            f"/api/v1/calls/{call['id']}/possible-duplicates",
            params={"min_position": after or call["position"]},
            headers=self.tokens.headers(*who),
        )


@pytest.fixture
def intake(client: Client, tokens: Any, clock: FakeClock) -> Intake:
    return Intake(client, tokens, clock)


def ids(hints: list[dict[str, Any]]) -> list[str]:
    return [h["id"] for h in hints]


# --- found, and merged ---------------------------------------------------------------------------------


def test_the_same_alley_problem_reported_twice_is_hinted_and_the_holder_merges_it(intake: Intake) -> None:
    first = intake.raise_call(G01, at=BASE)
    assert first["possible_duplicates"] == []
    second = intake.raise_call(G01, who=COMMUNITY, title="居民来电：巷口垃圾")  # no location given

    (hint,) = second["possible_duplicates"]
    assert hint == {
        "id": first["id"],
        "item_code": GARBAGE,
        "grid_code": G01,
        "community_code": "LW-LN-01",
        "title": "多宝路巷口垃圾堆积",
        "raised_at": first["raised_at"],
        "same_grid": True,
        "distance_m": None,  # the second report has no location
    }
    (now,) = intake.hints_for(second).json()["data"]
    assert now == {**hint, "status": "awaiting_response", "level": "community", "holder": "LW-LN-01"}

    assert ids(intake.hints_for(first, after=second["position"]).json()["data"]) == [second["id"]]
    merged = intake.act(second, "merge", COMMUNITY, {"into": hint["id"], "reason": "同一事项重复上报"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == "merged" and merged.json()["merged_into"] == first["id"]
    after = intake.hints_for(first, after=merged.json()["position"])
    assert after.status_code == 200 and after.json()["data"] == [], "a merged call is no longer open"


def test_a_report_from_the_next_grid_is_hinted_by_distance(intake: Intake) -> None:
    first = intake.raise_call(G01, at=BASE)
    near = intake.raise_call(G02, at=east(120))
    (hint,) = near["possible_duplicates"]
    assert hint["id"] == first["id"] and hint["same_grid"] is False
    assert hint["distance_m"] == pytest.approx(120, abs=1)

    far = intake.raise_call(G02, at=north(450))
    assert ids(far["possible_duplicates"]) == [near["id"]], "same grid as `near`, 450 m from `first`"
    # And from the first call's side: both later reports are candidates, nearest-in-grid first
    # (asked once the read models have both: a raise's answer does not wait for them).
    seen = intake.hints_for(first, after=far["position"])
    assert ids(seen.json()["data"]) == [near["id"]]


def test_hints_come_best_first(intake: Intake) -> None:
    farther = intake.raise_call(G02, at=north(180))
    nearer = intake.raise_call(G02, at=north(40))
    same_grid = intake.raise_call(G01, at=north(150))
    newest = intake.raise_call(G01, at=BASE)
    hints = newest["possible_duplicates"]
    assert ids(hints) == [same_grid["id"], nearer["id"], farther["id"]]
    assert [h["same_grid"] for h in hints] == [True, False, False]


def test_a_retried_raise_gets_the_hints_its_first_answer_had(intake: Intake) -> None:
    """The hints answer "as of the raise": calls raised after it, or changed since, do not
    change what a retry under the same Idempotency-Key is told."""
    first = intake.raise_call(G01, at=BASE)
    second = intake.raise_call(G01, at=BASE, key="phone-0001")
    assert ids(second["possible_duplicates"]) == [first["id"]]
    later = intake.raise_call(G01, at=BASE)
    assert intake.act(first, "withdraw", COMMUNITY, {"reason": "居民已自行处理"}).status_code == 200

    retried = intake.raise_call(G01, at=BASE, key="phone-0001")
    assert retried == second
    read = intake.client.get(f"/api/v1/calls/{second['id']}", headers=intake.tokens.headers(*COMMUNITY))
    assert read.json()["possible_duplicates"] == second["possible_duplicates"], "every answer alike"
    now = intake.hints_for(second, after=later["position"] + 1).json()["data"]
    assert ids(now) == [later["id"]], "asked again now: the withdrawn call is gone, the later one is there"


# --- what is not hinted -----------------------------------------------------------------------------


def test_another_item_or_a_finished_call_is_no_duplicate(intake: Intake) -> None:
    pothole = intake.raise_call(G01, item=POTHOLE, at=BASE)
    withdrawn = intake.raise_call(G01, at=BASE)
    assert intake.act(withdrawn, "withdraw", COMMUNITY, {"reason": "居民已自行清理"}).status_code == 200
    fresh = intake.raise_call(G01, at=BASE)
    assert fresh["possible_duplicates"] == []
    assert pothole["id"] not in ids(fresh["possible_duplicates"])


def test_a_call_older_than_the_window_is_no_duplicate(intake: Intake, clock: FakeClock) -> None:
    old = intake.raise_call(G01, at=BASE)
    clock.advance(timedelta(days=6, hours=23).total_seconds())
    assert ids(intake.raise_call(G01, at=BASE)["possible_duplicates"]) == [old["id"]]
    clock.advance(timedelta(hours=2).total_seconds())
    later = intake.raise_call(G01, at=BASE)
    assert old["id"] not in ids(later["possible_duplicates"]), "raised more than 7 days ago"


def test_only_calls_the_raiser_can_see_are_hinted(intake: Intake) -> None:
    """A call of another community 50 m away is not this grid worker's to see (nor to merge into);
    a supervisor taking the same matter on the hotline is shown both."""
    theirs = intake.raise_call(ELSEWHERE, at=north(50))
    ours = intake.raise_call(G01, at=BASE)
    assert ours["possible_duplicates"] == []
    hotline = intake.raise_call(G01, at=east(30), who=SUPERVISOR)
    assert set(ids(hotline["possible_duplicates"])) == {theirs["id"], ours["id"]}
    assert intake.hints_for(ours, ("community", "LW-LN-02")).status_code == 404


# --- the query itself, with other settings ------------------------------------------------------------


def test_the_radius_and_the_window_are_the_queries_settings(
    intake: Intake, services: Services, clock: FakeClock
) -> None:
    first = intake.raise_call(G01, at=BASE)
    second = intake.raise_call(G02, at=east(120))
    services.projector.wait_until(second["position"], 5)
    subject = Subject.of(second["id"], GARBAGE, G02, {"lat": east(120)[0], "lon": east(120)[1]})
    supervisor = Principal(Role.SUPERVISOR, "LW")

    def found(rule: DuplicateRule, days_later: float = 0) -> list[str]:
        now = clock.now() + timedelta(days=days_later)
        with services.engine.connect() as conn:
            rows = open_now(conn, supervisor, services.app.org, subject, rule, now)
        return [r["call_id"] for r in rows]

    assert found(DuplicateRule(radius_m=200, days=7)) == [first["id"]]
    assert found(DuplicateRule(radius_m=100, days=7)) == []
    assert found(DuplicateRule(radius_m=200, days=1), days_later=2) == []
    assert services.settings.duplicate_radius_m == 200 and services.settings.duplicate_days == 7


def test_distances_are_great_circle_metres() -> None:
    assert haversine_m(*BASE, *BASE) == 0
    assert haversine_m(*BASE, *north(1000)) == pytest.approx(1000, rel=1e-6)
    assert haversine_m(*BASE, *east(1000)) == pytest.approx(1000, rel=1e-3)
    # 广州塔 to 北京天安门: about 1,890 km.
    assert haversine_m(23.1066, 113.3245, 39.9087, 116.3975) == pytest.approx(1_890_000, rel=0.01)
