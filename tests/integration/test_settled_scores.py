"""A settled period's scores do not move (docs/metrics.md §12), and its published 考评 is a
frozen, versioned record (docs/publications.md).

Two streets each resolve one call in November 2026 and are evaluated (solved, satisfied); on the
last afternoon of the month each gets one more call it has not answered by midnight. 岭南 (LN)
answers its own in time on 1 December; 华林 (HL) never does. With no settling window November is
settled at midnight: from then on both are judged as they stood at that instant.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from httpx import Client

from backends import Backend
from huying.audit.replay import replay_and_compare
from huying.clock import FakeClock
from huying.projections.runner import Projector
from huying.settings import Settings

from .test_directives import rows
from .test_figures import CALLS, SUPERVISOR, Tokens, Week, ack

LN, HL = ("street", "LW-LN"), ("street", "LW-HL")
UP = {"reason": "社区无法解决，上呼街道"}


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, run_watchdog=False, min_evaluated_for_rank=1, settle_working_days=0)


def resolved_and_evaluated(w: Week, name: str, grid: str, street: tuple[str, str]) -> None:
    community = ("community", grid.rsplit("-", 1)[0])
    w.raise_call(name, grid)
    w.act(name, *ack(community))
    w.act(name, "escalate", community, UP)
    w.act(name, *ack(street))
    w.act(name, "resolve", street, {"summary": "已处理"})
    w.act(name, "evaluate", community, {"solved": True, "satisfaction": "satisfied"})


@pytest.fixture
def november(client: Client, tokens: Tokens, clock: FakeClock) -> Week:
    w = Week(client, tokens, clock)
    w.at(11, 23, 9)
    resolved_and_evaluated(w, "X", "LW-LN-01-G01", LN)
    resolved_and_evaluated(w, "Y", "LW-HL-01-G01", HL)
    # Monday 30 November, 16:00: both streets get a call; their 2-working-hour response clocks
    # run to Tuesday morning.
    w.at(11, 30, 16).raise_call("Z", "LW-LN-02-G01")
    w.raise_call("W", "LW-HL-02-G01")
    w.at(11, 30, 16, 10).act("Z", "escalate", ("community", "LW-LN-02"), UP)
    w.act("W", "escalate", ("community", "LW-HL-02"), UP)
    return w


def streets(w: Week) -> dict[str, Any]:
    return w.get("/api/v1/scores/units", kind="street", period="2026-11")


def ranks(body: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(s["unit"], s["rank"]) for s in body["data"]]


def test_a_settled_months_scores_stay_put_as_the_clock_moves_on(november: Week) -> None:
    w = november
    settled = streets(w.at(12, 1, 8))  # after the cutoff, before either clock ran out
    assert ranks(settled)[:2] == [("LW-LN", 1), ("LW-HL", 1)]
    assert settled["settled"] is True and settled["settles_at"] == "2026-11-30T16:00:00Z"
    w.at(12, 1, 9).act("Z", *ack(LN))  # in time, but after the cutoff
    for later in ((12, 2, 9), (12, 28, 9)):
        again = streets(w.at(*later))
        assert again["data"] == settled["data"], later
    ln = next(s for s in settled["data"] if s["unit"] == "LW-LN")
    assert (ln["response_rate"], ln["counts"]["responses"]["pending"]) == (0.5, 1)
    # The auditors' CSV export judges the settled month the same way.
    exported = w.client.get(
        "/api/v1/exports/scores",
        params={"kind": "street", "period": "2026-11", "headers": "en"},
        headers=w.tokens.headers("auditor", "LW"),
    )
    by_unit = {r["unit"]: r for r in csv.DictReader(io.StringIO(exported.text))}
    assert (by_unit["LW-LN"]["response_rate"], by_unit["LW-LN"]["rank"]) == ("0.5", "1")


def assessment(w: Week, kind: str = "street") -> dict[str, Any]:
    return w.get("/api/v1/scores/assessment", kind=kind, period="2026-11")


def test_a_settled_months_assessment_stays_put_as_the_clock_and_late_events_move_on(
    november: Week,
) -> None:
    """The 考核 of a settled month is judged at its cutoff too: a response given after it, a
    directive's deadline running out after it, a caller's rating given after it move nothing."""
    w = november
    directive = w.post(
        "/api/v1/directives",
        SUPERVISOR,
        {"title": "消防通道清理", "targets": ["LW-HL"], "working_days": 10},  # due mid-December
    )
    w.post(f"/api/v1/directives/{directive['id']}/targets/LW-HL/receive", HL, {})
    assert assessment(w.at(11, 30, 17))["settled"] is False  # before the cutoff: judged at now
    settled = assessment(w.at(12, 1, 8))
    assert settled["settled"] is True and settled["settles_at"] == "2026-11-30T16:00:00Z"
    hl = next(s for s in settled["data"] if s["unit"] == "LW-HL")
    assert (hl["components"]["directives"], hl["counts"]["directive_judged"]) == (1.0, 1)
    w.at(12, 1, 9).act("Z", *ack(LN))  # in time, but after the cutoff
    rating = {"satisfaction": "dissatisfied"}
    w.at(12, 2, 9).post(f"{CALLS}/{w.ids['X']}/rating", ("community", "LW-LN-01"), rating)
    for later in ((12, 2, 10), (12, 28, 9)):  # by the 28th HL's directive is late
        assert assessment(w.at(*later))["data"] == settled["data"], later
    ln = next(s for s in settled["data"] if s["unit"] == "LW-LN")
    assert (ln["counts"]["responded_on_time"], ln["counts"]["response_owed"], ln["counts"]["ratings"]) == (
        2,
        3,
        0,
    )


# --- a published 考评 -------------------------------------------------------------------------

PUBLICATIONS = "/api/v1/scores/publications"
AUDITOR = ("auditor", "LW")
NOVEMBER_STREETS = {"kind": "street", "period": "2026-11"}


def publish(w: Week, who: tuple[str, str] = SUPERVISOR, key: str | None = None, **body: str) -> Any:
    return w.client.post(PUBLICATIONS, json=body or NOVEMBER_STREETS, headers=w.tokens.headers(*who, key=key))


def read(w: Week, path: str, who: tuple[str, str] = SUPERVISOR, **params: str) -> Any:
    """A GET; a read model's (the list) after the last write (``min_position``)."""
    return w.client.get(path, params=params, headers=w.tokens.headers(*who))


