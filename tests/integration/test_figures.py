"""The SLA dashboard and the 一呼一评 scores, checked against figures worked out by hand.

One written-out week in 荔湾, driven through the HTTP API with the clock moved between steps
(all times Asia/Shanghai, Monday 23 – Friday 27 November 2026, one follow-up on Tuesday 1
December; "now" is Wednesday 2 December 09:00). Ten calls, two streets, two departments (and ZJ assisting):

  A  LW-LN-01  community acknowledges and resolves; satisfied; closed
  B  LW-LN-02  community escalates unanswered; street dispatches CG (+ZJ assisting); CG on time;
               basically satisfied; closed (ZJ never signed: its order was cancelled on resolve)
  C  LW-LN-01  escalated; dispatched to SW, who returns it (退单); re-dispatched to CG, late;
               dissatisfied → reopened (重办) to the street, which resolves it; satisfied
  D  LW-HL-01  escalated; dispatched to SW, on time (+ZJ assisting, never signed: cancelled when
               the street resolves D); reporter unreachable (contacted=false)
  E  LW-HL-02  raised Mon 23:30 (still the 23rd in Guangzhou); escalated; street resolves; satisfied
  H  LW-HL-03  raised Tue 00:30 (the 24th in Guangzhou, the 23rd in UTC); acknowledged, still open
  F  LW-HL-01  withdrawn (撤回) before anyone answered
  G  LW-LN-03  escalated; dispatched to CG, signed, deadline passes: overdue; 督办 against CG
  I  LW-LN-01  a duplicate of A, merged into it
  J  LW-HL-03  escalated; street resolves; 督办 against LW-HL; evaluated dissatisfied on 1 Dec

Due times, worked out by hand: working time is 08:30–12:00 and 14:00–17:30 on working days (all
of 23–27 and 30 November are), a clock started out of hours starts at the next working period,
and item C01-01 gives the community 2 working hours to respond and 1 working day (7 h) to
resolve, the street 4 working hours and 2 working days. Arrival → response due / resolution due:

  community A, B, C  Mon 09:00 → Mon 11:00 / Tue 09:00   A ack 09:30, C ack 10:00 on time; B
                                                         escalated 10:00 unanswered, before due
            D        Mon 18:00 → Tue 10:30 / Tue 17:30   (starts Tue 08:30) ack Mon 18:30 on time
            E        Mon 23:30 → Tue 10:30 / Tue 17:30   escalated Tue 08:00, before due
            H        Tue 00:30 → Tue 10:30 / Tue 17:30   ack 12:00 LATE; still open: overdue
            F        Tue 14:00 → Tue 16:00 / Wed 12:00   withdrawn 14:30, before due
            G        Tue 15:00 → Tue 17:00 / Wed 15:00   ack 15:30 on time
            I        Tue 19:00 → Wed 10:30 / Wed 17:30   merged 19:30, before due
            J        Thu 14:00 → Thu 16:00 / Fri 12:00   escalated 14:30, before due
  street    B  LN    Mon 10:00 → Mon 16:00 / Wed 10:00   ack 10:15; resolved Tue 11:00 on time
            C1 LN    Mon 12:00 → Tue 09:00 / Wed 12:00   ack 13:00; resolved Tue 18:30 on time
            D  HL    Mon 19:00 → Tue 14:30 / Wed 17:30   ack Tue 09:00; resolved Thu 09:00 LATE
            E  HL    Tue 08:00 → Tue 14:30 / Wed 17:30   ack 08:30; resolved Tue 11:00 on time
            G  LN    Tue 16:00 → Wed 11:00 / Thu 16:00   ack 16:30; still open: overdue
            C2 LN    Wed 10:30 → (reopen: no response clock) / Fri 10:30; resolved Thu 10:00 on time
            J  HL    Thu 14:30 → Fri 09:30 / Mon 30 Nov 14:30   ack 15:00; resolved 16:00 on time

Work orders: each dispatch gives its deadline; the signing (签收) due time comes from the item's
department response limit, 1 working day (7 h) for C01-01, counted from the dispatch. An order
returned or cancelled unsigned was owed no signature if that happened before its signing due
time, and is late if after (docs/metrics.md §2). Dispatch → signing due:

  B-w1 CG, B-w2 ZJ  Mon 10:30 → Tue 10:30   (1.5 + 3.5 h Mon, 2 h Tue) CG signed Mon 11:00 on time;
                                           ZJ cancelled unsigned when B was resolved Tue 11:00: LATE
  C-w1 SW           Mon 14:00 → Tue 12:00   (3.5 h Mon afternoon, 3.5 h Tue morning) returned
                                           unsigned Mon 15:00, before its due: not owed
  C-w2 CG           Mon 16:00 → Tue 16:00   (1.5 + 3.5 + 2 h) signed Mon 17:00 on time
  D-w1 SW, D-w2 ZJ  Tue 09:30 → Wed 09:30   (2.5 + 3.5 + 1 h) SW signed Wed 15:00 LATE; ZJ cancelled
                                           unsigned when D was resolved Thu 09:00: LATE
  G-w1 CG           Tue 17:00 → Wed 17:00   (0.5 + 3.5 + 3 h) signed Tue 17:30 on time

The test settings rank a unit from 2 evaluated calls (the default is 5), and keep the watchdog
off: nothing but the steps below may act on the calls.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import pytest
from httpx import Client
from sqlalchemy import and_, select, text, update

from backends import Backend
from conftest import MONDAY_MORNING
from conftest import Tokens as IssuedTokens
from deployment_templates import Templates, module_services
from huying.api.app import create_app
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.org import UnitKind
from huying.projections import spread
from huying.projections.tables import rm_sla_tallies
from huying.queries.scores import dense_rank
from huying.queries.spread_memo import MEMO
from huying.queries.warming import warm
from huying.settings import Settings
from in_loop import in_loop

CST = timezone(timedelta(hours=8))


class Tokens(Protocol):
    def headers(self, role: str, unit: str, key: str | None = None, **extra: str) -> dict[str, str]: ...


SUPERVISOR = ("supervisor", "LW")
CALLS = "/api/v1/calls"


# The week's settings over the backend's: ranks from two evaluated rounds; no watchdog acting.
WEEK_SETTINGS: dict[str, Any] = {"min_evaluated_for_rank": 2, "run_watchdog": False}


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, **WEEK_SETTINGS)


def cst(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


class Week:
    """Drives the scenario over HTTP; remembers each call's id and the last write's position."""

    def __init__(self, client: Client, tokens: Tokens, clock: FakeClock) -> None:
        self.client, self.tokens, self.clock = client, tokens, clock
        self.ids: dict[str, str] = {}
        self.position = 0

    def at(self, month: int, day: int, hour: int, minute: int = 0) -> Week:
        self.clock.set(cst(month, day, hour, minute))
        return self

    def post(self, path: str, who: tuple[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.client.post(path, json=body, headers=self.tokens.headers(*who))
        assert r.status_code in (200, 201), f"POST {path} as {who}: {r.text}"
        answer: dict[str, Any] = r.json()
        self.position = max(self.position, answer["position"])
        return answer

    def raise_call(self, name: str, grid: str) -> None:
        body = {
            "item_code": "C01-01",
            "grid_code": grid,
            "title": f"呼叫 {name}",
            "description": "垃圾堆放无人清运",
            "channel": "grid_worker",
        }
        self.ids[name] = self.post(CALLS, ("grid_worker", grid), body)["id"]

    def act(self, name: str, action: str, who: tuple[str, str], body: dict[str, Any] | None = None) -> None:
        self.post(f"{CALLS}/{self.ids[name]}/{action}", who, body)

    def order(self, name: str, n: int, action: str, body: dict[str, Any] | None = None) -> None:
        order_id = f"{self.ids[name]}-w{n}"
        call = self.client.get(f"/api/v1/work-orders/{order_id}", headers=self.tokens.headers(*SUPERVISOR))
        department = call.json()["department_code"]
        self.post(f"/api/v1/work-orders/{order_id}/{action}", ("department", department), body)

    def dispatch(self, name: str, street: str, lead: str, deadline: datetime, *assist: str) -> None:
        body = {
            "lead_department": lead,
            "assisting_departments": list(assist),
            "deadline": deadline.isoformat(),
            "instructions": "限期清运",
        }
        self.act(name, "dispatch", ("street", street), body)

    def get(self, path: str, who: tuple[str, str] = SUPERVISOR, **params: str) -> dict[str, Any]:
        if not path.endswith("/history"):  # the history is read from the event store: always current
            params["min_position"] = str(self.position)
        r = self.client.get(path, params=params, headers=self.tokens.headers(*who))
        assert r.status_code == 200, f"GET {path} as {who}: {r.text}"
        body: dict[str, Any] = r.json()
        return body


def ack(who: tuple[str, str]) -> tuple[str, tuple[str, str], dict[str, Any]]:
    return ("acknowledge", who, {"note": "收到"})


def play(w: Week) -> None:
    ln01, ln02, ln03 = ("community", "LW-LN-01"), ("community", "LW-LN-02"), ("community", "LW-LN-03")
    hl01, hl02, hl03 = ("community", "LW-HL-01"), ("community", "LW-HL-02"), ("community", "LW-HL-03")
    ln, hl = ("street", "LW-LN"), ("street", "LW-HL")
    up = {"reason": "社区无法解决，上呼街道"}
    done = {"summary": "已处理"}

    # Monday 23 November
    w.at(11, 23, 9).raise_call("A", "LW-LN-01-G01")
    w.raise_call("B", "LW-LN-02-G01")
    w.raise_call("C", "LW-LN-01-G02")
    w.at(11, 23, 9, 30).act("A", *ack(ln01))
    w.at(11, 23, 10).act("B", "escalate", ln02, up)
    w.act("C", *ack(ln01))
    w.at(11, 23, 10, 15).act("B", *ack(ln))
    w.at(11, 23, 10, 30).dispatch("B", "LW-LN", "CG", cst(11, 25, 10, 30), "ZJ")  # B-w1 CG, B-w2 ZJ
    w.at(11, 23, 11).act("A", "resolve", ln01, done)
    w.order("B", 1, "sign")
    w.at(11, 23, 12).act("C", "escalate", ln01, up)
    w.at(11, 23, 13).act("C", *ack(ln))
    w.at(11, 23, 14).dispatch("C", "LW-LN", "SW", cst(11, 24, 14))  # C-w1 SW
    w.at(11, 23, 15).order("C", 1, "return", {"reason": "不属本部门职责"})
    w.at(11, 23, 16).dispatch("C", "LW-LN", "CG", cst(11, 24, 16))  # C-w2 CG
    w.at(11, 23, 17).order("C", 2, "sign")
    w.at(11, 23, 18).raise_call("D", "LW-HL-01-G01")
    w.at(11, 23, 18, 30).act("D", *ack(hl01))
    w.at(11, 23, 19).act("D", "escalate", hl01, up)
    w.at(11, 23, 23, 30).raise_call("E", "LW-HL-02-G01")
    # Tuesday 24 November
    w.at(11, 24, 0, 30).raise_call("H", "LW-HL-03-G01")
    w.at(11, 24, 8).act("E", "escalate", hl02, up)
    w.at(11, 24, 8, 30).act("E", *ack(hl))
    w.at(11, 24, 9).act("D", *ack(hl))
    w.at(11, 24, 9, 30).dispatch("D", "LW-HL", "SW", cst(11, 26, 9, 30), "ZJ")  # D-w1 SW, D-w2 ZJ
    w.at(11, 24, 10).order("B", 1, "complete", {"result": "已清运"})
    w.at(11, 24, 11).act("B", "resolve", ln, done)
    w.act("E", "resolve", hl, done)
    w.at(11, 24, 12).act("H", *ack(hl03))
    w.at(11, 24, 14).raise_call("F", "LW-HL-01-G02")
    w.at(11, 24, 14, 30).act("F", "withdraw", ("grid_worker", "LW-HL-01-G02"), {"reason": "居民已自行处理"})
    w.at(11, 24, 15).raise_call("G", "LW-LN-03-G01")
    w.at(11, 24, 15, 30).act("G", *ack(ln03))
    w.at(11, 24, 16).act("G", "escalate", ln03, up)
    w.at(11, 24, 16, 30).act("G", *ack(ln))
    w.at(11, 24, 17).dispatch("G", "LW-LN", "CG", cst(11, 25, 17))  # G-w1 CG
    w.at(11, 24, 17, 30).order("G", 1, "sign")
    w.at(11, 24, 18).order("C", 2, "complete", {"result": "已清运"})
    w.at(11, 24, 18, 30).act("C", "resolve", ln, done)
    w.at(11, 24, 19).raise_call("I", "LW-LN-01-G01")
    w.at(11, 24, 19, 30).act("I", "merge", ln01, {"into": w.ids["A"], "reason": "同一事项重复上报"})
    # Wednesday 25 November
    w.at(11, 25, 9).act("A", "evaluate", ln01, {"solved": True, "satisfaction": "satisfied"})
    w.act("B", "evaluate", ln02, {"solved": True, "satisfaction": "basically_satisfied"})
    w.at(11, 25, 9, 10).act("A", "close", ln01)
    w.act("B", "close", ln02)
    w.at(11, 25, 10).act("C", "evaluate", ln01, {"solved": False, "satisfaction": "dissatisfied"})
    w.at(11, 25, 10, 30).act("C", "reopen", ln01, {"reason": "仍有垃圾"})
    w.at(11, 25, 11).act("E", "evaluate", hl02, {"solved": True, "satisfaction": "satisfied"})
    w.at(11, 25, 15).order("D", 1, "sign")
    w.at(11, 25, 16).order("D", 1, "complete", {"result": "已疏通"})
    # Thursday 26 November
    w.at(11, 26, 9).act("D", "resolve", hl, done)
    w.at(11, 26, 10).act("C", "resolve", ln, done)
    w.at(11, 26, 11).act("G", "supervise", SUPERVISOR, {"reason": "工单逾期", "unit": "CG"})
    w.at(11, 26, 14).raise_call("J", "LW-HL-03-G02")
    w.at(11, 26, 14, 30).act("J", "escalate", hl03, up)
    w.at(11, 26, 15).act("J", *ack(hl))
    w.at(11, 26, 16).act("J", "resolve", hl, done)
    # Friday 27 November
    w.at(11, 27, 9).act("D", "evaluate", hl01, {"contacted": False})
    w.at(11, 27, 10).act("C", "evaluate", ln01, {"solved": True, "satisfaction": "satisfied"})
    w.at(11, 27, 11).act("J", "supervise", SUPERVISOR, {"reason": "处置迟缓", "unit": "LW-HL"})
    w.act("H", "supervise", SUPERVISOR, {"reason": "久拖未决"})  # against the holder, LW-HL-03
    # Tuesday 1 December
    w.at(12, 1, 10).act("J", "evaluate", hl03, {"solved": False, "satisfaction": "dissatisfied"})
    w.at(12, 2, 9)  # now


@pytest.fixture
def own_week(client: Client, tokens: Tokens, clock: FakeClock) -> Week:
    """The week played on the test's own deployment, for a test that writes to it."""
    w = Week(client, tokens, clock)
    play(w)
    return w


