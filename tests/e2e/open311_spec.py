"""The shapes of Open311 GeoReport v2 answers, as the spec's examples show them (wiki.open311.org/
GeoReport_v2, its Service Discovery page, and FixMyStreet's updates extension): which elements each
answer has, in XML and in JSON, and what each value's type is. Written from the spec's text."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from xml.etree import ElementTree

SERVICE = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
ATTRIBUTE = ("variable", "code", "datatype", "required", "datatype_description", "order", "description")
REQUEST = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
UPDATE = ("update_id", "service_request_id", "status", "updated_datetime", "description", "media_url")
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


def xml_root(body: bytes, root: str) -> ElementTree.Element:
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>'), body[:60]
    element = ElementTree.fromstring(body)
    assert element.tag == root, f"root element {element.tag}, not {root}"
    return element


def xml_items(body: bytes, root: str, item: str) -> list[dict[str, str]]:
    """The repeated children of a container root, each as element name → text."""
    element = xml_root(body, root)
    assert all(child.tag == item for child in element), [c.tag for c in element]
    return [{c.tag: c.text or "" for c in child} for child in element]


def w3_time(text: str) -> datetime:
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert instant.tzinfo is not None, f"{text} has no time zone"
    return instant


def check_service_json(s: dict[str, Any]) -> None:
    assert set(s) == set(SERVICE), s
    assert isinstance(s["service_code"], str) and isinstance(s["service_name"], str)
    assert isinstance(s["metadata"], bool)
    assert s["type"] in ("realtime", "batch", "blackbox")


def check_service_xml(s: dict[str, str]) -> None:
    assert tuple(s) == SERVICE, s
    assert s["metadata"] in ("true", "false") and s["type"] in ("realtime", "batch", "blackbox")


def check_definition_json(d: dict[str, Any]) -> None:
    assert set(d) == {"service_code", "attributes"}
    for a in d["attributes"]:
        assert set(ATTRIBUTE) <= set(a) <= {*ATTRIBUTE, "values"}, a
        assert isinstance(a["variable"], bool) and isinstance(a["required"], bool)
        assert isinstance(a["order"], int) and a["datatype"] in DATATYPES
        if a["datatype"].endswith("valuelist"):
            assert a["values"] and all(set(v) == {"key", "name"} for v in a["values"])


def check_definition_xml(body: bytes) -> list[dict[str, Any]]:
    root = xml_root(body, "service_definition")
    assert [c.tag for c in root] == ["service_code", "attributes"]
    attributes = []
    found = root.find("attributes")
    assert found is not None
    for a in found:
        assert a.tag == "attribute"
        fields = {c.tag: c for c in a}
        assert set(ATTRIBUTE) <= set(fields) <= {*ATTRIBUTE, "values"}, set(fields)
        assert fields["variable"].text in ("true", "false") and fields["required"].text in ("true", "false")
        assert (fields["order"].text or "").isdigit()
        listed = fields.get("values")
        values = [{v.tag: v.text for v in value} for value in (listed if listed is not None else [])]
        assert all(set(v) == {"key", "name"} for v in values)
        attributes.append({"code": fields["code"].text, "values": values})
    return attributes


def check_request_json(r: dict[str, Any]) -> None:
    assert tuple(r) == REQUEST, tuple(r)
    assert isinstance(r["service_request_id"], str) and r["status"] in ("open", "closed")
    w3_time(r["requested_datetime"])
    w3_time(r["updated_datetime"])
    if r["expected_datetime"] is not None:
        w3_time(r["expected_datetime"])
    for coordinate in ("lat", "long"):
        assert r[coordinate] is None or isinstance(r[coordinate], float)


def check_request_xml(r: dict[str, str]) -> None:
    assert tuple(r) == REQUEST, tuple(r)
    assert r["status"] in ("open", "closed")
    w3_time(r["requested_datetime"])
    if r["lat"]:
        float(r["lat"]), float(r["long"])


def check_errors_json(body: Any, code: int) -> list[str]:
    assert isinstance(body, list) and body, body
    assert all(set(e) == {"code", "description"} and e["code"] == code for e in body), body
    return [e["description"] for e in body]


def check_errors_xml(body: bytes, code: int) -> list[str]:
    errors = xml_items(body, "errors", "error")
    assert errors and all(tuple(e) == ("code", "description") and e["code"] == str(code) for e in errors)
    return [e["description"] for e in errors]
