"""令行禁止 over HTTP on each backend: the hidden check's shape — a district directive to two
streets, one breaking it down to its communities; receipt, rework (a stale If-Match refused) and
acceptance; the clock moved past the deadlines over a local holiday → 督办; the board, pending
lists and figures; and every refusal as problem+json in the contract's order."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from httpx import Client

from backends import Backend
from huying.settings import Settings

API = "/api/v1/directives"


@pytest.fixture
def settings(backend: Backend, data_dir: Path, tmp_path: Path) -> Settings:
    calendar = tmp_path / "calendar.json"  # Wednesday 25 and Thursday 26 November: local holidays
    calendar.write_text(json.dumps({"holidays": ["2026-11-25", "2026-11-26"]}), encoding="utf-8")
    return backend.settings(data_dir, run_watchdog=False, calendar_file=calendar)


def at(day: int, hour: int, minute: int = 0) -> str:
    return datetime(2026, 11, day, hour - 8, minute, tzinfo=UTC).isoformat()


class Http:
    def __init__(self, client: Client, tokens: Any) -> None:
        self.client, self.tokens = client, tokens

    def post(
        self, who: tuple[str, str], path: str, body: Any = None, status: int = 200, **headers: str
    ) -> Any:
        answer = self.client.post(path, headers=self.tokens.headers(*who, **headers), json=body)
        assert answer.status_code == status, answer.text
        return answer

    def get(self, who: tuple[str, str], path: str, status: int = 200) -> Any:
        answer = self.client.get(path, headers=self.tokens.headers(*who))
        assert answer.status_code == status, answer.text
        return answer.json()

    def clock(self, now: str) -> None:
        self.post(("admin", "LW"), "/api/v1/_clock", {"now": now})


def caught_up(services: Any) -> None:
    """The read models have every event so far (the watchdog finds its candidates there)."""
    head = services.app.recorder.max_notification_id() or 0
    if services.projector.running:  # the server's own projector: wait for it, never race it
        assert services.projector.wait_until(head, timeout=60)
    else:
        services.projector.catch_up()


DISTRICT, LN, DB = ("supervisor", "LW"), ("street", "LW-LN"), ("street", "LW-DB")
LN01, LN02 = ("community", "LW-LN-01"), ("community", "LW-LN-02")


def test_a_district_directive_down_the_chain_over_a_holiday(client: Client, tokens: Any) -> None:
    h = Http(client, tokens)
    draft = {"title": "消防通道清理", "body": "限期清理", "targets": ["LW-LN", "LW-DB"], "working_days": 2}
    first = h.post(DISTRICT, API, draft, 201, **{"Idempotency-Key": "d-1"})
    again = h.post(DISTRICT, API, draft, 201, **{"Idempotency-Key": "d-1"})
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    parent = first.json()
    assert first.headers["Location"] == f"{API}/{parent['id']}" and first.headers["ETag"] == '"1"'
    assert parent["deadline"] == "2026-11-27T01:00:00Z"  # two working days, the holidays skipped

    h.clock(at(23, 10))
    h.post(LN, f"{API}/{parent['id']}/targets/LW-LN/receive")
    child = h.post(
        LN,
        API,
        {"title": "分解", "targets": ["LW-LN-01", "LW-LN-02"], "working_days": 1, "parent_id": parent["id"]},
        201,
    ).json()
    h.clock(at(23, 11))
    for who, unit in ((LN01, "LW-LN-01"), (LN02, "LW-LN-02")):
        h.post(who, f"{API}/{child['id']}/targets/{unit}/receive")
    target = f"{API}/{child['id']}/targets/LW-LN-01"
    reported = h.post(LN01, f"{target}/report", {"result": "已清理"}).json()
    h.post(LN, f"{target}/send-back", {"reason": "仍有杂物"}, **{"If-Match": f'"{reported["version"]}"'})
    again = h.post(LN01, f"{target}/report", {"result": "已全部清理"}).json()
    stale = h.post(LN, f"{target}/accept", None, 412, **{"If-Match": f'"{reported["version"]}"'})
    assert stale.headers["content-type"].startswith("application/problem+json")
    to_decide = h.get(LN, f"{API}/pending?side=issuer&min_position={again['position']}")
    done = h.post(LN, f"{target}/accept").json()
    assert [i["unit"] for i in to_decide["data"]] == ["LW-LN-01"]
    assert [(t["unit"], t["stage"], t["reworks"]) for t in done["targets"]] == [
        ("LW-LN-01", "accepted", 1),
        ("LW-LN-02", "received", 0),
    ]

    services = client.app.state.services  # type: ignore[attr-defined]
    for now in (at(24, 10, 1), at(26, 16), at(27, 9, 1)):
        h.clock(now)
        caught_up(services)
        services.watchdog.sweep()
    flagged = h.get(DISTRICT, f"{API}/{parent['id']}")["supervisions"]
    assert sorted(s["clock"] for s in flagged) == ["LW-DB:completion", "LW-DB:receipt", "LW-LN:completion"]
    history = h.get(DISTRICT, f"{API}/{child['id']}/history")["data"]
    assert [e["type"] for e in history][-1] == "Supervised" and history[-1]["actor"]["role"] == "system"

    position = h.get(DISTRICT, f"{API}/{parent['id']}")["position"]
    board = h.get(DISTRICT, f"{API}/{parent['id']}/board?min_position={position}")
    assert {t["unit"]: t["supervised"] for t in board["targets"]} == {"LW-LN": 1, "LW-DB": 2}
    assert [c["id"] for c in board["children"]] == [child["id"]]
    assert board["children"][0]["standing"]["by_stage"]["accepted"] == 1
    assert h.get(DB, f"{API}/{parent['id']}/board?min_position={position}")["children"] == []
    figures = {f["unit"]: f for f in h.get(DISTRICT, f"{API}/figures?min_position={position}")["data"]}
    assert figures["LW-LN-01"]["first_time_acceptance_rate"] == 0.0
    assert figures["LW-DB"]["on_time_receipt_rate"] == 0.0
    assert h.get(LN01, f"{API}/figures?unit=LW-LN-01")["data"][0]["on_time_completion_rate"] == 1.0
    feed = h.get(("auditor", "LW"), "/api/v1/events?type=Directive.Supervised,Directive.SentBack&limit=500")[
        "data"
    ]
    assert sorted((e["type"], e["data"].get("clock")) for e in feed) == [
        ("Directive.SentBack", None),
        *[("Directive.Supervised", c) for c in ("LW-DB:completion", "LW-DB:receipt", "LW-LN-02:completion")],
        ("Directive.Supervised", "LW-LN:completion"),
    ]
    assert recomputed(h, at(27, 9, 1)) == {u: {k: f[k] for k in RATES} for u, f in figures.items()}
    then = h.get(LN, f"{API}/{child['id']}?as_of={at(23, 10, 30).replace('+00:00', 'Z')}")
    assert [t["stage"] for t in then["targets"]] == ["issued", "issued"]


RATES = ("on_time_receipt_rate", "on_time_completion_rate", "first_time_acceptance_rate", "supervised")


def recomputed(h: Http, now_text: str) -> dict[str, dict[str, Any]]:
    """docs/metrics.md §8, from the event feed alone, with none of huying's code."""
    now = datetime.fromisoformat(now_text)
    feed = h.get(("auditor", "LW"), "/api/v1/events?limit=500")["data"]
    targets: dict[tuple[str, str], dict[str, Any]] = {}
    supervised: dict[str, int] = {}
    for e in feed:
        kind, data, when = e["type"], e["data"], datetime.fromisoformat(e["at"])
        key = (e["call_id"], data.get("unit", ""))
        if kind == "Directive.Issued":
            for t in data["targets"]:
                due, receipt_due = datetime.fromisoformat(t["due"]), datetime.fromisoformat(t["receipt_due"])
                targets[(e["call_id"], t["unit"])] = {
                    "stage": "issued",
                    "due": due,
                    "receipt_due": receipt_due,
                }
                targets[(e["call_id"], t["unit"])].update(
                    received=None, reported=None, reworks=0, cancelled=None
                )
        elif kind == "Directive.Received":
            targets[key].update(stage="received", received=when)
        elif kind == "Directive.ReportedDone":
            targets[key].update(stage="reported", reported=when)
        elif kind == "Directive.SentBack":
            targets[key].update(stage="rework", reworks=targets[key]["reworks"] + 1)
        elif kind == "Directive.Accepted":
            targets[key]["stage"] = "accepted"
        elif kind == "Directive.ExtensionRequested":
            targets[key]["until"] = datetime.fromisoformat(data["until"])
        elif kind == "Directive.ExtensionGranted":
            targets[key]["due"] = targets[key]["until"]
        elif kind == "Directive.Cancelled":
            for (d, _), t in targets.items():
                if d == e["call_id"] and t["stage"] != "accepted":
                    t.update(stage="cancelled", cancelled=when)
        elif kind == "Directive.Supervised":
            supervised[data["unit"]] = supervised.get(data["unit"], 0) + 1
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for (_, unit), t in targets.items():
        by_unit.setdefault(unit, []).append(t)
    return {unit: _rates(ts, now, supervised.get(unit, 0)) for unit, ts in by_unit.items()}