def test_publish_once_read_any_version_and_republish_with_a_reason(november: Week, services: Any) -> None:
    w = november
    early = publish(w.at(11, 30, 17))  # November is not settled until midnight
    assert early.status_code == 409 and "not settled until" in early.json()["detail"]
    assert publish(w.at(12, 1, 8), ("street", "LW-LN")).status_code == 403
    far = publish(w, kind="street", period="2200-12")
    assert far.status_code == 409 and "2200-12-31T16:00:00" in far.json()["detail"]
    assert publish(w, kind="community", period="2026-11").json()["errors"][0]["field"] == "kind"
    assert read(w, f"{PUBLICATIONS}/not-a-publication").status_code == 404
    first = publish(w, key="nov-1")
    assert first.status_code == 201, first.text
    v1 = first.json()
    w.position = v1["position"]
    assert (v1["version"], v1["latest_version"], v1["reason"], v1["changes"]) == (1, 1, None, None)
    assert [(s["unit"], s["rank"]) for s in v1["data"]][:2] == [("LW-LN", 1), ("LW-HL", 1)]
    assert v1["published_by"] == {"role": "supervisor", "unit": "LW"} and first.headers["ETag"] == '"1"'
    again = publish(w, key="nov-1")  # the same request again: answered from the record
    assert (again.status_code, again.headers["Idempotent-Replayed"], again.json()) == (201, "true", v1)
    for key in (None, "nov-2"):
        duplicate = publish(w, key=key)
        assert duplicate.status_code == 409 and "re-publication" in duplicate.json()["detail"], key

    republish = f"{PUBLICATIONS}/{v1['id']}/republish"
    headers = w.tokens.headers(*SUPERVISOR)
    missing = w.client.post(republish, json={}, headers=headers)
    assert missing.status_code == 422 and "reason" in missing.text
    stale = w.client.post(republish, json={"reason": "x"}, headers={**headers, "If-Match": '"2"'})
    assert stale.status_code == 412
    # The rule changes after publication (two evaluated calls to be ranked): a correction.
    services.settings.min_evaluated_for_rank = 2
    w.at(12, 28, 9).act("Z", *ack(LN))
    second = w.client.post(republish, json={"reason": "考核办法：两件以上方参与排名"}, headers=headers)
    assert second.status_code == 200, second.text
    v2 = second.json()
    w.position = v2["position"]
    assert (v2["version"], v2["replaces"], v2["reason"]) == (2, 1, "考核办法：两件以上方参与排名")
    assert v2["changes"] == [{"unit": "LW-LN", "rank": [1, None]}, {"unit": "LW-HL", "rank": [1, None]}]
    # Version 1 stays as published, whatever happened since; the figures judged at the cutoff too.
    shown = read(w, f"{PUBLICATIONS}/{v1['id']}", version="1").json()
    assert {**shown, "latest_version": 1, "position": v1["position"]} == v1
    rates = [{s["unit"]: s["response_rate"] for s in v["data"]} for v in (v1, v2)]
    assert rates[0] == rates[1] and rates[0]["LW-LN"] == 0.5
    assert read(w, f"{PUBLICATIONS}/{v1['id']}", version="3").status_code == 404
    then = read(w, f"{PUBLICATIONS}/{v1['id']}", as_of="2026-12-27T00:00:00Z").json()
    assert (then["version"], then["latest_version"], then["data"]) == (1, 2, v1["data"])

    listed = read(w, PUBLICATIONS, period="2026-11", min_position=str(w.position)).json()["data"]
    assert [(r["id"], r["version"], r["latest_version"], r["units_changed"]) for r in listed] == [
        (v1["id"], 1, 2, None),
        (v1["id"], 2, 2, 2),
    ]


