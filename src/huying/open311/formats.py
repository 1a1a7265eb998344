"""Open311's two wire formats, one model: XML (required by GeoReport v2) and JSON, the JSON being
the programmatic mapping of the XML the spec calls the Spark convention — a container element of
repeated children is a JSON array of them; ``true``/``false`` and numbers are typed in JSON and
text in XML; an absent value is ``null`` in JSON and an empty element in XML.

Every Open311 answer is built as plain Python (dicts, lists, scalars) and rendered here once.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Any
from xml.etree import ElementTree

from fastapi import Response

# A container element → the name of each element it repeats (services → service, …).
ITEM_OF: dict[str, str] = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
}
# XML 1.0 cannot carry these characters at all (text typed into a call might hold one).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Format(StrEnum):
    XML = "xml"
    JSON = "json"

    @property
    def media_type(self) -> str:
        return "text/xml; charset=utf-8" if self is Format.XML else "application/json; charset=utf-8"


def format_of(path: str) -> Format:
    """The format a path asks for by its suffix (``services.json``); XML, the required one, else."""
    return Format.JSON if path.endswith(".json") else Format.XML


def render(fmt: Format, root: str, content: list[Any] | dict[str, Any], status: int = 200) -> Response:
    """``content`` under the root element ``root`` (a container when ``content`` is a list)."""
    if fmt is Format.JSON:
        body = json.dumps(_plain(content), ensure_ascii=False, separators=(",", ":")).encode()
    else:
        body = to_xml(root, content)
    return Response(body, status_code=status, media_type=fmt.media_type)


def to_xml(root: str, content: list[Any] | dict[str, Any]) -> bytes:
    element = ElementTree.Element(root)
    _fill(element, content)
    text = ElementTree.tostring(element, encoding="unicode")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + text.encode()


def _fill(element: ElementTree.Element, value: Any) -> None:
    if isinstance(value, list):
        item = ITEM_OF[element.tag]
        for member in value:
            _fill(ElementTree.SubElement(element, item), member)
    elif isinstance(value, dict):
        for key, member in value.items():
            _fill(ElementTree.SubElement(element, key), member)
    elif value is not None:
        element.text = _NOT_XML.sub("\ufffd", _scalar(value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class Open311Error(Exception):
    """An answer in the spec's error format: 400 (the request cannot be fulfilled), 403 (api_key
    missing or invalid) or 404 (no such resource)."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions or ("error",)


def error_response(fmt: Format, status: int, descriptions: tuple[str, ...] | list[str]) -> Response:
    errors = [{"code": status, "description": d} for d in descriptions]
    return render(fmt, "errors", errors, status)
