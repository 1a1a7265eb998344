"""Open311 GeoReport v2 over HTTP, on each backend: every answer in XML and JSON shaped as the
spec's examples; a POST goes down huying's one raise path (validation, idempotency, the contact
store — never an event); a grid found from lat/long; lists filtered as the spec says; a call not
raised through Open311 is seen only by a key within its jurisdiction; errors in the spec's format."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from httpx import Client

from backends import raw_events
from huying.bootstrap import Services
from huying.clock import FakeClock

from . import open311_spec as spec

BASE = "/open311/v2"
NEAR_LN02_G01 = {"lat": "23.1216", "long": "113.2559"}  # a few metres from 冼基社区 第一网格's centre
FORM: dict[str, Any] = {
    "service_code": "C01-01",
    **NEAR_LN02_G01,
    "description": "巷口垃圾三天没人清运\n天热有异味",
    "first_name": "三",
    "last_name": "张",
    "phone": "13812345678",
    "email": "zhangsan@example.cn",
    "device_id": "device-7f3a",
    "account_id": "acct-20931",
    "media_url": "https://img.example.cn/lnxj/0001.jpg",
}
FORM_CONTACT = ("zhangsan@example.cn", "device-7f3a", "acct-20931")
PERSONAL = ("张三", "13812345678", "zhangsan@example.cn", "device-7f3a", "acct-20931")


def key_of(tokens: Any, role: str, unit: str) -> str:
    token: str = tokens.token(role, unit)
    return token


def post(client: Client, fmt: str, form: dict[str, Any], **headers: str) -> Any:
    return client.post(f"{BASE}/requests.{fmt}", data=form, headers=headers)


def raised(client: Client, tokens: Any, form: dict[str, Any] | None = None, **kw: str) -> str:
    response = post(client, "json", {**(form or FORM), "api_key": key_of(tokens, "supervisor", "LW"), **kw})
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert set(answer) == {"service_request_id", "service_notice"}
    request_id: str = answer["service_request_id"]
    return request_id


def test_discovery_services_and_definitions_are_shaped_as_the_spec(
    client: Client, services: Services
) -> None:
    discovery = client.get(f"{BASE}/discovery.json").json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(discovery)
    [endpoint] = discovery["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and set(endpoint["formats"]) == {
        "text/xml",
        "application/json",
    }
    root = spec.xml_root(client.get(f"{BASE}/discovery.xml").content, "discovery")
    assert [f.text for f in root.iter("format")] == ["text/xml", "application/json"]

    as_json = client.get(f"{BASE}/services.json")
    assert as_json.headers["content-type"] == "application/json; charset=utf-8"
    listed = as_json.json()
    for s in listed:
        spec.check_service_json(s)
    as_xml = client.get(f"{BASE}/services.xml")
    assert as_xml.headers["content-type"] == "text/xml; charset=utf-8"
    for s in spec.xml_items(as_xml.content, "services", "service"):
        spec.check_service_xml(s)
    catalog = services.app.catalog
    assert [s["service_code"] for s in listed] == list(catalog.items)
    garbage = next(s for s in listed if s["service_code"] == "C01-01")
    assert (garbage["service_name"], garbage["group"]) == ("垃圾堆积", "市容环境卫生")

    definition = client.get(f"{BASE}/services/C01-01.json").json()
    spec.check_definition_json(definition)
    attributes = spec.check_definition_xml(client.get(f"{BASE}/services/C01-01.xml").content)
    grid = next(a for a in attributes if a["code"] == "grid")
    assert {v["key"] for v in grid["values"]} == {
        u.code for u in services.app.org.units.values() if u.kind == "grid"
    }
    for fmt, check in (
        ("json", lambda r: spec.check_errors_json(r.json(), 404)),
        ("xml", lambda r: spec.check_errors_xml(r.content, 404)),
    ):
        missing = client.get(f"{BASE}/services/NOPE.{fmt}")
        assert missing.status_code == 404
        assert "NOPE" in check(missing)[0]


def test_a_post_is_a_raise_read_back_in_json_and_xml_with_its_contact_kept_apart(
    client: Client, tokens: Any, services: Services
) -> None:
    request_id = raised(client, tokens)
    as_json = client.get(f"{BASE}/requests/{request_id}.json").json()
    [request] = as_json
    spec.check_request_json(request)
    assert request["service_request_id"] == request_id and request["status"] == "open"
    assert request["service_code"] == "C01-01" and request["service_name"] == "垃圾堆积"
    assert request["description"] == FORM["description"] and request["media_url"] == FORM["media_url"]
    assert (request["lat"], request["long"]) == (23.1216, 113.2559)
    assert request["agency_responsible"] == "冼基社区" and "冼基社区" in request["status_notes"]
    assert spec.w3_time(request["expected_datetime"]) > spec.w3_time(request["requested_datetime"])
    [as_xml] = spec.xml_items(
        client.get(f"{BASE}/requests/{request_id}.xml").content, "service_requests", "request"
    )
    spec.check_request_xml(as_xml)
    assert as_xml["service_request_id"] == request_id and as_xml["status_notes"] == request["status_notes"]

    # Through the API: the grid nearest to lat/long, the open311 channel; the contact in full
    # only for the supervisor (回访), every detail of it in the contact store, none in an event.
    supervisor = tokens.headers("supervisor", "LW")
    call = client.get(f"/api/v1/calls/{request_id}", headers=supervisor).json()
    assert (call["grid_code"], call["channel"]) == ("LW-LN-02-G01", "open311")
    assert call["title"] == "巷口垃圾三天没人清运" and call["media_url"] == FORM["media_url"]
    assert call["reporter"] == {"name": "张三", "phone": "13812345678"}
    stored_call = services.calls.current(UUID(request_id))
    assert stored_call is not None and stored_call.reporter_ref is not None
    kept = services.contacts.get(stored_call.reporter_ref)
    assert kept is not None and (kept.email, kept.device_id, kept.account_id) == FORM_CONTACT
    for body in (str(as_json), str(as_xml)):
        assert not any(p in body for p in PERSONAL)
    with raw_events(services.settings) as store:
        stored = "".join(str(row) for row in store.execute("SELECT * FROM {events}"))
    assert not any(p in stored for p in PERSONAL)


def test_post_errors_come_in_the_spec_format_with_400_403_404(client: Client, tokens: Any) -> None:
    supervisor = key_of(tokens, "supervisor", "LW")
    cases = [
        ({**FORM}, 403, "api_key was not provided"),
        ({**FORM, "api_key": "hy_not-a-token"}, 403, "invalid api_key"),
        ({**FORM, "api_key": key_of(tokens, "street", "LW-LN")}, 403, "may not raise"),
        ({**FORM, "api_key": supervisor, "service_code": "NOPE"}, 404, "service_code NOPE"),
        ({**FORM, "api_key": supervisor, "jurisdiction_id": "elsewhere.gov"}, 404, "jurisdiction_id"),
        ({"api_key": supervisor, "service_code": "C01-01"}, 400, "no location"),
        ({"api_key": supervisor, "service_code": "C01-01", "address_id": "545483"}, 400, "address_id"),
        ({**FORM, "api_key": supervisor, "lat": "north"}, 400, "numbers"),
        ({**FORM, "api_key": supervisor, "long": ""}, 400, "lat and long come together"),
        ({**FORM, "api_key": supervisor, "lat": "39.9", "long": "116.4"}, 400, "km from the nearest grid"),
        ({**FORM, "api_key": supervisor, "phone": "555-5555"}, 400, "phone"),
        ({**FORM, "api_key": supervisor, "email": "not-an-address"}, 400, "email"),
        ({**FORM, "api_key": supervisor, "attribute[grid]": "LW-XX"}, 400, "grid"),
        ({**FORM, "api_key": supervisor, "attribute[colour]": "red"}, 400, "attribute[colour]"),
        ({**FORM, "api_key": supervisor, "attribute[urgency]": "whenever"}, 400, "attribute[urgency]"),
        ({**FORM, "api_key": supervisor, "media_url": "javascript:alert(1)"}, 400, "media_url"),
        ({**FORM, "api_key": supervisor, "description": "x" * 5001}, 400, "description"),
    ]
    for form, status, words in cases:
        as_json = post(client, "json", form)
        assert as_json.status_code == status, (form, as_json.text)
        assert any(words in d for d in spec.check_errors_json(as_json.json(), status)), as_json.text
        as_xml = post(client, "xml", form)
        assert as_xml.status_code == status and as_xml.headers["content-type"].startswith("text/xml")
        assert any(words in d for d in spec.check_errors_xml(as_xml.content, status)), as_xml.text


def test_the_grid_comes_from_the_attribute_the_key_or_the_nearest_centre(client: Client, tokens: Any) -> None:
    def grid_of(role: str, unit: str, **form: str) -> Any:
        response = post(
            client, "json", {"service_code": "C01-01", **form, "api_key": key_of(tokens, role, unit)}
        )
        if response.status_code != 200:
            return response.status_code
        call = client.get(
            f"/api/v1/calls/{response.json()[0]['service_request_id']}",
            headers=tokens.headers("supervisor", "LW"),
        )
        return call.json()["grid_code"]

    assert grid_of("supervisor", "LW", **NEAR_LN02_G01) == "LW-LN-02-G01"
    assert (
        grid_of("supervisor", "LW", **NEAR_LN02_G01, **{"attribute[grid]": "LW-HD-01-G02"}) == "LW-HD-01-G02"
    )
    # A community's nearest own grid; a grid worker's own grid, wherever it stands.
    assert grid_of("community", "LW-LN-01", **NEAR_LN02_G01) in {"LW-LN-01-G01", "LW-LN-01-G02"}
    assert grid_of("community", "LW-LN-01", lat="23.1164", long="113.2513") == "LW-LN-01-G03"
    assert grid_of("grid_worker", "LW-LN-01-G02", address_string="十三行路12号") == "LW-LN-01-G02"
    assert grid_of("community", "LW-LN-01", address_string="十三行路12号") == 400
    # Naming a grid outside one's own is the transition table's 403, as in the API.
    assert grid_of("community", "LW-LN-01", address_string="x", **{"attribute[grid]": "LW-HD-01-G01"}) == 403


def test_lists_filter_by_id_service_status_and_90_day_windows(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    old = raised(client, tokens)
    clock.advance(100 * 86400)
    noise = raised(client, tokens, {**FORM, "service_code": "C01-02"})
    fresh = raised(client, tokens)
    closed = raised(client, tokens)
    community = tokens.headers("community", "LW-LN-02")
    withdrawn = client.post(
        f"/api/v1/calls/{closed}/withdraw", headers=community, json={"reason": "已自行解决"}
    )
    assert withdrawn.status_code == 200, withdrawn.text

    def ids(**params: str) -> list[str]:
        response = client.get(f"{BASE}/requests.json", params=params)
        assert response.status_code == 200, response.text
        for r in response.json():
            spec.check_request_json(r)
        return [r["service_request_id"] for r in response.json()]

    assert ids() == [closed, fresh, noise]  # the last 90 days, newest first
    assert ids(status="open") == [fresh, noise] and ids(status="closed") == [closed]
    assert (
        ids(service_code="C01-02") == [noise]
        and ids(service_code="C01-01,C01-02", status="open,closed") == ids()
    )
    assert ids(start_date="2026-11-22T00:00:00+08:00", end_date="2026-11-24T00:00:00Z") == [old]
    assert ids(service_request_id=f"{old},{fresh},not-an-id", status="closed") == [old, fresh]
    xml = client.get(f"{BASE}/requests.xml", params={"status": "open"}).content
    assert [r["service_request_id"] for r in spec.xml_items(xml, "service_requests", "request")] == [
        fresh,
        noise,
    ]
    for params, words in (
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"}, "before"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2026-01-01T00:00:00"}, "time zone"),
        ({"status": "pending"}, "status"),
        ({"service_code": "NOPE"}, "NOPE"),
    ):
        refused = client.get(f"{BASE}/requests.json", params=params)
        assert refused.status_code == 400 and any(
            words in d for d in spec.check_errors_json(refused.json(), 400)
        )


def test_calls_from_other_channels_are_seen_only_by_a_key_within_their_jurisdiction(
    client: Client, tokens: Any
) -> None:
    body = {
        "item_code": "C01-01",
        "grid_code": "LW-LN-01-G01",
        "title": "楼道堆物",
        "description": "三楼楼道堆放杂物",
        "channel": "grid_worker",
        "reporter": {"name": "李四", "phone": "13900001111"},
    }
    made = client.post("/api/v1/calls", json=body, headers=tokens.headers("grid_worker", "LW-LN-01-G01"))
    internal = made.json()["id"]
    public = raised(client, tokens)

    def sees(key: str | None) -> tuple[int, list[str]]:
        params = {"api_key": key} if key else {}
        one = client.get(f"{BASE}/requests/{internal}.json", params=params)
        listed = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json", params=params).json()]
        return one.status_code, listed

    assert sees(None) == (404, [public])
    assert sees(key_of(tokens, "community", "LW-LN-02")) == (404, [public])
    assert sees(key_of(tokens, "community", "LW-LN-01")) == (200, [public, internal])
    assert sees(key_of(tokens, "department", "CG")) == (404, [public])
    assert sees(key_of(tokens, "auditor", "LW"))[0] == 200
    [shown] = client.get(
        f"{BASE}/requests/{internal}.json", params={"api_key": key_of(tokens, "supervisor", "LW")}
    ).json()
    assert "李四" not in str(shown) and "13900001111" not in str(shown)
    assert client.get(f"{BASE}/requests/{internal}.json", params={"api_key": "hy_forged"}).status_code == 403


def test_a_retried_post_with_its_idempotency_key_raises_once(client: Client, tokens: Any) -> None:
    first = raised(client, tokens, **{})
    key = {"Idempotency-Key": "app-7f3a-0001"}
    form = {**FORM, "api_key": key_of(tokens, "supervisor", "LW")}
    one = post(client, "json", form, **key)
    again = post(client, "xml", form, **key)
    assert one.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    [replayed] = spec.xml_items(again.content, "service_requests", "request")
    assert replayed["service_request_id"] == one.json()[0]["service_request_id"] != first
    other = post(client, "json", {**form, "description": "另一件事"}, **key)
    assert other.status_code == 400 and "Idempotency-Key" in other.json()[0]["description"]
    other_reporter = post(client, "json", {**form, "phone": "13900002222"}, **key)
    assert other_reporter.status_code == 400


def test_updates_follow_every_step_with_chinese_notes_as_fixmystreet_reads_them(
    client: Client, tokens: Any, clock: FakeClock
) -> None:
    request_id = raised(client, tokens)
    community, street, cg = (
        tokens.headers(*w) for w in (("community", "LW-LN-02"), ("street", "LW-LN"), ("department", "CG"))
    )

    def act(path: str, who: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
        clock.advance(600)
        done = client.post(path, headers=who, json=body or {})
        assert done.status_code == 200, done.text
        answer: dict[str, Any] = done.json()
        return answer

    calls = f"/api/v1/calls/{request_id}"
    act(f"{calls}/acknowledge", community)
    act(f"{calls}/escalate", community, {"reason": "需城管协调"})
    act(f"{calls}/acknowledge", street)
    dispatched = act(
        f"{calls}/dispatch",
        street,
        {"lead_department": "CG", "assisting_departments": ["ZJ"], "instructions": "清运"},
    )
    order = dispatched["work_orders"][0]
    [request] = client.get(f"{BASE}/requests/{request_id}.json").json()
    assert request["agency_responsible"] == "广州市荔湾区城市管理和综合执法局"
    assert spec.w3_time(request["expected_datetime"]) == spec.w3_time(order["deadline"])
    act(f"/api/v1/work-orders/{order['id']}/sign", cg)
    act(f"/api/v1/work-orders/{order['id']}/complete", cg, {"result": "已清运"})
    act(f"{calls}/resolve", street, {"summary": "已清运完毕"})

    updates = client.get(
        f"{BASE}/servicerequestupdates.json",
        params={"start_date": "2026-11-23T00:00:00Z", "end_date": "2026-11-24T00:00:00Z"},
    ).json()
    assert all(set(spec.UPDATE) <= set(u) for u in updates)
    assert [u["status"] for u in updates] == [
        "open",
        "investigating",
        "open",
        "investigating",
        "action_scheduled",
        "action_scheduled",
        "action_scheduled",
        "fixed",
    ]
    assert [u["description"] for u in updates][1:5] == [
        "冼基社区已响应，正在处理",
        "冼基社区已上呼至岭南街道",
        "岭南街道已响应，正在处理",
        "岭南街道已派单，城管牵头办理，住建协办",
    ]
    assert len({u["update_id"] for u in updates}) == len(updates)
    assert not any("需城管协调" in u["description"] or "已清运完毕" in u["description"] for u in updates)
    xml = client.get(
        f"{BASE}/servicerequestupdates.xml",
        params={"start_date": "2026-11-23T00:00:00Z", "end_date": "2026-11-24T00:00:00Z"},
    )
    listed = spec.xml_items(xml.content, "service_request_updates", "request_update")
    assert [u["update_id"] for u in listed] == [u["update_id"] for u in updates]
    [closed] = client.get(f"{BASE}/requests/{request_id}.json").json()
    assert (closed["status"], closed["status_notes"], closed["expected_datetime"]) == (
        "closed",
        "已办结，待回访",
        None,
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/services.yaml", 404),
        ("/requests/abc.json", 404),
        ("/tokens/123.xml", 404),
        ("/requests.json?page_size=0", 400),
        ("/requests.xml?page=x", 400),
        ("/services.json?jurisdiction_id=sfgov.org", 404),
    ],
)
def test_unknown_resources_and_bad_parameters_answer_in_the_spec_format(
    client: Client, path: str, status: int
) -> None:
    response = client.get(BASE + path)
    assert response.status_code == status
    if path.split("?")[0].endswith(".json"):
        spec.check_errors_json(response.json(), status)
    else:
        spec.check_errors_xml(response.content, status)
