"""An Open311 client library from the package registry, not written for huying (``georeport``,
GeoReport v2 for Python), pointed at the real `huying serve` over TCP: it lists the services,
reads a service definition, and reads back in JSON and in XML a request posted the way the spec
shows (a form with api_key). The library does not post, so the post is the spec's own example
request, with huying's values."""

from __future__ import annotations

import httpx
import pytest
from georeport import GeoReport

from .inprocess import HTTP_PATIENCE
from .server import Server

pytestmark = pytest.mark.slow


def test_georeport_lists_services_and_reads_back_a_posted_request_in_json_and_xml(server: Server) -> None:
    server.cli("migrate")
    key = server.token("grid_worker", "LW-LN-01-G01")["Authorization"].removeprefix("Bearer ")
    server.start()
    root = f"{server.base_url}/open311/v2"
    as_json, as_xml = GeoReport(root, jurisdiction="LW"), GeoReport(root, output_format="xml")

    services = as_json.get_service_list()
    assert {s["service_code"] for s in services} == {s["service_code"] for s in as_xml.get_service_list()}
    garbage = next(s for s in services if s["service_code"] == "C01-01")
    assert garbage["service_name"] == "垃圾堆积" and garbage["metadata"] is True
    definition = as_xml.get_service_definition("C01-01")
    assert definition["service_code"] == "C01-01"
    assert [a["code"] for a in definition["attributes"]["attribute"]] == [
        a["code"] for a in as_json.get_service_definition("C01-01")["attributes"]
    ]

    posted = httpx.post(
        f"{root}/requests.xml",
        data={
            "api_key": key,
            "jurisdiction_id": "LW",
            "service_code": "C01-01",
            "lat": "23.1176",
            "long": "113.2524",
            "address_string": "十三行路12号",
            "description": "巷口垃圾三天没人清运",
            "first_name": "三",
            "last_name": "张",
            "phone": "13812345678",
            "media_url": "https://img.example.cn/0001.jpg",
        },
        timeout=HTTP_PATIENCE,
    )
    assert posted.status_code == 200, posted.text
    request_id = posted.text.split("<service_request_id>")[1].split("</service_request_id>")[0]

    read_json = as_json.get_service_request(request_id)
    read_xml = as_xml.get_service_request(request_id)
    for read in (read_json, read_xml):
        assert read["service_request_id"] == request_id and read["service_code"] == "C01-01"
        assert read["status"] == "open" and read["address"] == "十三行路12号"
        assert read["description"] == "巷口垃圾三天没人清运"
    assert read_json["lat"] == 23.1176 and read_xml["lat"] == "23.1176"
    listed = as_json.get_service_requests(service_request_id=request_id, status="open")
    assert [r["service_request_id"] for r in listed] == [request_id]
    assert as_xml.get_service_requests(service_code="C01-01")["service_request_id"] == request_id
