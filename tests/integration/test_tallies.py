"""The tallies behind the SLA dashboard and the unit scores, on each backend: what they serve is
what the stored obligations and evaluations come to, counted one by one here; they are kept in
step batch by batch, and a store projected before they existed has them counted at its next
catch-up.

A synthetic district of a few hundred calls over six weeks (``huying seed --synthetic``) gives
every kind of obligation, late and on time, reopened, withdrawn and merged, open and settled.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from backends import Backend
from conftest import MONDAY_MORNING
from deployment_templates import Templates, module_services
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.levels import Level
from huying.domain.org import UnitKind
from huying.domain.sla import warn_at
from huying.projections.obligations import Obligation, Response, of_call
from huying.projections.periods import local_day
from huying.projections.runner import Projector, ProjectorRace
from huying.projections.tables import (
    TALLY_TABLES,
    projection_tracking,
    rm_calls,
    rm_evaluations,
    rm_stints,
    rm_supervisions,
    rm_work_orders,
)
from huying.projections.tallies import TALLIED, SlaTallies
from huying.projections.tally_rows import KnownRows
from huying.queries.dashboard import Granularity, buckets, series_of, sla_dashboard
from huying.queries.scores import parse_period, unit_scores
from huying.synthetic.seed import Plan, seed_synthetic
from stored_rows import Rows, rows_of

UNTIL = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
PLAN = Plan(calls=250, seed=11, until=UNTIL, days=45)


def seeded(services: Services) -> Services:
    clock = services.clock
    assert isinstance(clock, FakeClock)
    seed_synthetic(services, clock, PLAN)
    return services


@pytest.fixture
def own_district(services: Services) -> Services:
    """The district on the test's own deployment, for a test that writes to it."""
    return seeded(services)


