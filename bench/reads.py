"""P4 and P6: read latency over HTTP against the real server, one request at a time.

P4 asks what people of several roles ask of a district of N calls: the SLA dashboard (default
range, and a year by month), unit scores, a department's queue, call search with several
filters, the ledger — each with realistic parameters and the token of someone allowed to ask.
P6 reads one 50-event call's history and its past (``as_of``, ``version``) as an auditor.
Every answer must be 200; p50/p95/p99 in ms over ``times`` requests after a short warm-up.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from bench.store import UNTIL

Request = tuple[str, dict[str, Any], str]  # path, query, token
SHANGHAI_OFFSET = timedelta(hours=8)
WARM_UP = 5
WORDS = ("垃圾", "路灯", "井盖", "噪音", "占道", "违停", "油烟", "扰民", "破损", "堵塞")


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def rank(p: int) -> float:
        return round(ordered[min(len(ordered) - 1, -(-p * len(ordered) // 100) - 1)], 2)

    return {"p50_ms": rank(50), "p95_ms": rank(95), "p99_ms": rank(99), "n": len(ordered)}


def timed(client: httpx.Client, make: Callable[[], Request], times: int) -> dict[str, Any]:
    samples, failed, statuses = [], 0, set()
    for i in range(WARM_UP + times):
        path, params, token = make()
        started = time.perf_counter()
        response = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            failed += 1
            statuses.add(response.status_code)
        if i >= WARM_UP:
            samples.append(elapsed)
    return percentiles(samples) | {"non_200": failed, "statuses": sorted(statuses)}


class Asks:
    """P4's reads, each a method that makes the next request (path, query, token) with
    parameters drawn at random and the token of someone allowed to ask."""

    def __init__(self, tokens: dict[str, str], items: list[str], rng: random.Random) -> None:
        def of(role: str) -> list[tuple[str, str]]:
            return [(key.split(" ", 1)[1], t) for key, t in tokens.items() if key.startswith(f"{role} ")]

        self.supervisors = of("supervisor") + of("auditor")
        self.streets, self.departments = of("street"), of("department")
        self.scoped = self.streets + of("community")
        self.items, self.rng = items, rng
        self.today = (UNTIL + SHANGHAI_OFFSET).date()

    def all(self) -> dict[str, Callable[[], Request]]:
        return {
            "dashboard, default range": self.dashboard_default,
            "dashboard, a year by month": self.dashboard_year,
            "unit scores": self.unit_scores,
            "department queue page": self.department_queue,
            "call search, several filters": self.call_search,
            "call search, free text": self.call_search_text,
            "ledger": self.ledger,
        }

    def dashboard_default(self) -> Request:
        _, token = self.rng.choice(self.supervisors + self.scoped)
        return "/api/v1/dashboards/sla", {}, token

    def dashboard_year(self) -> Request:
        unit, token = self.rng.choice(self.supervisors + self.streets)
        first, last = self.today - timedelta(days=364), self.today
        query = {"from": first.isoformat(), "to": last.isoformat(), "granularity": "month"}
        return "/api/v1/dashboards/sla", query | ({} if unit == "LW" else {"unit": unit}), token

    def unit_scores(self) -> Request:
        _, token = self.rng.choice(self.supervisors)
        year, quarter = self.today.year, (self.today.month - 1) // 3 + 1
        period = self.rng.choice([None, str(year), f"{year}-Q{quarter}"])
        kind = self.rng.choice(["street", "department"])
        return "/api/v1/scores/units", {"kind": kind} | ({"period": period} if period else {}), token

    def department_queue(self) -> Request:
        code, token = self.rng.choice(self.departments)
        status = self.rng.choice([None, "dispatched,signed", "signed"])
        query: dict[str, Any] = {"limit": 50} | ({"status": status} if status else {})
        return f"/api/v1/departments/{code}/work-orders", query, token

    def call_search(self) -> Request:
        unit, token = self.rng.choice(self.scoped)
        statuses = ["awaiting_response,in_progress", "dispatched", "resolved,evaluated"]
        query: dict[str, Any] = {"unit": unit, "status": self.rng.choice(statuses), "limit": 50}
        if self.rng.random() < 0.5:
            query["overdue"] = "true"
        if self.rng.random() < 0.5:
            query["item"] = self.rng.choice(self.items)
        return "/api/v1/calls", query, token

    def call_search_text(self) -> Request:
        """Words people look for (垃圾, 路灯, …: two characters of an item's name), in a unit,
        sometimes with a status."""
        unit, token = self.rng.choice(self.scoped)
        query: dict[str, Any] = {"unit": unit, "q": self.rng.choice(WORDS), "limit": 50}
        if self.rng.random() < 0.5:
            query["status"] = self.rng.choice(["awaiting_response,in_progress", "resolved,evaluated"])
        return "/api/v1/calls", query, token

    def ledger(self) -> Request:
        _, token = self.rng.choice(self.scoped + self.supervisors)
        return "/api/v1/ledger", {"limit": 50}, token


def p4(url: str, tokens: dict[str, str], items: list[str], times: int, seed: int = 1) -> dict[str, Any]:
    asks = Asks(tokens, items, random.Random(seed))
    with httpx.Client(base_url=url, timeout=60.0) as client:
        return {name: timed(client, make, times) for name, make in asks.all().items()}


# --- P6 ---------------------------------------------------------------------------------------------


CLOCK_STEP_SECONDS = 1  # the demo clock's move between a long call's steps


def long_call(client: httpx.Client, tokens: dict[str, str], events: int) -> str:
    """A call with ``events`` events, made over HTTP as its people would: raised, taken on,
    called up, dispatched, signed, then the department's progress notes (进展). The demo clock
    moves a second between steps: ``as_of`` has a past to look at, and the district's deadlines
    hardly move. (A minute a step moved the clock 50 minutes: the watchdog then swept the
    district's calls that fell due meanwhile, and P6 timed the reads beside that burst.)"""
    grid, community, street = "LW-LN-01-G01", "LW-LN-01", "LW-LN"
    step = 0

    def post(path: str, who: str, body: dict[str, Any]) -> dict[str, Any]:
        nonlocal step
        step += 1
        clock = {"advance_seconds": CLOCK_STEP_SECONDS}
        client.post("/api/v1/_clock", json=clock, headers=_auth(tokens["admin LW"]))
        headers = _auth(tokens[who]) | {"Idempotency-Key": f"p6-{time.time_ns()}-{step}"}
        response = client.post(path, json=body, headers=headers)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    raised = post(
        "/api/v1/calls",
        f"grid_worker {grid}",
        {
            "item_code": "C01-01",
            "grid_code": grid,
            "title": "楼道垃圾",
            "description": "堆积多日",
            "channel": "grid_worker",
        },
    )
    call = f"/api/v1/calls/{raised['id']}"
    post(f"{call}/acknowledge", f"community {community}", {})
    post(f"{call}/escalate", f"community {community}", {"reason": "需街道统筹"})
    post(f"{call}/acknowledge", f"street {street}", {})
    post(f"{call}/dispatch", f"street {street}", {"lead_department": "CG", "instructions": "清运"})
    order = f"/api/v1/work-orders/{raised['id']}-w1"
    post(f"{order}/sign", "department CG", {})
    version = 6
    while version < events:
        version = post(f"{order}/progress", "department CG", {"note": "进展顺利"})["version"]
    return str(raised["id"])


def p6(url: str, tokens: dict[str, str], times: int, events: int = 50) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=60.0) as client:
        call_id = long_call(client, tokens, events)
        settle(client)
        auditor = tokens["auditor LW"]
        history = client.get(f"/api/v1/calls/{call_id}/history", headers=_auth(auditor)).json()
        middle = history["data"][len(history["data"]) // 2]["at"] if "data" in history else None
        path = f"/api/v1/calls/{call_id}"
        reads: dict[str, Callable[[], Request]] = {
            "history": lambda: (f"{path}/history", {}, auditor),
            "as_of": lambda: (path, {"as_of": middle} if middle else {}, auditor),
            "version": lambda: (path, {"version": events // 2}, auditor),
        }
        return {"events": events} | {name: timed(client, make, times) for name, make in reads.items()}


SETTLE_SECONDS = 60.0
_LAG = re.compile(r'^huying_projection_lag\{projection="([\w-]+)"\} (\S+)$', re.MULTILINE)


def settle(client: httpx.Client) -> None:
    """Until the read models and the hash chain have reached the log (/metrics): P6 times reads
    of a call, not reads racing the duties' process through the call's own fifty writes."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        lags = dict(_LAG.findall(client.get("/metrics").text))
        if lags and all(float(lag) == 0 for lag in lags.values()):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the server's projections did not reach the log within {SETTLE_SECONDS:.0f} s")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