@contextmanager
def week_played(backend: Backend, templates: Templates, data_dir: Path) -> Iterator[Week]:
    """The week played on a deployment of its own with the week's settings, for tests that only
    read it."""
    clock = FakeClock(start=MONDAY_MORNING)
    with (
        module_services(backend, templates, data_dir, clock, **WEEK_SETTINGS) as services,
        in_loop(create_app(services=services)) as client,
    ):
        w = Week(client, IssuedTokens(services), clock)
        play(w)
        yield w


@pytest.fixture(scope="module")
def week(backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    """The week, played once per backend: the tests that share it only read it (GETs, no clock
    moved), so none can change what another sees. A test that writes has an ``own_week``."""
    with week_played(backend, templates, tmp_path_factory.mktemp("week") / "var") as w:
        yield w


def pct(n: int, p50: float | None, p90: float | None) -> dict[str, Any]:
    return {"n": n, "p50": p50, "p90": p90}


NO_TIMES = pct(0, None, None)
ZERO: dict[str, Any] = {
    "received": 0,
    "reopened": 0,
    "acknowledged": 0,
    "acknowledged_on_time": 0,
    "response_due_known": 0,
    "resolved": 0,
    "resolved_on_time": 0,
    "resolution_due_known": 0,
    "open_now": 0,
    "overdue_now": 0,
    "escalations_caused": 0,
    "returned": 0,
    "ended_otherwise": 0,
    "response_seconds": NO_TIMES,
    "resolution_seconds": NO_TIMES,
}


def figures(**given: Any) -> dict[str, Any]:
    return {**ZERO, **given}


def series(body: dict[str, Any], unit: str, level: str) -> dict[str, Any]:
    found = [s for s in [*body["series"], *body["children"]] if s["unit"] == unit and s["level"] == level]
    assert len(found) == 1, f"{unit}@{level} in {[(s['unit'], s['level']) for s in body['series']]}"
    return found[0]


def without_period(bucket: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in bucket.items() if k not in ("period", "start", "end")}


# --- the SLA dashboard ----------------------------------------------------------------------


def test_a_streets_dashboard_counts_its_own_stints_and_its_communities(week: Week) -> None:
    body = week.get(
        "/api/v1/dashboards/sla",
        unit="LW-LN",
        empty_buckets="true",
        **{"from": "2026-11-23", "to": "2026-11-27"},
    )
    assert (body["unit"], body["unit_kind"], body["from"], body["to"]) == (
        "LW-LN",
        "street",
        "2026-11-23",
        "2026-11-27",
    )
    assert [(s["unit"], s["level"]) for s in body["series"]] == [("LW-LN", "street"), ("LW-LN", "community")]
    assert [(s["unit"], s["level"]) for s in body["children"]] == [
        ("LW-LN-01", "community"),
        ("LW-LN-02", "community"),
        ("LW-LN-03", "community"),
    ]

    street = series(body, "LW-LN", "street")
    # LW-LN's stints: B (Mon 10:00, ack +900 s, resolved Tue 11:00: 25 h = 90000 s),
    # C round 1 (Mon 12:00, ack +3600 s, resolved Tue 18:30: 30.5 h = 109800 s),
    # G (Tue 16:00, ack +1800 s, still open: dispatched to CG), and C round 2 (Wed 10:30, by reopen:
    # no acknowledgement step, resolved Thu 10:00: 23.5 h = 84600 s).
    # Response times sorted [900, 1800, 3600]: p50 = the ⌈1.5⌉ = 2nd = 1800, p90 = ⌈2.7⌉ = 3rd = 3600.
    # Resolution times sorted [84600, 90000, 109800]: p50 = 2nd, p90 = 3rd.
    # All three answers came before their due times; all three resolutions too; G is past its
    # resolution due time (Thu 16:00). C2 arrived by reopen: no response clock, so 3 known.
    assert street["totals"] == figures(
        received=4,
        reopened=1,
        acknowledged=3,
        acknowledged_on_time=3,
        response_due_known=3,
        resolved=3,
        resolved_on_time=3,
        resolution_due_known=4,
        open_now=1,
        overdue_now=1,
        response_seconds=pct(3, 1800.0, 3600.0),
        resolution_seconds=pct(3, 90000.0, 109800.0),
    )
    assert [b["period"] for b in street["buckets"]] == [f"2026-11-{d}" for d in range(23, 28)]
    assert [without_period(b) for b in street["buckets"]] == [
        # B and C: [900, 3600] → p50 = ⌈1⌉ = 1st, p90 = ⌈1.8⌉ = 2nd
        figures(
            received=2,
            acknowledged=2,
            acknowledged_on_time=2,
            response_due_known=2,
            resolved=2,
            resolved_on_time=2,
            resolution_due_known=2,
            response_seconds=pct(2, 900.0, 3600.0),
            resolution_seconds=pct(2, 90000.0, 109800.0),
        ),
        figures(  # G
            received=1,
            acknowledged=1,
            acknowledged_on_time=1,
            response_due_known=1,
            resolution_due_known=1,
            open_now=1,
            overdue_now=1,
            response_seconds=pct(1, 1800.0, 1800.0),
        ),
        figures(  # C r2
            received=1,
            reopened=1,
            resolved=1,
            resolved_on_time=1,
            resolution_due_known=1,
            resolution_seconds=pct(1, 84600.0, 84600.0),
        ),
        ZERO,
        ZERO,
    ]
    assert street["backlog"] == {"open": 1, "overdue": 1, "due_soon": 0}  # G: overdue, so not "due soon"

    # Its communities' stints: A (LN-01, ack +1800 s, resolved +7200 s), B (LN-02, escalated
    # unanswered), C (LN-01, ack +3600 s, escalated), G (LN-03, ack +1800 s, escalated), I (LN-01,
    # merged unanswered). Responses [1800, 1800, 3600]: p50 = 2nd = 1800, p90 = 3rd = 3600.
    # A, C and G answered in time; B and I ended unanswered before their due times.
    assert series(body, "LW-LN", "community")["totals"] == figures(
        received=5,
        acknowledged=3,
        acknowledged_on_time=3,
        response_due_known=5,
        resolved=1,
        resolved_on_time=1,
        resolution_due_known=5,
        escalations_caused=3,
        ended_otherwise=1,
        response_seconds=pct(3, 1800.0, 3600.0),
        resolution_seconds=pct(1, 7200.0, 7200.0),
    )
    # LN-01: A, C, I. Responses [1800, 3600]: p50 = ⌈1⌉ = 1st, p90 = ⌈1.8⌉ = 2nd.
    assert series(body, "LW-LN-01", "community")["totals"] == figures(
        received=3,
        acknowledged=2,
        acknowledged_on_time=2,
        response_due_known=3,
        resolved=1,
        resolved_on_time=1,
        resolution_due_known=3,
        escalations_caused=1,
        ended_otherwise=1,
        response_seconds=pct(2, 1800.0, 3600.0),
        resolution_seconds=pct(1, 7200.0, 7200.0),
    )
    assert series(body, "LW-LN-02", "community")["totals"] == figures(
        received=1, response_due_known=1, resolution_due_known=1, escalations_caused=1
    )
    assert series(body, "LW-LN-03", "community")["totals"] == figures(
        received=1,
        acknowledged=1,
        acknowledged_on_time=1,
        response_due_known=1,
        resolution_due_known=1,
        escalations_caused=1,
        response_seconds=pct(1, 1800.0, 1800.0),
    )


def test_the_district_dashboard_by_iso_week_has_every_level(week: Week) -> None:
    body = week.get(
        "/api/v1/dashboards/sla",
        unit="LW",
        granularity="week",
        empty_buckets="true",
        **{"from": "2026-11-23"},
    )
    assert body["to"] == "2026-12-02"  # today in Guangzhou
    community, street, department = (
        series(body, "LW", level) for level in ("community", "street", "department")
    )
    # W48 is Mon 23 – Sun 29 Nov; W49 starts Mon 30 Nov and is clipped at today, Wed 2 Dec.
    assert [(b["period"], b["start"], b["end"]) for b in community["buckets"]] == [
        ("2026-W48", "2026-11-23", "2026-11-29"),
        ("2026-W49", "2026-11-30", "2026-12-02"),
    ]
    # Every community stint: A C D H G acknowledged (+1800, +3600, +1800, +41400, +1800 s);
    # B C D E G J escalated; F withdrawn and I merged; A resolved (+7200 s); H still open.
    # Responses sorted [1800, 1800, 1800, 3600, 41400]: p50 = ⌈2.5⌉ = 3rd, p90 = ⌈4.5⌉ = 5th.
    # On time: A, C, D, G; H answered late and is past its resolution due time (Tue 17:30).
    assert community["totals"] == figures(
        received=10,
        acknowledged=5,
        acknowledged_on_time=4,
        response_due_known=10,
        resolved=1,
        resolved_on_time=1,
        resolution_due_known=10,
        open_now=1,
        overdue_now=1,
        escalations_caused=6,
        ended_otherwise=2,
        response_seconds=pct(5, 1800.0, 41400.0),
        resolution_seconds=pct(1, 7200.0, 7200.0),
    )
    assert without_period(community["buckets"][0]) == community["totals"]
    assert without_period(community["buckets"][1]) == ZERO
    assert community["backlog"] == {"open": 1, "overdue": 1, "due_soon": 0}  # H
    # Street stints: B C(r1) D E G C(r2, reopen: no response clock) J. Responses B 900, C 3600,
    # D 50400 (Mon 19:00 → Tue 09:00), E 1800, G 1800, J 1800 → sorted [900, 1800, 1800, 1800,
    # 3600, 50400]: p50 = 3rd, p90 = ⌈5.4⌉ = 6th. Resolutions B 90000, C 109800, D 223200
    # (Mon 19:00 → Thu 09:00), E 10800, C r2 84600, J 5400 → sorted [5400, 10800, 84600, 90000,
    # 109800, 223200].
    # Every answer in time; every resolution in time but D's (Thu 09:00, due Wed 17:30); G overdue.
    assert street["totals"] == figures(
        received=7,
        reopened=1,
        acknowledged=6,
        acknowledged_on_time=6,
        response_due_known=6,
        resolved=6,
        resolved_on_time=5,
        resolution_due_known=7,
        open_now=1,
        overdue_now=1,
        response_seconds=pct(6, 1800.0, 50400.0),
        resolution_seconds=pct(6, 84600.0, 223200.0),
    )
    # Work orders: B-w1 CG (signed +1800, completed +84600 before its Wed 10:30 deadline), B-w2 ZJ
    # (never signed; cancelled when B was resolved), C-w1 SW (returned), C-w2 CG (signed +3600,
    # completed Tue 18:00 after its Tue 16:00 deadline: +93600), D-w1 SW (signed +106200,
    # completed +109800 before Thu 09:30), D-w2 ZJ (never signed; cancelled when D was resolved,
    # so not overdue though its deadline passed), G-w1 CG (signed +1800, open past Wed 17:00: overdue).
    # Signing times sorted [1800, 1800, 3600, 106200]: p50 = 2nd, p90 = ⌈3.6⌉ = 4th.
    # Every order has a signing due time (7 known); signed on time: B-w1, C-w2, G-w1 (D-w1 late).
    assert department["totals"] == figures(
        received=7,
        acknowledged=4,
        acknowledged_on_time=3,
        response_due_known=7,
        resolved=3,
        resolved_on_time=2,
        resolution_due_known=7,
        open_now=1,
        overdue_now=1,
        returned=1,
        ended_otherwise=2,
        response_seconds=pct(4, 1800.0, 106200.0),
        resolution_seconds=pct(3, 93600.0, 109800.0),
    )
    assert department["backlog"] == {"open": 1, "overdue": 1, "due_soon": 0}  # G-w1
    # Children: every street and department, at its own level.
    assert [s["unit"] for s in body["children"]][:5] == ["LW-LN", "LW-DB", "LW-HL", "LW-HD", "CG"]
    # LW-HL: D, E, J. Responses [1800, 1800, 50400]; resolutions [5400, 10800, 223200].
    assert series(body, "LW-HL", "street")["totals"] == figures(
        received=3,
        acknowledged=3,
        acknowledged_on_time=3,
        response_due_known=3,
        resolved=3,
        resolved_on_time=2,  # D late
        resolution_due_known=3,
        response_seconds=pct(3, 1800.0, 50400.0),
        resolution_seconds=pct(3, 10800.0, 223200.0),
    )
    # CG: B-w1, C-w2, G-w1, all signed on time. Signing [1800, 3600, 1800]; completion [84600, 93600].
    assert series(body, "CG", "department")["totals"] == figures(
        received=3,
        acknowledged=3,
        acknowledged_on_time=3,
        response_due_known=3,
        resolved=2,
        resolved_on_time=1,
        resolution_due_known=3,
        open_now=1,
        overdue_now=1,
        response_seconds=pct(3, 1800.0, 3600.0),
        resolution_seconds=pct(2, 84600.0, 93600.0),
    )
    # SW: C-w1 returned unsigned (before its signing due), D-w1 signed late and completed on time.
    assert series(body, "SW", "department")["totals"] == figures(
        received=2,
        acknowledged=1,
        response_due_known=2,
        resolved=1,
        resolved_on_time=1,
        resolution_due_known=2,
        returned=1,
        response_seconds=pct(1, 106200.0, 106200.0),
        resolution_seconds=pct(1, 109800.0, 109800.0),
    )
    # ZJ: B-w2 and D-w2, both cancelled unsigned (after their signing due times).
    assert series(body, "ZJ", "department")["totals"] == figures(
        received=2, response_due_known=2, resolution_due_known=2, ended_otherwise=2
    )


def test_days_are_guangzhou_calendar_days(week: Week) -> None:
    """E arrived Mon 23:30 (15:30 UTC) and H Tue 00:30 (16:30 UTC Monday): a day apart in
    Guangzhou, the same day in UTC."""
    body = week.get(
        "/api/v1/dashboards/sla",
        ("street", "LW-HL"),
        empty_buckets="true",
        **{"from": "2026-11-23", "to": "2026-11-24"},
    )
    communities = series(body, "LW-HL", "community")
    assert [(b["period"], b["received"]) for b in communities["buckets"]] == [
        ("2026-11-23", 2),  # D (18:00), E (23:30)
        ("2026-11-24", 2),  # H (00:30), F (14:00)
    ]
    assert series(body, "LW-HL-03", "community")["buckets"][1]["received"] == 1  # H


def test_a_departments_dashboard_defaults_to_itself(week: Week) -> None:
    body = week.get("/api/v1/dashboards/sla", ("department", "CG"), granularity="month", empty_buckets="true")
    # The last 12 months, to today: January to December 2026.
    assert (body["unit"], body["from"], body["to"]) == ("CG", "2026-01-01", "2026-12-02")
    assert [s["level"] for s in body["series"]] == ["department"]
    months = {b["period"]: b["received"] for b in body["series"][0]["buckets"]}
    assert len(months) == 12 and months["2026-11"] == 3 and months["2026-12"] == 0


def backlogs(body: dict[str, Any]) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Every series' backlog as (open, overdue, due soon)."""
    return {
        (s["unit"], s["level"]): (s["backlog"]["open"], s["backlog"]["overdue"], s["backlog"]["due_soon"])
        for s in [*body["series"], *body["children"]]
    }


def test_due_soon_counts_open_obligations_past_80_percent_of_a_running_clock(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    """A second, smaller Monday (23 November 2026), looked at on Tuesday morning. Item C01-01:
    community 2 h to respond, 1 working day (7 h) to resolve; street 4 h and 2 working days;
    department 1 working day to sign. "Due soon" starts when 80% of a clock's working time is
    used: 96 min of 2 h, 3 h 12 min of 4 h, 5 h 36 min of 7 h.

      K3  LN-03  raised Mon 09:00, unanswered: response due Mon 11:00 — overdue from then on
      K4  LN-01  raised 09:00, escalated unanswered 09:12. Street LN from 09:12: response due
                 15:12, acknowledged 09:30; resolution due Wed 09:12, 80% at Tue 15:24 (2 h 48
                 Mon morning + 3 h 30 afternoon + 3 h 30 Tue morning = 9 h 48, + 1 h 24).
                 Dispatched 10:00 to CG (lead) and ZJ, no deadline given: signing due Tue
                 10:00 (2 h + 3 h 30 Mon, 1 h 30 Tue), 80% at Tue 08:36 (2 h + 3 h 30, + 6 min);
                 deadline 5 working days, Mon 30 Nov 10:00, 80% at Fri 27 10:00. CG signs
                 11:00; ZJ never does.
      K5  LN-02  raised 14:00, escalated unanswered 14:30. Street LN from 14:30: response due
                 Tue 09:30 (3 h Mon, 1 h Tue), 80% at Tue 08:42 (3 h Mon, 12 min Tue);
                 unanswered.
      K1  LN-01  raised 16:00, unanswered: response due Tue 09:00 (1 h 30 Mon, 30 min Tue), 80%
                 at Tue 08:36 (1 h 30, + 6 min).
      K2  LN-02  raised 16:00, acknowledged 16:10; resolution due Tue 16:00, 80% at Tue 14:36.

    K4's street stint is not due soon at Tue 08:45 although ZJ's signing clock on the same
    call is: a stint's "due soon" reads the stint's own clocks, as its "overdue" does.
    """
    w = Week(client, tokens, clock)
    ln = ("street", "LW-LN")
    up = {"reason": "社区无法解决，上呼街道"}
    w.at(11, 23, 9).raise_call("K3", "LW-LN-03-G01")
    w.raise_call("K4", "LW-LN-01-G02")
    w.at(11, 23, 9, 12).act("K4", "escalate", ("community", "LW-LN-01"), up)
    w.at(11, 23, 9, 30).act("K4", *ack(ln))
    dispatch = {"lead_department": "CG", "assisting_departments": ["ZJ"], "instructions": "限期清运"}
    w.at(11, 23, 10).act("K4", "dispatch", ln, dispatch)
    w.at(11, 23, 11).order("K4", 1, "sign")
    w.at(11, 23, 14).raise_call("K5", "LW-LN-02-G01")
    w.at(11, 23, 14, 30).act("K5", "escalate", ("community", "LW-LN-02"), up)
    w.at(11, 23, 16).raise_call("K1", "LW-LN-01-G01")
    w.raise_call("K2", "LW-LN-02-G01")
    w.at(11, 23, 16, 10).act("K2", *ack(("community", "LW-LN-02")))

    # Tue 08:45. Communities: K1, K2, K3 open; K3 overdue; K1 due soon (08:36 ≤ 08:45 < 09:00).
    # Street LN: K4, K5 open; K5 due soon (08:42). Departments: CG's order (signed, deadline
    # 80% on Friday) and ZJ's (unsigned, 80% at 08:36): ZJ's is due soon.
    district = {"unit": "LW", "from": "2026-11-23", "to": "2026-11-24"}
    got = backlogs(w.at(11, 24, 8, 45).get("/api/v1/dashboards/sla", **district))
    assert {k: v for k, v in got.items() if v != (0, 0, 0)} == {  # every other unit: nothing open
        ("LW", "community"): (3, 1, 1),
        ("LW", "street"): (2, 0, 1),
        ("LW", "department"): (2, 0, 1),
        ("LW-LN", "street"): (2, 0, 1),
        ("CG", "department"): (1, 0, 0),
        ("ZJ", "department"): (1, 0, 1),
    }
    street = backlogs(w.get("/api/v1/dashboards/sla", ln, **{"from": "2026-11-23", "to": "2026-11-24"}))
    assert street == {
        ("LW-LN", "street"): (2, 0, 1),  # K5
        ("LW-LN", "community"): (3, 1, 1),
        ("LW-LN-01", "community"): (1, 0, 1),  # K1 (K4's community stint ended on escalation)
        ("LW-LN-02", "community"): (1, 0, 0),  # K2 (K5's ended likewise)
        ("LW-LN-03", "community"): (1, 1, 0),  # K3: overdue, so not "due soon"
    }

    # Tue 10:00. K1's response (due 09:00) and K5's (due 09:30) are overdue now. ZJ's signing is
    # due at exactly 10:00: not yet overdue ("due < now"), still due soon.
    body = w.at(11, 24, 10).get("/api/v1/dashboards/sla", **district)
    got = backlogs(body)
    assert (got[("LW", "community")], got[("LW", "street")], got[("LW", "department")]) == (
        (3, 2, 0),
        (2, 1, 0),
        (2, 0, 1),
    )
    # Tue 10:01. ZJ's signing is overdue.
    got = backlogs(w.at(11, 24, 10, 1).get("/api/v1/dashboards/sla", **district))
    assert (got[("LW", "department")], got[("ZJ", "department")], got[("CG", "department")]) == (
        (2, 1, 0),
        (1, 1, 0),
        (1, 0, 0),
    )


# --- the scores -----------------------------------------------------------------------------


def score(body: dict[str, Any], unit: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in body["data"] if s["unit"] == unit)
    return found


def responses(**given: int) -> dict[str, int]:
    keys = ("on_time", "late", "untimed", "pending", "ended_before_due", "not_owed")
    return {k: given.get(k, 0) for k in keys}


def test_street_scores_for_november(week: Week) -> None:
    body = week.get("/api/v1/scores/units", kind="street", period="2026-11")
    assert (body["from"], body["to"], body["min_evaluated_for_rank"]) == ("2026-11-01", "2026-11-30", 2)
    assert body["weights"] == {"response": 0.3, "solve": 0.35, "satisfaction": 0.35}
    # LN ranked; then the unranked in org order. HL's composite is higher, but one evaluated
    # call (E; D was unreachable) is not enough to be ranked.
    assert [(s["unit"], s["rank"]) for s in body["data"]] == [
        ("LW-LN", 1),
        ("LW-DB", None),
        ("LW-HL", None),
        ("LW-HD", None),
    ]
    ln = score(body, "LW-LN")
    # Received: B, C r1, G (all three answered in time) and C r2 (by reopen: owes no response).
    # Evaluated rounds reaching LN in November: B (solved, basically satisfied), C r1 (not solved,
    # dissatisfied, reopened), C r2 (solved, satisfied). A was resolved by its community.
    # composite = 0.30·3/3 + 0.35·2/3 + 0.35·2/3 = 0.3 + 0.7·2/3 = 23/30 = 0.766667
    assert ln == {
        "unit": "LW-LN",
        "name": "岭南街道",
        "kind": "street",
        "rank": 1,
        "composite": 0.766667,
        "response_rate": 1.0,
        "solve_rate": 0.666667,
        "satisfaction_rate": 0.666667,
        "return_rate": None,
        "reopen_rate": 0.333333,
        "supervised": 0,
        "evaluated_calls": 2,
        "counts": {
            "received": 4,
            "response_owed": 3,
            "responded_on_time": 3,
            "responses": responses(on_time=3, not_owed=1),
            "returned": None,
            "evaluated_rounds": 3,
            "contacted": 3,
            "not_contacted": 0,
            "solved": 2,
            "satisfied": 1,
            "basically_satisfied": 1,
            "dissatisfied": 1,
            "reopened_rounds": 1,
        },
    }
    hl = score(body, "LW-HL")
    # Received D, E, J (all answered in time). Evaluated in November: E (solved, satisfied) and D
    # (unreachable: reported, outside 解决率 and 满意率); J's evaluation falls on 1 December.
    # composite = 0.30·1 + 0.35·1 + 0.35·1 = 1.0; 督办 against LW-HL on Fri 27 Nov: 1.
    assert (hl["rank"], hl["composite"], hl["response_rate"], hl["solve_rate"], hl["satisfaction_rate"]) == (
        None,
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert (hl["reopen_rate"], hl["supervised"], hl["evaluated_calls"]) == (0.0, 1, 1)
    assert hl["counts"] | {"responses": None} == {
        "received": 3,
        "response_owed": 3,
        "responded_on_time": 3,
        "responses": None,
        "returned": None,
        "evaluated_rounds": 2,
        "contacted": 1,
        "not_contacted": 1,
        "solved": 1,
        "satisfied": 1,
        "basically_satisfied": 0,
        "dissatisfied": 0,
        "reopened_rounds": 0,
    }
    db = score(body, "LW-DB")  # nothing happened: every rate has a zero denominator
    assert [
        db[k] for k in ("composite", "response_rate", "solve_rate", "satisfaction_rate", "reopen_rate")
    ] == [None] * 5


def test_street_scores_for_the_quarter_rank_both_active_streets(week: Week) -> None:
    body = week.get("/api/v1/scores/units", kind="street", period="2026-Q4")
    assert (body["from"], body["to"]) == ("2026-10-01", "2026-12-31")
    assert [(s["unit"], s["rank"]) for s in body["data"]][:2] == [("LW-LN", 1), ("LW-HL", 2)]
    hl = score(body, "LW-HL")
    # Now J counts too: contacted E (solved, satisfied) and J (not solved, dissatisfied).
    # composite = 0.30·1 + 0.35·1/2 + 0.35·1/2 = 0.65, below LN's 0.766667
    assert (hl["composite"], hl["solve_rate"], hl["satisfaction_rate"], hl["evaluated_calls"]) == (
        0.65,
        0.5,
        0.5,
        2,
    )
    assert (hl["counts"]["evaluated_rounds"], hl["counts"]["not_contacted"], hl["reopen_rate"]) == (3, 1, 0.0)
    december = week.get("/api/v1/scores/units", kind="street", period="2026-12")
    # December: J's evaluation only; nothing arrived at LW-HL, so 响应率 (and the composite) is null.
    hl = score(december, "LW-HL")
    assert (hl["rank"], hl["composite"], hl["response_rate"], hl["solve_rate"]) == (None, None, None, 0.0)
    assert week.get("/api/v1/scores/units", kind="street", period="2026")["data"] == body["data"]


def test_department_scores_for_november(week: Week) -> None:
    body = week.get("/api/v1/scores/units", kind="department", period="2026-11")
    assert [(s["unit"], s["rank"]) for s in body["data"]][:4] == [
        ("CG", 1),
        ("ZJ", None),
        ("SW", None),
        ("JT", None),
    ]
    cg = score(body, "CG")
    # Orders B-w1, C-w2, G-w1, all signed before their signing due times: 响应率 3/3; none
    # returned. Lead orders completed in evaluated rounds: B (solved, basically satisfied), C r1
    # (not solved, dissatisfied, reopened). 督办 on G against CG.
    # composite = 0.30·1 + 0.35·1/2 + 0.35·1/2 = 0.3 + 0.35 = 0.65
    assert {k: v for k, v in cg.items() if k != "counts"} == {
        "unit": "CG",
        "name": "广州市荔湾区城市管理和综合执法局",
        "kind": "department",
        "rank": 1,
        "composite": 0.65,
        "response_rate": 1.0,
        "solve_rate": 0.5,
        "satisfaction_rate": 0.5,
        "return_rate": 0.0,
        "reopen_rate": 0.5,
        "supervised": 1,
        "evaluated_calls": 2,
    }
    assert (cg["counts"]["received"], cg["counts"]["returned"], cg["counts"]["reopened_rounds"]) == (3, 0, 1)
    assert cg["counts"]["responses"] == responses(on_time=3)
    sw = score(body, "SW")
    # C-w1 returned, D-w1 completed: 退单率 1/2. C-w1 was returned unsigned before its signing
    # due time (ended_before_due: outside 响应率); D-w1 was signed late: 响应率 0/1. D's follow-up
    # was unreachable: no contacted evaluation, so 解决率 and 满意率 (and the composite) are null;
    # 重办率 0/1.
    assert (sw["return_rate"], sw["solve_rate"], sw["composite"], sw["reopen_rate"]) == (0.5, None, None, 0.0)
    assert (sw["response_rate"], sw["counts"]["response_owed"]) == (0.0, 1)
    assert sw["counts"]["responses"] == responses(late=1, ended_before_due=1)
    assert (sw["counts"]["evaluated_rounds"], sw["counts"]["not_contacted"], sw["evaluated_calls"]) == (
        1,
        1,
        0,
    )
    zj = score(body, "ZJ")  # two assisting orders, both cancelled unsigned after their due; never a lead
    assert (zj["counts"]["received"], zj["return_rate"], zj["solve_rate"]) == (2, 0.0, None)
    assert (zj["response_rate"], zj["counts"]["responses"]) == (0.0, responses(late=2))


def test_the_record_of_a_reopened_call(week: Week) -> None:
    record = week.get(f"/api/v1/scores/calls/{week.ids['C']}", ("community", "LW-LN-01"))
    assert (record["status"], record["round"], record["result_round"]) == ("evaluated", 2, 2)
    first, second = record["rounds"]
    assert [
        (o["level"], o["unit"], o["arrived_by"], o["response"], o["outcome"], o["resolved_on_time"])
        for o in first["obligations"]
    ] == [
        ("community", "LW-LN-01", "raise", "on_time", "escalated", False),
        ("street", "LW-LN", "escalation", "on_time", "resolved", True),
        ("department", "SW", "dispatch", "ended_before_due", "returned", False),  # Mon 15:00, due Tue 12:00
        ("department", "CG", "dispatch", "on_time", "resolved", False),  # completed after its deadline
    ]
    sw, cg = first["obligations"][2:]
    assert (sw["response_due"], sw["ended_at"]) == ("2026-11-24T04:00:00Z", "2026-11-23T07:00:00Z")
    assert (cg["response_due"], cg["responded_at"]) == ("2026-11-24T08:00:00Z", "2026-11-23T09:00:00Z")
    assert {k: first[k] for k in ("contacted", "solved", "satisfaction", "reopened", "resolved_level")} == {
        "contacted": True,
        "solved": False,
        "satisfaction": "dissatisfied",
        "reopened": True,
        "resolved_level": "department",
    }
    assert (first["street_code"], first["lead_department"]) == ("LW-LN", "CG")
    assert [(o["unit"], o["arrived_by"], o["response"]) for o in second["obligations"]] == [
        ("LW-LN", "reopen", "not_owed")
    ]
    assert (second["solved"], second["satisfaction"], second["reopened"], second["lead_department"]) == (
        True,
        "satisfied",
        False,
        None,
    )
    b = week.get(f"/api/v1/scores/calls/{week.ids['B']}", ("department", "CG"))
    orders = {o["unit"]: o for o in b["rounds"][0]["obligations"] if o["level"] == "department"}
    assert (orders["CG"]["resolved_on_time"], orders["ZJ"]["outcome"]) == (True, "cancelled")
    # ZJ's order was cancelled unsigned when B was resolved, Tue 11:00, after its Tue 10:30 due.
    assert (orders["ZJ"]["response"], orders["ZJ"]["ended_at"]) == ("late", "2026-11-24T03:00:00Z")
    unreachable = week.get(f"/api/v1/scores/calls/{week.ids['D']}")["rounds"][0]
    assert (unreachable["evaluated"], unreachable["contacted"], unreachable["solved"]) == (True, False, None)


# --- an auditor's recomputation from the history alone ----------------------------------------


class Replayed:
    """A call as its history tells it, written from docs/metrics.md, not from huying's code."""

    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.round = 1
        self.status = ""
        self.stints: list[dict[str, Any]] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.evaluations: dict[int, dict[str, Any]] = {}
        self.supervisions: list[tuple[str, datetime]] = []
        for entry in history:
            getattr(self, entry["type"], lambda *_: None)(datetime.fromisoformat(entry["at"]), entry["data"])
            self.status = _STATUS_AFTER.get(entry["type"], self.status)
            if entry["type"] == "WorkOrderReturned" and entry["data"]["lead"]:
                self.status = "returned"

    def _stint(self, at: datetime, level: str, unit: str, by: str, d: dict[str, Any]) -> None:
        self.stints.append(
            {
                "level": level,
                "unit": unit,
                "round": self.round,
                "at": at,
                "ack": None,
                "end": None,
                "outcome": None,
                "by": by,
                "response_due": _instant(d.get("response_due")),
                "due": _instant(d.get("resolution_due")),
            }
        )

    def _end(self, at: datetime, outcome: str) -> None:
        if self.stints[-1]["end"] is None:
            self.stints[-1].update(end=at, outcome=outcome)

    def _cancel(self, at: datetime) -> None:
        for o in self.orders.values():
            if o["status"] in ("dispatched", "signed"):
                o.update(status="cancelled", settled=at)

    def Raised(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self._stint(at, "community", d["community_code"], "raise", d)

    def Acknowledged(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self.stints[-1]["ack"] = self.stints[-1]["ack"] or at

    def Escalated(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self._end(at, "escalated")
        self._stint(at, "street", d["to_street"], "escalation", d)

    def Dispatched(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self._cancel(at)
        for o in d["orders"]:
            self.orders[o["id"]] = {
                "department": o["department_code"],
                "role": o["role"],
                "deadline": datetime.fromisoformat(o["deadline"]),
                "sign_due": _instant(o.get("sign_due")),
                "at": at,
                "signed": None,
                "completed": None,
                "settled": None,  # returned or cancelled
                "status": "dispatched",
                "round": self.round,
            }

    def WorkOrderSigned(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self.orders[d["order_id"]].update(status="signed", signed=at)

    def WorkOrderReturned(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self.orders[d["order_id"]].update(status="returned", settled=at)

    def ExtensionGranted(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self.orders[d["order_id"]]["deadline"] = datetime.fromisoformat(d["until"])

    def WorkOrderCompleted(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self.orders[d["order_id"]].update(status="completed", completed=at)

    def Resolved(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self._end(at, "resolved")
        self._cancel(at)

    def Evaluated(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self.evaluations[d["round"]] = {**d, "at": at}

    def Reopened(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self.round += 1
        self._stint(at, d["level"], d["holder"], "reopen", d)

    def Closed(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self._cancel(at)

    def Withdrawn(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self._end(at, "withdrawn")
        self._cancel(at)

    def MergedInto(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self._end(at, "merged")
        self._cancel(at)

    def Supervised(self, at: datetime, d: dict[str, Any]) -> None:  # noqa: N802
        self.supervisions.append((d["unit"], at))

    def attributed(self, r: int) -> tuple[str | None, str | None]:
        """(the street the round reached, the department whose lead order it completed)."""
        street = next((s["unit"] for s in self.stints if s["round"] == r and s["level"] == "street"), None)
        lead = next(
            (
                o["department"]
                for o in self.orders.values()
                if o["round"] == r and o["role"] == "lead" and o["status"] == "completed"
            ),
            None,
        )
        return street, lead


def _instant(raw: str | None) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


def response_class(o: dict[str, Any], now: datetime) -> str:
    """docs/metrics.md §2, the response classification."""
    due, answered, end = o.get("response_due"), o["responded"], o["end"]
    if o["by"] == "reopen":
        return "not_owed"
    if due is None:
        return "untimed"
    if answered is not None:
        return "on_time" if answered <= due else "late"
    if end is not None:
        return "ended_before_due" if end <= due else "late"
    return "late" if due < now else "pending"


_STATUS_AFTER = {
    "Raised": "awaiting_response",
    "Acknowledged": "in_progress",
    "Escalated": "awaiting_response",
    "Dispatched": "dispatched",
    "Resolved": "resolved",
    "Evaluated": "evaluated",
    "Reopened": "in_progress",
    "Closed": "closed",
    "Withdrawn": "withdrawn",
    "MergedInto": "merged",
}


def recomputed_scores(
    calls: list[Replayed],
    kind: str,
    units: set[str],
    first: date,
    last: date,
    now: datetime,
    weights: tuple[str, ...],
    least: int,
) -> dict[str, dict[str, Any]]:
    """docs/metrics.md, 三项考评, by hand: every unit that had anything in the period."""
    start = datetime(first.year, first.month, first.day, tzinfo=CST)
    end = datetime(last.year, last.month, last.day, tzinfo=CST) + timedelta(days=1)
    inside = lambda t: start <= t < end  # noqa: E731
    c: dict[str, Counter[str]] = {}
    evaluated_calls: dict[str, set[int]] = {}
    for i, call in enumerate(calls):
        for o in obligations_of(call, kind):
            if inside(o["at"]):
                answer = response_class(o, now)
                t = c.setdefault(o["unit"], Counter())
                t["received"] += 1
                t["owed"] += answer in ("on_time", "late", "untimed", "pending")
                t["on_time"] += answer == "on_time"
                t["returned"] += o["outcome"] == "returned"
        for r, e in call.evaluations.items():
            unit = call.attributed(r)[0 if kind == "street" else 1]
            if unit is None or not inside(e["at"]):
                continue
            t = c.setdefault(unit, Counter())
            t["rounds"] += 1
            t["reopened"] += r < call.round
            if e["contacted"]:
                t["contacted"] += 1
                t["solved"] += bool(e["solved"])
                t["content"] += e["satisfaction"] in ("satisfied", "basically_satisfied")
                evaluated_calls.setdefault(unit, set()).add(i)
        for unit, at in call.supervisions:
            if inside(at):
                c.setdefault(unit, Counter())["supervised"] += 1
    result = {}
    for unit, t in c.items():
        if unit not in units:  # e.g. a 督办 against a community
            continue
        rates = [
            Fraction(t["on_time"], t["owed"]) if t["owed"] else None,
            Fraction(t["solved"], t["contacted"]) if t["contacted"] else None,
            Fraction(t["content"], t["contacted"]) if t["contacted"] else None,
        ]
        composite = (
            sum(Fraction(w) * r for w, r in zip(weights, rates, strict=True) if r is not None)
            if None not in rates
            else None
        )
        result[unit] = {
            "composite": composite,
            "rates": rates,
            "return_rate": Fraction(t["returned"], t["received"])
            if kind == "department" and t["received"]
            else None,
            "reopen_rate": Fraction(t["reopened"], t["rounds"]) if t["rounds"] else None,
            "supervised": t["supervised"],
            "evaluated_calls": len(evaluated_calls.get(unit, ())),
            "counts": (t["received"], t["owed"], t["rounds"], t["contacted"], t["solved"], t["reopened"]),
        }
    eligible = sorted(
        {
            r["composite"]
            for r in result.values()
            if r["composite"] is not None and r["evaluated_calls"] >= least
        },
        reverse=True,
    )
    for r in result.values():
        r["rank"] = (
            eligible.index(r["composite"]) + 1
            if r["composite"] in eligible and r["evaluated_calls"] >= least
            else None
        )
    return result


def as_served(s: dict[str, Any]) -> dict[str, Any]:
    def exact(x: float | None) -> Fraction | None:
        return None if x is None else Fraction(x).limit_denominator(1000)

    k = s["counts"]
    return {
        "composite": exact(s["composite"]),
        "rates": [exact(s["response_rate"]), exact(s["solve_rate"]), exact(s["satisfaction_rate"])],
        "return_rate": exact(s["return_rate"]),
        "reopen_rate": exact(s["reopen_rate"]),
        "supervised": s["supervised"],
        "evaluated_calls": s["evaluated_calls"],
        "counts": (
            k["received"],
            k["response_owed"],
            k["evaluated_rounds"],
            k["contacted"],
            k["solved"],
            k["reopened_rounds"],
        ),
        "rank": s["rank"],
    }


@pytest.mark.parametrize("kind", ["street", "department"])
@pytest.mark.parametrize("period", ["2026-11", "2026-12", "2026-Q4"])
def test_scores_recomputed_from_the_histories_alone_agree(week: Week, kind: str, period: str) -> None:
    calls = [Replayed(week.get(f"{CALLS}/{cid}/history")["data"]) for cid in week.ids.values()]
    served = week.get("/api/v1/scores/units", kind=kind, period=period)
    first, last = date.fromisoformat(served["from"]), date.fromisoformat(served["to"])
    units = {s["unit"] for s in served["data"]}
    now = datetime.fromisoformat(served["now"])
    mine = recomputed_scores(calls, kind, units, first, last, now, ("0.30", "0.35", "0.35"), 2)
    theirs = {
        s["unit"]: as_served(s)
        for s in served["data"]
        if s["counts"]["received"] or s["counts"]["evaluated_rounds"] or s["supervised"]
    }
    assert set(theirs) == set(mine)
    for unit, figures_ in mine.items():
        figures_["composite"] = (
            None if figures_["composite"] is None else Fraction(figures_["composite"]).limit_denominator(1000)
        )
        assert theirs[unit] == figures_, unit


def obligations_of(call: Replayed, level: str) -> list[dict[str, Any]]:
    """docs/metrics.md §2: a call's stints at ``level``, or its work orders."""
    if level != "department":
        return [
            {**s, "responded": s["ack"], "open": s["end"] is None} for s in call.stints if s["level"] == level
        ]
    outcomes = {"completed": "resolved", "returned": "returned", "cancelled": "cancelled"}
    return [
        {
            "unit": o["department"],
            "at": o["at"],
            "by": "dispatch",
            "response_due": o["sign_due"],  # recorded in Dispatched (orders[].sign_due)
            "responded": o["signed"],
            "end": o["completed"] or o["settled"],
            "outcome": outcomes.get(o["status"]),
            "open": o["status"] in ("dispatched", "signed") and call.status in ("dispatched", "returned"),
            "due": o["deadline"],
        }
        for o in call.orders.values()
    ]


def recomputed_figures(obs: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """docs/metrics.md §3, by hand."""

    def bin_of(t: float) -> tuple[int, int]:
        """Under a second; else which 1/128 slice of which doubling."""
        if t < 1:
            return (0, 0)
        mantissa, exponent = math.frexp(t)
        return (exponent, int((mantissa * 2 - 1) * 128))

    def nearest(values: list[float], p: int) -> float | None:
        """The largest time in the bin of the nearest-rank value."""
        ordered = sorted(values)
        if not ordered:
            return None
        value = ordered[-(-p * len(ordered) // 100) - 1]
        return max(t for t in ordered if bin_of(t) == bin_of(value))

    def times(values: list[float]) -> dict[str, Any]:
        return {"n": len(values), "p50": nearest(values, 50), "p90": nearest(values, 90)}

    resolved = [o for o in obs if o["outcome"] == "resolved"]
    return {
        "received": len(obs),
        "reopened": sum(o["by"] == "reopen" for o in obs),
        "acknowledged": sum(o["responded"] is not None for o in obs),
        "acknowledged_on_time": sum(response_class(o, now) == "on_time" for o in obs),
        "response_due_known": sum(o["response_due"] is not None for o in obs),
        "resolved": len(resolved),
        "resolved_on_time": sum(o["due"] is not None and o["end"] <= o["due"] for o in resolved),
        "resolution_due_known": sum(o["due"] is not None for o in obs),
        "open_now": sum(o["open"] for o in obs),
        "overdue_now": sum(
            o["open"]
            and (
                (o["due"] is not None and o["due"] < now)
                or (
                    o["responded"] is None
                    and o["by"] != "reopen"
                    and o["response_due"] is not None
                    and o["response_due"] < now
                )
            )
            for o in obs
        ),
        "escalations_caused": sum(o["outcome"] == "escalated" for o in obs),
        "returned": sum(o["outcome"] == "returned" for o in obs),
        "ended_otherwise": sum(
            o["outcome"] in ("withdrawn", "merged", "cancelled") or (o["outcome"] is None and not o["open"])
            for o in obs
        ),
        "response_seconds": times(
            [(o["responded"] - o["at"]).total_seconds() for o in obs if o["responded"]]
        ),
        "resolution_seconds": times([(o["end"] - o["at"]).total_seconds() for o in resolved]),
    }


def test_the_dashboard_recomputed_from_the_histories_alone_agrees(week: Week) -> None:
    calls = [Replayed(week.get(f"{CALLS}/{cid}/history")["data"]) for cid in week.ids.values()]
    served = week.get("/api/v1/dashboards/sla", unit="LW", **{"from": "2026-11-23", "to": "2026-11-27"})
    now = datetime.fromisoformat(served["now"])
    assert all(o["sign_due"] is not None for c in calls for o in c.orders.values())  # recorded in Dispatched
    for level in ("community", "street", "department"):
        mine = recomputed_figures([o for c in calls for o in obligations_of(c, level)], now)
        assert series(served, "LW", level)["totals"] == mine, level


@pytest.fixture
def read_spreads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The digests of the spreads this process reads from the database from now on."""
    read: list[str] = []
    learn = MEMO.learn
    monkeypatch.setattr(MEMO, "learn", lambda digest, blob: read.append(digest) or learn(digest, blob))
    return read


def test_a_dashboard_merges_spreads_it_has_read_without_reading_them_again(
    own_week: Week, read_spreads: list[str]
) -> None:
    """The totals of several blocks merge their spreads once per process: asked again, the
    dashboard reads no spread and answers the same. Once a spread changes (H resolved: a
    resolution time in Tuesday's block), it is another digest: the next answer reads that one
    spread and counts it, as a process that had read nothing would (``spread_memo``)."""
    week_days = {"unit": "LW", "from": "2026-11-23", "to": "2026-11-27"}

    def read() -> tuple[dict[str, Any], int]:
        read_spreads.clear()
        return own_week.get("/api/v1/dashboards/sla", **week_days), len(read_spreads)

    MEMO.clear()
    first, first_read = read()
    again, again_read = read()
    assert first_read > 1 and again_read == 0
    assert again == first
    before = series(first, "LW", "community")["totals"]["resolution_seconds"]

    own_week.at(12, 2, 9).act("H", "resolve", ("community", "LW-HL-03"), {"summary": "已处理"})
    changed, changed_read = read()
    assert changed_read == 1  # the district's community level, Tuesday: its resolution spread
    resolved = series(changed, "LW", "community")["totals"]["resolution_seconds"]
    assert resolved["n"] == before["n"] + 1
    assert resolved["p90"] == (cst(12, 2, 9) - cst(11, 24, 0, 30)).total_seconds()  # the longest of them
    MEMO.clear()
    assert read()[0] == changed


def test_a_spread_an_older_release_wrote_without_its_digest_is_merged_as_it_is(
    own_week: Week, services: Services
) -> None:
    """A projector of the release before 0020d sets a spread and not its digest (during a
    rolling upgrade). The trigger leaves that digest NULL rather than naming bytes the row no
    longer holds; the dashboard reads and merges such a spread at each request, as it is, and
    keeps nothing of it. (This release's projector names it again: ``test_spread_digests``.)"""
    week_days = {"unit": "LW", "from": "2026-11-23", "to": "2026-11-27"}
    t = rm_sla_tallies
    monday = and_(
        t.c.level == "community", t.c.scope == "LW", t.c.block == "day", t.c.start == date(2026, 11, 23)
    )
    MEMO.clear()
    before = series(own_week.get("/api/v1/dashboards/sla", **week_days), "LW", "community")["totals"]
    longest = 30 * 86_400.0  # a resolution time longer than any of the week's
    with services.engine.begin() as conn:
        stored = conn.execute(
            select(t.c.resolution_spread, t.c.resolution_n, t.c.resolution_digest).where(monday)
        ).one()
        assert stored.resolution_digest == spread.digest(stored.resolution_spread) is not None
        counts = spread.decode(stored.resolution_spread).counts() | {spread.bin_of(longest): (1, longest)}
        older = {"resolution_spread": spread.encode(counts), "resolution_n": stored.resolution_n + 1}
        conn.execute(update(t).where(monday).values(older))  # as a writer that knows no digest
        assert conn.execute(select(t.c.resolution_digest).where(monday)).scalar_one() is None

    def resolution() -> dict[str, Any]:
        totals = series(own_week.get("/api/v1/dashboards/sla", **week_days), "LW", "community")["totals"]
        return totals["resolution_seconds"]  # type: ignore[no-any-return]

    first = resolution()  # the other days' spreads held from before; Monday's read
    assert first["n"] == before["resolution_seconds"]["n"] + 1 and first["p90"] == longest
    assert resolution() == first  # read again, not kept
    MEMO.clear()
    assert resolution() == first


FIRST_ASKED = [
    {"unit": unit, "granularity": granularity}
    for unit in ("LW", "LW-HL", "LW-LN")
    for granularity in ("day", "week", "month")
]


def answered_in_december(week: Week) -> None:
    """A call in each street answered on 2 December: the week's blocks and December's, so that
    each default range's totals merge several blocks' spreads."""
    for name, grid, community in (("K", "LW-LN-01-G01", "LW-LN-01"), ("L", "LW-HL-01-G01", "LW-HL-01")):
        week.at(12, 2, 9).raise_call(name, grid)
        week.at(12, 2, 9, 10).act(name, *ack(("community", community)))
        week.at(12, 2, 9, 20).act(name, "resolve", ("community", community), {"summary": "已处理"})
    week.get("/api/v1/ledger")  # once the projector has got this far


def spreads_read_by_first_requests(week: Week, read_spreads: list[str]) -> list[int]:
    """How many spreads each of the default dashboards a supervisor or a street opens first reads."""
    counts = []
    for query in FIRST_ASKED:
        read_spreads.clear()
        week.get("/api/v1/dashboards/sla", **query)
        counts.append(len(read_spreads))
    return counts


def test_a_server_process_reads_the_default_dashboards_before_its_first_request(
    own_week: Week, services: Services, read_spreads: list[str]
) -> None:
    """``huying serve``'s workers warm up (``queries.warming``): the district's and each street's
    dashboards over the default days, weeks and months are read before the first request, so
    that request reads no spread. A process that has not warmed up reads them at that request."""
    answered_in_december(own_week)
    MEMO.clear()
    warmed = warm(services)
    assert warmed.dashboards == warmed.of == 3 * (1 + len(services.app.org.of_kind(UnitKind.STREET)))
    assert spreads_read_by_first_requests(own_week, read_spreads) == [0] * len(FIRST_ASKED)
    MEMO.clear()
    assert sum(spreads_read_by_first_requests(own_week, read_spreads)) > 0  # without it, they read


def test_warming_up_is_turned_off_by_a_budget_of_nothing_and_given_up_when_the_database_fails(
    own_week: Week,
    services: Services,
    read_spreads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``HUYING_WARM_DASHBOARDS_SECONDS=0`` reads nothing. A database that fails the warm-up
    costs only the warmth: the process starts, and its requests say what is wrong."""
    answered_in_december(own_week)
    MEMO.clear()
    monkeypatch.setattr(services.settings, "warm_dashboards_seconds", 0)
    nothing = warm(services)
    assert (nothing.dashboards, nothing.of) == (0, 0)
    assert sum(spreads_read_by_first_requests(own_week, read_spreads)) > 0
    monkeypatch.setattr(services.settings, "warm_dashboards_seconds", 10)
    with services.engine.begin() as conn:
        conn.execute(text("DROP TABLE rm_sla_tallies"))
    with caplog.at_level(logging.WARNING, logger="huying.queries.warming"):
        failed = warm(services)
    assert failed.dashboards == 0 and failed.of > 0
    assert "warming the dashboards stopped" in caplog.text


# --- the ranking rule and its settings ---------------------------------------------------------


def test_equal_composites_share_a_rank_and_the_next_follows_on() -> None:
    def unit(code: str, composite: Fraction | None, evaluated: int) -> dict[str, Any]:
        return {"unit": code, "composite": composite, "evaluated_calls": evaluated, "rank": None}

    listed = dense_rank(
        [
            unit("a", Fraction(1, 2), 5),
            unit("b", Fraction(7, 10), 5),
            unit("c", Fraction(2, 4), 9),  # the same composite as a
            unit("d", Fraction(9, 10), 4),  # the best, but too few evaluated calls
            unit("e", None, 8),  # a rate without a denominator
            unit("f", Fraction(1, 10), 5),
        ],
        min_evaluated=5,
    )
    assert [(u["unit"], u["rank"]) for u in listed] == [
        ("b", 1),
        ("a", 2),
        ("c", 2),
        ("f", 3),
        ("d", None),
        ("e", None),
    ]


@pytest.mark.parametrize("weights", ["[0.3,0.3,0.3]", "[0.5,0.6,-0.1]"])
def test_score_weights_must_sum_to_one(weights: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUYING_SCORE_WEIGHTS", weights)
    with pytest.raises(ValueError, match="sum to 1"):
        Settings()


def test_score_weights_come_from_the_settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUYING_SCORE_WEIGHTS", "[0.2, 0.4, 0.4]")
    assert Settings(data_dir=data_dir).score_weights == (0.2, 0.4, 0.4)