def _rates(ts: list[dict[str, Any]], now: datetime, supervised: int) -> dict[str, Any]:
    def rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    judged = [t for t in ts if t["received"] or t["receipt_due"] < (t["cancelled"] or now)]
    accepted = [t for t in ts if t["stage"] == "accepted"]
    late = [
        t
        for t in ts
        if (t["stage"] in ("issued", "received", "rework") and t["due"] < now)
        or (t["stage"] == "reported" and t["reported"] > t["due"])
    ]
    return {
        "on_time_receipt_rate": rate(
            sum(bool(t["received"]) and t["received"] <= t["receipt_due"] for t in judged), len(judged)
        ),
        "on_time_completion_rate": rate(
            sum(t["reported"] <= t["due"] for t in accepted), len(accepted) + len(late)
        ),
        "first_time_acceptance_rate": rate(sum(t["reworks"] == 0 for t in accepted), len(accepted)),
        "supervised": supervised,
    }


def test_refusals_are_problems_in_the_contracts_order(client: Client, tokens: Any) -> None:
    h = Http(client, tokens)
    bad = h.post(LN, API, {"title": "t", "targets": ["LW-DB-01"], "working_days": 1}, 422).json()
    assert bad["errors"][0]["field"] == "targets.0"
    absurd = h.post(
        DISTRICT, API, {"title": "t", "targets": ["LW-LN"], "deadline": "9999-12-31T00:00:00Z"}, 422
    )
    assert absurd.json()["errors"][0]["field"].endswith("deadline")
    directive = h.post(DISTRICT, API, {"title": "t", "targets": ["LW-LN"], "working_days": 3}, 201).json()
    path = f"{API}/{directive['id']}"
    h.get(("community", "LW-DB-01"), path, 404)
    h.get(LN, f"{API}/not-a-uuid", 404)
    assert "no target LW-HL" in h.post(LN, f"{path}/targets/LW-HL/receive", None, 404).json()["detail"]
    assert h.post(LN, f"{path}/cancel", {"reason": "x"}, 403).json()["type"] == "/problems/not-permitted"
    h.post(DISTRICT, f"{path}/cancel", {"reason": "情况变化"})
    refused = h.post(LN, f"{path}/targets/LW-LN/receive", None, 409).json()
    assert refused["type"] == "/problems/transition-not-allowed" and "cancelled" in refused["detail"]
    h.get(("community", "LW-DB-01"), f"{API}/pending?unit=LW-LN", 404)
    assert h.get(DB, API)["data"] == []


