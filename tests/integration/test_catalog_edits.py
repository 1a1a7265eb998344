"""The admin edits the catalog over HTTP, on both backends: only the admin may (everyone else is
refused and nothing is written); an edit is in effect for the next call and never for one raised
before; a retired item refuses a raise (422 naming item_code); another process — another API
worker on the same store — sees an edit at once; and an item is judged by the catalog file's
rules, the field named."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from httpx import Client

from catalog_items import LIMIT, NEW_ITEM, SLA
from conftest import Tokens
from huying.api.app import create_app
from huying.bootstrap import Services
from huying.domain.principal import Principal, Role
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from integration.together import processes, released

CALL = {
    "item_code": "C01-01",
    "grid_code": "LW-LN-01-G01",
    "title": "垃圾",
    "description": "十三行",
    "channel": "grid_worker",
}


def head(services: Services) -> int:
    return services.app.recorder.max_notification_id() or 0


def raise_call(client: Client, tokens: Tokens, item: str) -> Any:
    return client.post(
        "/api/v1/calls",
        headers=tokens.headers("grid_worker", "LW-LN-01-G01"),
        json={**CALL, "item_code": item},
    )


@pytest.mark.parametrize(
    "role, unit", [("supervisor", "LW"), ("auditor", "LW"), ("street", "LW-LN"), ("department", "CG")]
)
def test_only_the_admin_edits_the_catalog_and_a_refusal_writes_nothing(
    client: Client, tokens: Tokens, services: Services, role: str, unit: str
) -> None:
    other, admin = tokens.headers(role, unit), tokens.district(Role.ADMIN)
    before = head(services)
    for method, path, body in (
        ("POST", "/api/v1/catalog/items", NEW_ITEM),
        ("PATCH", "/api/v1/catalog/items/C01-01", {"name": "垃圾乱堆"}),
        ("POST", "/api/v1/catalog/items/C01-01/retire", {"reason": "x"}),
        ("POST", "/api/v1/catalog/items/C01-01/restore", {"reason": "x"}),
    ):
        answer = client.request(method, path, headers=other, json=body)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert (
        head(services) == before
        and client.get("/api/v1/catalog", headers=other).json()["version"] == "2026.1"
    )
    added = client.post("/api/v1/catalog/items", headers=admin, json=NEW_ITEM)
    assert added.status_code == 201, added.text
    assert (added.json()["catalog_version"], added.json()["item"]["code"]) == ("2026.1+1", "C01-04")
    assert head(services) == before + 2  # begun with the first edit, saved together


def test_an_edit_is_in_effect_for_the_next_call_and_never_for_an_earlier_one(
    client: Client, tokens: Tokens, services: Services
) -> None:
    admin = tokens.district(Role.ADMIN)
    earlier = raise_call(client, tokens, "C01-01").json()
    changed = client.patch(
        "/api/v1/catalog/items/C01-01", headers=admin, json={"sla": SLA, "priority": "urgent"}
    )
    assert changed.status_code == 200 and changed.json()["item"]["priority"] == "urgent", changed.text
    later = raise_call(client, tokens, "C01-01").json()
    assert (earlier["catalog_version"], later["catalog_version"]) == ("2026.1", "2026.1+1")
    kept, new = services.calls.current(_id(earlier)), services.calls.current(_id(later))
    assert kept is not None and new is not None
    assert kept.sla["street"]["response"] == {"amount": 4, "unit": "working_hours"}
    assert new.sla["street"]["response"] == LIMIT
    edits = client.get("/api/v1/catalog/edits", headers=tokens.headers("auditor", "LW")).json()
    assert [e["type"] for e in edits["data"]] == ["Begun", "ItemChanged"]
    assert edits["data"][-1]["data"]["changed"] == ["priority", "sla"]
    assert edits["data"][-1]["actor"] == {"role": "admin", "unit": "LW"}


def test_a_retired_item_refuses_a_raise_and_a_restored_one_takes_it_again(
    client: Client, tokens: Tokens, services: Services
) -> None:
    admin = tokens.district(Role.ADMIN)
    assert (
        client.post("/api/v1/catalog/items/C01-02/retire", headers=admin, json={"reason": "并入"}).status_code
        == 200
    )
    refused = raise_call(client, tokens, "C01-02")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "item_code", refused.text
    assert "retired" in refused.json()["detail"]
    catalog = client.get("/api/v1/catalog", headers=admin).json()
    assert [i["code"] for i in catalog["retired"]] == ["C01-02"]
    listed = {i["code"] for a in catalog["areas"] for c in a["categories"] for i in c["items"]}
    assert "C01-02" not in listed and "C01-01" in listed
    offered = {s["service_code"] for s in client.get("/open311/v2/services.json").json()}
    assert "C01-02" not in offered and "C01-01" in offered  # Open311 offers what may be raised
    again = client.post("/api/v1/catalog/items/C01-02/retire", headers=admin, json={"reason": "again"})
    assert again.status_code == 409
    assert (
        client.post(
            "/api/v1/catalog/items/C01-02/restore", headers=admin, json={"reason": "恢复"}
        ).status_code
        == 200
    )
    assert raise_call(client, tokens, "C01-02").json()["catalog_version"] == "2026.1+2"


def test_a_retry_of_a_raise_stored_before_its_item_was_retired_gets_its_call(
    client: Client, tokens: Tokens, services: Services
) -> None:
    """A phone retrying a raise the server stored (the answer lost on the way) gets that call,
    though its item was retired meanwhile: a retry is answered from the record, not judged again."""
    headers = tokens.headers("grid_worker", "LW-LN-01-G01", key="phone-1")
    first = client.post("/api/v1/calls", headers=headers, json={**CALL, "item_code": "C01-02"})
    assert first.status_code == 201, first.text
    admin = tokens.district(Role.ADMIN)
    retired = client.post("/api/v1/catalog/items/C01-02/retire", headers=admin, json={"reason": "并入"})
    assert retired.status_code == 200
    stored = head(services)

    again = client.post("/api/v1/calls", headers=headers, json={**CALL, "item_code": "C01-02"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true", again.text
    assert again.json() == first.json() and head(services) == stored
    other = client.post(
        "/api/v1/calls", headers=headers, json={**CALL, "item_code": "C01-02", "title": "另一件"}
    )
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused"), other.text


def test_another_process_sees_an_edit_at_once(client: Client, tokens: Tokens, services: Services) -> None:
    admin = tokens.district(Role.ADMIN)
    with processes(services, 1) as (other,):
        assert other.app.catalog.version == "2026.1"  # read once: its cache must not keep it
        client.post("/api/v1/catalog/items", headers=admin, json=NEW_ITEM)
        draft = CallDraft("C01-04", "LW-LN-01-G01", "餐厨垃圾", "十三行", "grid_worker")
        call = other.calls.raise_call(Principal(Role.GRID_WORKER, "LW-LN-01-G01"), draft, Submission()).call
        assert call.catalog_version == "2026.1+1"
        other.catalog_edits.retire_item(Principal(Role.ADMIN, "LW"), "C01-04", Submission(), "试点结束")
    assert client.get("/api/v1/catalog/items/C01-04", headers=admin).json()["retired"] is True
    assert raise_call(client, tokens, "C01-04").status_code == 422


def test_a_raise_judged_on_a_catalog_edited_since_elsewhere_is_judged_again(
    client: Client, tokens: Tokens, services: Services
) -> None:
    """A process raises on the catalog as it last folded it, without reading the store; an edit
    another process made since (here: an item's SLA) makes the store refuse that save, and the
    raise is made again on the catalog in effect — never stored with the old SLA."""
    admin = tokens.district(Role.ADMIN)
    grid = Principal(Role.GRID_WORKER, "LW-LN-01-G01")
    draft = CallDraft("C01-01", "LW-LN-01-G01", "垃圾", "十三行", "grid_worker")
    with processes(services, 1) as (other,):
        before = other.calls.raise_call(grid, draft, Submission()).call  # folds the catalog as it is
        changed = client.patch("/api/v1/catalog/items/C01-01", headers=admin, json={"sla": SLA})
        assert changed.status_code == 200, changed.text
        after = other.calls.raise_call(grid, draft, Submission()).call
    assert (before.catalog_version, after.catalog_version) == ("2026.1", "2026.1+1")
    stored = services.calls.current(after.id)
    assert stored is not None and stored.sla["street"]["response"] == LIMIT


def test_first_edits_from_two_processes_at_once_are_both_made(
    client: Client, tokens: Tokens, services: Services
) -> None:
    """Each process begins the district's edits; the store takes one beginning, and the other
    edit is then made over it as any later edit is."""
    admin = tokens.district(Role.ADMIN)
    with processes(services, 2) as two:
        apps = [create_app(services=one) for one in two]
        item = {id(apps[0]): "C01-01", id(apps[1]): "C02-01"}

        def retire(c: Client) -> Any:
            return c.post(
                f"/api/v1/catalog/items/{item[id(c.app)]}/retire", headers=admin, json={"reason": "x"}
            )

        answers = released(retire, apps)
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert sorted(a.json()["catalog_version"] for a in answers) == ["2026.1+1", "2026.1+2"]
    stored = services.app.recorder.select_events(
        services.catalog_edits.id
    )  # a lost race may leave a gap in positions
    assert [e.topic.rpartition(".")[2] for e in stored] == ["Begun", "ItemRetired", "ItemRetired"]
    assert services.app.catalog.retired == {"C01-01", "C02-01"}


@pytest.mark.parametrize(
    "change, field",
    [
        (
            {"sla": {**SLA, "street": {"response": {"amount": -1, "unit": "working_hours"}}}},
            "sla.street.response.amount",
        ),
        ({"name": "道路破损"}, "name"),
        ({"lead_department": "LW-LN"}, "lead_department"),
        ({"priority": "soon"}, "priority"),
        ({"code": "C01-05"}, "code"),
    ],
)
def test_a_bad_item_is_refused_naming_the_field(
    client: Client, tokens: Tokens, services: Services, change: dict[str, Any], field: str
) -> None:
    admin, before = tokens.district(Role.ADMIN), head(services)
    answer = client.patch("/api/v1/catalog/items/C01-01", headers=admin, json=change)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field, answer.text
    assert head(services) == before
    assert client.patch("/api/v1/catalog/items/C09-99", headers=admin, json={"name": "x"}).status_code == 404


def _id(answer: dict[str, Any]) -> UUID:
    return UUID(answer["id"])


def test_a_code_in_any_script_is_answered_with_a_location_a_header_can_carry(
    client: Client, tokens: Tokens
) -> None:
    body = {
        **NEW_ITEM,
        "code": "C01-餐厨",
        "sla": {**SLA, "street": {"response": {"amount": "x", "unit": "minutes"}}},
    }
    refused = client.post("/api/v1/catalog/items", headers=tokens.district(Role.ADMIN), json=body)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "sla.street.response.amount"
    added = client.post(
        "/api/v1/catalog/items", headers=tokens.district(Role.ADMIN), json={**body, "sla": SLA}
    )
    assert added.status_code == 201, added.text
    assert added.headers["location"] == "/api/v1/catalog/items/C01-%E9%A4%90%E5%8E%A8"
    assert client.get(added.headers["location"], headers=tokens.district(Role.ADMIN)).json()["item"]["name"]
