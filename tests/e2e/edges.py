"""Values at and beyond the edges of what huying accepts, by kind, and where the document says
each kind goes.

The calendar's far ends, 64-bit and 4300-digit integers, digits that ``str.isdigit()`` takes and
``int()`` or a database does not, leap seconds, offsets past ±24 h, times without an offset.
Generated cases seldom hit these exact values: the schemathesis run mixes them in wherever the
document declares a value of their kind, and test_problems sends them to every query parameter
of that kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

LINK = "a" * 64

INTEGERS = ["-1", "0", "2147483648", "9223372036854775807", "9223372036854775808", "9" * 5000, "²", "١٢"]
NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-0"]
DAYS = ["0001-01-01", "9999-12-31", "1969-12-31", "2201-01-01", "2026-02-29", "٢٠٢٦-٠١-٠١"]
INSTANTS = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "1969-12-31T23:59:59Z",
    "2201-01-01T00:00:00+08:00",
    "2016-12-31T23:59:60Z",
    "2026-11-23T09:00:00+25:00",
    "2026-11-23T09:00:00",
]
SHAPED = [  # periods (YYYY-MM, YYYY-Qn, YYYY) and checkpoints (POSITION:LINK)
    "0001-01",
    "9999-12",
    "9999",
    "1969-Q4",
    "2026-13",
    "²⁰²⁶",
    "٢٠٢٦-٠١",
    f"9223372036854775808:{LINK}",
    f"²:{LINK}",
    f"{'9' * 5000}:{LINK}",
]
ETAGS = ['"²"', 'W/"³"', '"' + "9" * 5000 + '"', '"2147483648"', '"0"', '"-1"', '"1", "2"', "*"]
KEYS = ["²", "clé", "x" * 201, "a\tb"]
HEADERS = {"if-match": ETAGS, "idempotency-key": KEYS}


@dataclass(frozen=True)
class Slot:
    """Where a value goes: a query parameter, a header, or a field of a JSON body (its path)."""

    location: str
    name: tuple[str, ...]
    values: list[str]
    beside: frozenset[str] = frozenset()  # the operation's required query parameters


def slots(document: dict[str, Any], path: str, method: str) -> list[Slot]:
    """Every place in one operation that takes a number, a date, a time or shaped text."""
    operation = document["paths"][path][method.lower()]
    parameters = operation.get("parameters", [])
    required = frozenset(p["name"] for p in parameters if p["in"] == "query" and p.get("required"))
    found = []
    for parameter in parameters:
        name, where = parameter["name"], parameter["in"]
        values = HEADERS.get(name.lower()) if where == "header" else values_of(parameter["schema"], document)
        if values and where in ("query", "header"):
            found.append(Slot(where, (name,), values, required))
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = content["application/json"]["schema"]
        found += [Slot("body", at, values) for at, values in _fields(body, document, ())]
    return found


def _options(schema: dict[str, Any], document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for option in schema.get("anyOf", [schema]):
        if "$ref" in option:
            option = document["components"]["schemas"][option["$ref"].rsplit("/", 1)[-1]]
        yield option


def values_of(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """The edge values of the kinds a schema declares (none for free text, enums, booleans)."""
    values: list[str] = []
    for option in _options(schema, document):
        kind, shape = option.get("type"), option.get("format")
        values += (
            INTEGERS if kind == "integer" else
            NUMBERS if kind == "number" else
            DAYS + INSTANTS if shape == "date" else
            INSTANTS if shape == "date-time" else
            SHAPED if "pattern" in option else
            []
        )  # fmt: skip
    return list(dict.fromkeys(values))


def _fields(
    schema: dict[str, Any], document: dict[str, Any], at: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], list[str]]]:
    """The times and numbers of a JSON body, nested objects included (JSON has no NaN: a body
    gets only the times)."""
    for option in _options(schema, document):
        for name, field in option.get("properties", {}).items():
            values = [v for v in values_of(field, document) if v in INSTANTS]
            if values:
                yield (*at, name), values
            yield from _fields(field, document, (*at, name))