def test_the_figures_window_reads_dates_and_times_as_every_other_window(client: Client, tokens: Any) -> None:
    """``since``/``until`` are business-time bounds as the feed's, the search's and the meetings'
    ``from``/``to``: a date is an Asia/Shanghai day (``until`` a date covers that day), a time
    needs its offset, and a window that ends before it starts is 422 — not 200 with nothing."""
    h = Http(client, tokens)
    h.clock(at(23, 9))
    issued = h.post(DISTRICT, API, {"title": "t", "targets": ["LW-LN"], "working_days": 3}, 201).json()
    figures = f"{API}/figures?unit=LW-LN&min_position={issued['position']}"

    def units(window: str) -> list[str]:
        return [f["unit"] for f in h.get(DISTRICT, f"{figures}&{window}")["data"]]

    assert units("since=2026-11-23&until=2026-11-23") == ["LW-LN"]  # that whole day
    assert units("until=2026-11-22") == []
    assert units("since=2026-11-24") == []
    assert units("since=2026-11-23T09:00:00%2B08:00&until=2026-11-23T09:00:01%2B08:00") == ["LW-LN"]
    for window, field in (
        ("since=2026-11-23T09:00:00", "since"),  # no offset
        ("since=2026-11-24&until=2026-11-23", "until"),
        ("until=23%2F11%2F2026", "until"),
    ):
        problem = h.get(DISTRICT, f"{figures}&{window}", 422)
        assert [e["field"] for e in problem["errors"]] == [field], (window, problem)