def test_a_street_reads_only_its_own_row_and_the_audit_covers_publications(
    november: Week, services: Any
) -> None:
    w = november
    published = publish(w.at(12, 1, 8)).json()
    w.position = published["position"]
    path = f"{PUBLICATIONS}/{published['id']}"
    own = read(w, path, ("street", "LW-LN")).json()
    assert [s["unit"] for s in own["data"]] == ["LW-LN"] and own["data"][0] == published["data"][0]
    assert read(w, path, ("department", "CG")).status_code == 404
    assert read(w, path, ("community", "LW-LN-01")).status_code == 404
    assert (
        read(w, PUBLICATIONS, ("department", "CG"), kind="street", min_position=str(w.position)).status_code
        == 403
    )
    assert read(w, f"{path}/history", ("street", "LW-LN")).status_code == 403
    history = read(w, f"{path}/history", AUDITOR).json()
    assert [e["type"] for e in history["data"]] == ["Published"]

    feed = read(w, "/api/v1/events", AUDITOR, type="Publication.Published").json()
    assert [e["data"]["period"] for e in feed["data"]] == ["2026-11"]
    assert read(w, "/api/v1/audit/verify", AUDITOR).json()["ok"] is True

    incremental = rows(services)
    rebuilder = Projector(services.app, services.engine, batch_size=3)
    rebuilder.reset()
    rebuilder.catch_up()
    assert rows(services) == incremental and len(incremental["rm_publications"]) == 1
    replayed = replay_and_compare(services.app, services.engine, services.settings, batch_size=50)
    assert replayed.same and replayed.rows["rm_publications"] == 1, replayed.shown


def test_a_settled_months_assessment_is_published_frozen_and_republished_with_a_reason(
    november: Week, services: Any
) -> None:
    """The 街道综合考核 is published as the unit scores are: frozen with its weights and
    deduction, and corrected only by a re-publication saying why and what changed."""
    w = november
    body = {"kind": "street_assessment", "period": "2026-11"}
    early = publish(w.at(11, 30, 17), **body)
    assert early.status_code == 409 and "not settled until" in early.json()["detail"]
    served = assessment(w.at(12, 1, 8))
    first = publish(w, **body)
    assert first.status_code == 201, first.text
    v1 = first.json()
    w.position = v1["position"]
    assert v1["data"] == served["data"] and v1["weights"] == served["weights"]
    assert v1["supervision_deduction"] == served["supervision_deduction"] == 0.01
    assert publish(w, **body).status_code == 409  # once; the unit scores are a publication apart
    assert publish(w).status_code == 201
    departments = publish(w, kind="department_assessment", period="2026-11").json()
    assert departments["data"][0]["kind"] == "department" and len(departments["weights"]) == 5

    services.settings.assessment_weights = (0.6, 0.1, 0.1, 0.1, 0.1)  # the rules change
    w.at(12, 28, 9).act("Z", *ack(LN))  # after the cutoff: moves nothing
    headers = w.tokens.headers(*SUPERVISOR)
    second = w.client.post(
        f"{PUBLICATIONS}/{v1['id']}/republish", json={"reason": "权重调整"}, headers=headers
    )
    assert second.status_code == 200, second.text
    v2 = second.json()
    w.position = v2["position"]
    assert (v2["version"], v2["replaces"], v2["weights"]["satisfaction"]) == (2, 1, 0.6)
    ln = next(row for row in v2["changes"] if row["unit"] == "LW-LN")
    assert set(ln) == {"unit", "composite"} and ln["composite"][0] < ln["composite"][1]
    shown = read(w, f"{PUBLICATIONS}/{v1['id']}", version="1").json()
    assert (shown["data"], shown["weights"]) == (v1["data"], v1["weights"])
    listed = read(w, PUBLICATIONS, kind="street_assessment", min_position=str(w.position)).json()["data"]
    assert [(r["kind"], r["version"]) for r in listed] == [("street_assessment", 1), ("street_assessment", 2)]
    assert read(w, f"{PUBLICATIONS}/{v1['id']}", ("department", "CG")).status_code == 404