@pytest.fixture(scope="module")
def district(
    backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """The district, seeded once per backend on a deployment of its own: the tests that share it
    only read it (no write, no clock moved), so none can change what another sees; a test that
    writes has an ``own_district``."""
    data_dir = tmp_path_factory.mktemp("district") / "var"
    with module_services(
        backend, templates, data_dir, FakeClock(start=MONDAY_MORNING), run_watchdog=False
    ) as services:
        yield seeded(services)


# --- counted one by one --------------------------------------------------------------------------


def stored_obligations(services: Services) -> list[Obligation]:
    with services.engine.connect() as conn:
        grids = dict(conn.execute(select(rm_calls.c.call_id, rm_calls.c.grid_code)).all())
        stints: dict[str, list[Any]] = {c: [] for c in grids}
        orders: dict[str, list[Any]] = {c: [] for c in grids}
        for r in conn.execute(select(rm_stints)).mappings():
            stints[r["call_id"]].append(dict(r))
        for r in conn.execute(select(rm_work_orders)).mappings():
            orders[r["call_id"]].append(dict(r))
    return [o for c, grid in grids.items() for o in of_call(stints[c], orders[c], grid)]


def nearest(values: list[float], p: int) -> float | None:
    """docs/metrics.md §3: the nearest-rank value, then the largest time in its bin."""
    if not values:
        return None
    ordered = sorted(values)
    value = ordered[max(-(-p * len(ordered) // 100), 1) - 1]

    def bin_of(t: float) -> tuple[int, int]:
        if t < 1:
            return (0, 0)
        mantissa, exponent = math.frexp(t)
        return (exponent, int((mantissa * 2 - 1) * 128))

    return max(t for t in ordered if bin_of(t) == bin_of(value))


def figures(obs: list[Obligation], now: datetime) -> dict[str, Any]:
    responses = [(o.responded_at - o.arrived_at).total_seconds() for o in obs if o.responded_at]
    resolutions = [(o.ended_at - o.arrived_at).total_seconds() for o in obs if o.resolved and o.ended_at]
    return {
        "received": len(obs),
        "reopened": sum(o.arrived_by.value == "reopen" for o in obs),
        "acknowledged": len(responses),
        "acknowledged_on_time": sum(o.response(now) is Response.ON_TIME for o in obs),
        "response_due_known": sum(o.response_due is not None for o in obs),
        "resolved": len(resolutions),
        "resolved_on_time": sum(o.resolved_on_time for o in obs),
        "resolution_due_known": sum(o.resolution_due is not None for o in obs),
        "open_now": sum(o.is_open for o in obs),
        "overdue_now": sum(o.overdue(now) for o in obs),
        "escalations_caused": sum(o.outcome == "escalated" for o in obs),
        "returned": sum(o.outcome == "returned" for o in obs),
        "ended_otherwise": sum(o.outcome in ("withdrawn", "merged", "cancelled", "lapsed") for o in obs),
        "response_seconds": {
            "n": len(responses),
            "p50": nearest(responses, 50),
            "p90": nearest(responses, 90),
        },
        "resolution_seconds": {
            "n": len(resolutions),
            "p50": nearest(resolutions, 50),
            "p90": nearest(resolutions, 90),
        },
    }


def due_soon(o: Obligation, services: Services, clock_time: dict[str, bool], now: datetime) -> bool:
    """An open obligation's own running clocks, 80% used (stints: worked out here)."""
    warn = o.due_soon_at
    if o.level is not Level.DEPARTMENT:
        warnings = [
            warn_at(services.app.calendar, o.arrived_at, due, clock_time[o.call_id])
            for due in o.running_dues()
        ]
        warn = min(warnings, default=None)
    return o.is_open and warn is not None and warn <= now and not o.overdue(now)


def dashboard_by_hand(
    services: Services,
    obs: list[Obligation],
    unit: str,
    first: date,
    last: date,
    g: Granularity,
    now: datetime,
) -> dict[str, Any]:
    with services.engine.connect() as conn:
        clock_time = dict(conn.execute(select(rm_calls.c.call_id, rm_calls.c.clock_time)).all())
    own, children = series_of(services.app.org, unit)

    def shown(s: Any) -> dict[str, Any]:
        mine = [o for o in obs if s.holds(o.level.value, o.unit, o.grid_code)]
        periods = [
            (b, [o for o in mine if b.start <= local_day(o.arrived_at) <= b.end])
            for b in buckets(first, last, g)
        ]
        backlog = [o for o in mine if o.is_open]
        return {
            "totals": figures([o for o in mine if first <= local_day(o.arrived_at) <= last], now),
            "buckets": [
                {"period": b.period, "start": b.start, "end": b.end, **figures(arrived, now)}
                for b, arrived in periods
                if arrived
            ],
            "backlog": {
                "open": len(backlog),
                "overdue": sum(o.overdue(now) for o in backlog),
                "due_soon": sum(due_soon(o, services, clock_time, now) for o in backlog),
            },
        }

    return {"series": [shown(s) for s in own], "children": [shown(s) for s in children]}


def without_names(served: dict[str, Any]) -> dict[str, Any]:
    keep = ("totals", "buckets", "backlog")
    return {part: [{k: s[k] for k in keep} for s in served[part]] for part in ("series", "children")}


# --- the dashboard --------------------------------------------------------------------------------

RANGES = (
    (Granularity.DAY, date(2026, 10, 20), date(2026, 11, 16)),
    (Granularity.WEEK, date(2026, 10, 1), date(2026, 11, 16)),
    (Granularity.MONTH, date(2025, 11, 17), date(2026, 11, 16)),  # a year, clipped at both ends
)


def test_every_dashboard_serves_what_its_obligations_come_to(district: Services) -> None:
    now = district.clock.now() + timedelta(hours=3)  # some clocks run out after the history's end
    obs = stored_obligations(district)
    assert {o.level for o in obs} == set(Level) and any(o.is_open for o in obs)
    org = district.app.org
    units = ["LW", "LW-LN", "LW-HL-02", "LW-DB-01-G02", "CG", *(u.code for u in org.of_kind(UnitKind.STREET))]
    with district.engine.connect() as conn:
        for unit in units:
            for g, first, last in RANGES:
                served = sla_dashboard(conn, org, unit, first, last, g, now, district.app.calendar)
                hand = dashboard_by_hand(district, obs, unit, first, last, g, now)
                assert without_names(served) == hand, (
                    first_difference(without_names(served), hand),
                    unit,
                    g,
                )


# --- the scores -----------------------------------------------------------------------------------


def scores_by_hand(
    services: Services, obs: list[Obligation], kind: UnitKind, label: str, now: datetime
) -> Any:
    period = parse_period(label)
    level, attributed = {
        UnitKind.STREET: (Level.STREET, "street_code"),
        UnitKind.DEPARTMENT: (Level.DEPARTMENT, "lead_department"),
        UnitKind.COMMUNITY: (Level.COMMUNITY, "reached_community"),
    }[kind]
    within = lambda at: period.first <= local_day(at) <= period.last  # noqa: E731
    with services.engine.connect() as conn:
        evaluations = [dict(r) for r in conn.execute(select(rm_evaluations)).mappings()]
        supervisions = [dict(r) for r in conn.execute(select(rm_supervisions)).mappings()]
    found = {}
    for u in services.app.org.of_kind(kind):
        mine = [o for o in obs if o.level is level and o.unit == u.code and within(o.arrived_at)]
        rounds = [e for e in evaluations if e[attributed] == u.code and within(e["at"])]
        contacted = [e for e in rounds if e["contacted"]]
        found[u.code] = {
            "received": len(mine),
            "responses": {r.value: sum(o.response(now) is r for o in mine) for r in Response},
            "evaluated_rounds": len(rounds),
            "contacted": len(contacted),
            "solved": sum(bool(e["solved"]) for e in contacted),
            "reopened_rounds": sum(bool(e["reopened"]) for e in rounds),
            "evaluated_calls": len({e["call_id"] for e in contacted}),
            "supervised": sum(s["unit"] == u.code and within(s["at"]) for s in supervisions),
        }
    return found


def served_scores(services: Services, kind: UnitKind, label: str, now: datetime) -> Any:
    with services.engine.connect() as conn:
        scored = unit_scores(conn, services.app.org, kind, parse_period(label), now, (0.3, 0.35, 0.35), 5)
    return {
        s["unit"]: {
            **{
                k: s["counts"][k]
                for k in ("received", "responses", "evaluated_rounds", "contacted", "solved")
            },
            "reopened_rounds": s["counts"]["reopened_rounds"],
            "evaluated_calls": s["evaluated_calls"],
            "supervised": s["supervised"],
        }
        for s in scored
    }


@pytest.mark.parametrize("label", ["2026-10", "2026-11", "2026-Q4", "2026"])
def test_unit_scores_serve_what_obligations_and_evaluations_come_to(district: Services, label: str) -> None:
    now = district.clock.now()
    obs = stored_obligations(district)
    for kind in (UnitKind.STREET, UnitKind.DEPARTMENT, UnitKind.COMMUNITY):
        assert served_scores(district, kind, label, now) == scores_by_hand(district, obs, kind, label, now)


# --- kept in step ----------------------------------------------------------------------------------


def tallies_of(services: Services) -> Rows:
    return rows_of(services.engine, TALLY_TABLES)


def test_a_store_projected_before_the_tallies_gets_them_at_its_next_catch_up(own_district: Services) -> None:
    kept = tallies_of(own_district)
    assert all(kept.values())
    with own_district.engine.begin() as conn:  # as a store upgraded to this version finds itself
        for t in TALLY_TABLES:
            conn.execute(delete(t))
        conn.execute(delete(projection_tracking).where(projection_tracking.c.name == TALLIED))
    assert own_district.projector.run_once() == 0
    assert tallies_of(own_district) == kept


def test_tallies_kept_by_projectors_taking_turns_batch_by_batch_come_to_the_recount(
    own_district: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each projector keeps the tally rows its last batch wrote, and does not read them again
    (``KnownRows``); another projector taking its turns meanwhile (another process holding the
    duty for a while) moves them on; one of them holds so few that it keeps forgetting some.
    Every batch kept in step, from the first event — none left them behind, to be recounted: the
    tallies come to what the seed's recount counted."""
    counted = tallies_of(own_district)
    recounts: list[object] = []
    recount = SlaTallies.recount

    def counted_recount(self: SlaTallies, engine: object) -> object:
        recounts.append(engine)
        return recount(self, engine)  # type: ignore[arg-type]

    monkeypatch.setattr(SlaTallies, "recount", counted_recount)
    first, other = own_district.projector, Projector(own_district.app, own_district.engine)
    other.tallies.known = KnownRows(limit=16)  # forgets the oldest as it goes: read them again
    first.reset()
    with own_district.engine.begin() as conn:  # a new store's: the tallies in step from the start
        conn.execute(delete(projection_tracking).where(projection_tracking.c.name == TALLIED))
    rng = random.Random(7)
    turn, turns, races, known = first, 0, 0, 0
    while True:
        if rng.random() < 0.15:
            turn, turns = rng.choice([first, other]), turns + 1
        try:
            if not turn.run_once(limit=rng.randint(1, 12)):
                break
        except ProjectorRace:  # its last batch was not the last one: it goes on from the stored one
            races += 1
        known = max(known, len(turn.tallies.known))
    assert turns > 10 and races > 3 and known > 0
    assert recounts == []
    assert tallies_of(own_district) == counted


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two answers first differ (the assertion's message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in {*a, *b}:
            if (d := first_difference(a.get(k), b.get(k), f"{path}.{k}")) is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: len {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if (d := first_difference(x, y, f"{path}[{i}]")) is not None:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"
