"""Every unit reads its own scores and those below it; communities are scored too; a call's
一呼一评 record names its street, lead department and resolving level as soon as they are known.

The week of test_figures (ten calls in 荔湾, 23 November – 1 December 2026) is played again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx import Client

from backends import Backend
from deployment_templates import Templates
from huying.clock import FakeClock
from huying.settings import Settings

from .test_figures import WEEK_SETTINGS, Replayed, Tokens, Week, responses, week_played

Who = tuple[str, str]
STREETS = ["LW-LN", "LW-DB", "LW-HL", "LW-HD"]
LN_COMMUNITIES = ["LW-LN-01", "LW-LN-02", "LW-LN-03"]


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, **WEEK_SETTINGS)


@pytest.fixture(scope="module")
def week(backend: Backend, templates: Templates, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    """The week, played once per backend with the settings above: the tests that share it only
    read it (GETs, no clock moved), so none can change what another sees."""
    with week_played(backend, templates, tmp_path_factory.mktemp("week") / "var") as w:
        yield w


def listed(week: Week, who: Who, kind: str) -> Any:
    r = week.client.get(
        "/api/v1/scores/units",
        params={"kind": kind, "period": "2026-11", "min_position": str(week.position)},
        headers=week.tokens.headers(*who),
    )
    return [s["unit"] for s in r.json()["data"]] if r.status_code == 200 else r.status_code


def test_each_unit_reads_its_own_scores_and_those_below_it(week: Week) -> None:
    everyone: dict[Who, dict[str, Any]] = {
        ("street", "LW-LN"): {"street": ["LW-LN"], "community": LN_COMMUNITIES, "department": 403},
        ("community", "LW-LN-01"): {"street": 403, "community": ["LW-LN-01"], "department": 403},
        ("grid_worker", "LW-LN-01-G01"): {"street": 403, "community": ["LW-LN-01"], "department": 403},
        ("department", "CG"): {"street": 403, "community": 403, "department": ["CG"]},
    }
    for who, expected in everyone.items():
        assert {kind: listed(week, who, kind) for kind in expected} == expected, who
    for role in ("supervisor", "auditor", "admin"):
        got = {kind: listed(week, (role, "LW"), kind) for kind in ("street", "community", "department")}
        assert sorted(got["street"]) == sorted(STREETS), role
        assert len(got["community"]) == 12 and len(got["department"]) > 5, role


def test_a_unit_sees_the_same_figures_and_rank_as_the_supervisor(week: Week) -> None:
    supervisor = week.get("/api/v1/scores/units", kind="street", period="2026-11")
    own = week.get("/api/v1/scores/units", ("street", "LW-LN"), kind="street", period="2026-11")
    assert own["data"] == [s for s in supervisor["data"] if s["unit"] == "LW-LN"]
    assert own["data"][0]["rank"] == 1
    cg = week.get("/api/v1/scores/units", ("department", "CG"), kind="department", period="2026-11")
    assert [(s["unit"], s["rank"]) for s in cg["data"]] == [("CG", 1)]


def test_communities_are_scored_on_their_own_stints_and_the_rounds_that_reached_them(week: Week) -> None:
    body = week.get("/api/v1/scores/units", ("street", "LW-LN"), kind="community", period="2026-11")
    assert body["kind"] == "community"
    ln01 = next(s for s in body["data"] if s["unit"] == "LW-LN-01")
    # Stints of LW-LN-01: A and C answered in time; I merged unanswered before its due time.
    # Rounds that reached it, evaluated in November: A (solved, satisfied) and C's first round
    # (not solved, dissatisfied, reopened) — C's second round went back to the street, not here.
    # composite = 0.30·1 + 0.35·1/2 + 0.35·1/2 = 0.65; two evaluated calls: ranked.
    assert ln01 == {
        "unit": "LW-LN-01",
        "name": "十三行社区",
        "kind": "community",
        "rank": 1,
        "composite": 0.65,
        "response_rate": 1.0,
        "solve_rate": 0.5,
        "satisfaction_rate": 0.5,
        "return_rate": None,
        "reopen_rate": 0.5,
        "supervised": 0,
        "evaluated_calls": 2,
        "counts": {
            "received": 3,
            "response_owed": 2,
            "responded_on_time": 2,
            "responses": responses(on_time=2, ended_before_due=1),
            "returned": None,
            "evaluated_rounds": 2,
            "contacted": 2,
            "not_contacted": 0,
            "solved": 1,
            "satisfied": 1,
            "basically_satisfied": 0,
            "dissatisfied": 1,
            "reopened_rounds": 1,
        },
    }
    ln02 = next(s for s in body["data"] if s["unit"] == "LW-LN-02")
    # B: escalated unanswered before its due time (owed no response); its round reached LN-02.
    assert (ln02["response_rate"], ln02["solve_rate"], ln02["composite"], ln02["rank"]) == (
        None,
        1.0,
        None,
        None,
    )
    hl = week.get("/api/v1/scores/units", kind="community", period="2026-11")
    hl03 = next(s for s in hl["data"] if s["unit"] == "LW-HL-03")
    # H answered late; J escalated before its due time; 督办 against H's holder, LW-HL-03.
    assert (hl03["response_rate"], hl03["supervised"], hl03["counts"]["evaluated_rounds"]) == (0.0, 1, 0)


def test_the_score_export_takes_communities(week: Week) -> None:
    r = week.client.get(
        "/api/v1/exports/scores",
        params={"kind": "community", "period": "2026-11"},
        headers=week.tokens.headers("auditor", "LW"),
    )
    assert r.status_code == 200, r.text
    assert r.text.count("LW-LN-01") == 1 and "LW-LN," not in r.text


# --- the 一呼一评 record, as soon as each part is known -----------------------------------------


def record_attribution(week: Week, name: str) -> list[tuple[Any, ...]]:
    record = week.get(f"/api/v1/scores/calls/{week.ids[name]}")
    return [
        (r["round"], r["street_code"], r["lead_department"], r["resolved_level"]) for r in record["rounds"]
    ]


def test_every_round_of_every_record_matches_the_histories_recomputed(week: Week) -> None:
    """docs/metrics.md §5 from the history alone, for every round, evaluated or not."""
    for name, call_id in week.ids.items():
        history = week.get(f"/api/v1/calls/{call_id}/history")["data"]
        replayed = Replayed(history)
        expected = []
        for n in range(1, replayed.round + 1):
            street, lead = replayed.attributed(n)
            resolved = next(
                (s["level"] for s in replayed.stints if s["round"] == n and s["outcome"] == "resolved"), None
            )
            if resolved == "street" and lead is not None:
                resolved = "department"
            expected.append((n, street, lead, resolved))
        assert record_attribution(week, name) == expected, name
    assert record_attribution(week, "G") == [(1, "LW-LN", None, None)]  # dispatched, CG still at work


def test_a_round_is_attributed_before_it_is_evaluated(
    client: Client, tokens: Tokens, clock: FakeClock
) -> None:
    w = Week(client, tokens, clock)
    w.at(11, 23, 9).raise_call("K", "LW-LN-01-G01")
    w.act("K", "escalate", ("community", "LW-LN-01"), {"reason": "上呼"})
    assert record_attribution(w, "K") == [(1, "LW-LN", None, None)]
    w.act("K", "acknowledge", ("street", "LW-LN"))
    w.at(11, 23, 10).dispatch("K", "LW-LN", "CG", w.clock.now().replace(day=25))
    w.order("K", 1, "sign")
    w.order("K", 1, "complete", {"result": "已清运"})
    assert record_attribution(w, "K") == [(1, "LW-LN", "CG", None)]
    w.act("K", "resolve", ("street", "LW-LN"), {"summary": "已办结"})
    assert record_attribution(w, "K") == [(1, "LW-LN", "CG", "department")]
    w.raise_call("L", "LW-LN-02-G01")
    w.act("L", "acknowledge", ("community", "LW-LN-02"))
    w.act("L", "resolve", ("community", "LW-LN-02"), {"summary": "已处理"})
    assert record_attribution(w, "L") == [(1, None, None, "community")]
