"""A query parameter an endpoint does not know is refused, on every endpoint, naming it.

Once, ``GET /api/v1/calls?q=垃圾`` answered with every call: the parameter did not exist and was
ignored, so the answer looked like an answer to the question asked. Every operation of the
OpenAPI document is asked with a parameter it does not declare, beside the ones it does.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import pytest
from httpx import Client


class Tokens(Protocol):
    def headers(self, role: str, unit: str, key: str | None = None, **extra: str) -> dict[str, str]: ...


def operations(client: Client) -> list[tuple[str, str, list[str]]]:
    """(method, path with its path parameters filled in, the query parameters it declares)."""
    found = []
    for path, item in client.get("/openapi.json").json()["paths"].items():
        for method, op in item.items():
            declared = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            found.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path), declared))
    return found


def test_every_endpoint_refuses_an_unknown_query_parameter_and_names_it(
    client: Client, tokens: Tokens
) -> None:
    admin = tokens.headers("admin", "LW")
    answers: dict[str, Any] = {}
    for method, path, declared in operations(client):
        r = client.request(method, path, params={"bogus": "1", "also_bogus": "垃圾"}, headers=admin)
        body = r.json() if r.headers["content-type"].startswith("application/problem+json") else {}
        answers[f"{method} {path}"] = (r.status_code, [e["field"] for e in body.get("errors", [])])
        if declared:  # the answer says what the endpoint does take
            assert all(name in body["detail"] for name in declared), (method, path, body["detail"])
    assert len(answers) > 30
    assert answers == {op: (422, ["also_bogus", "bogus"]) for op in answers}


def test_the_search_refuses_a_misspelt_filter_instead_of_answering_everything(
    client: Client, tokens: Tokens
) -> None:
    r = client.get("/api/v1/calls", params={"staus": "closed"}, headers=tokens.headers("admin", "LW"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "staus"
    assert "status" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize("params", [{"min_position": "0"}, {"status": "dispatched", "limit": "5"}])
def test_declared_parameters_and_those_of_shared_dependencies_pass(
    client: Client, tokens: Tokens, params: dict[str, str]
) -> None:
    r = client.get("/api/v1/calls", params=params, headers=tokens.headers("admin", "LW"))
    assert r.status_code == 200, r.text


def test_the_pages_outside_the_api_are_left_alone(client: Client) -> None:
    assert client.get("/docs/oauth2-redirect", params={"code": "c", "state": "s"}).status_code == 200


def test_a_nul_in_any_parameter_is_refused_before_an_unknown_one_on_every_route(
    client: Client, tokens: Tokens
) -> None:
    """The two checks every route shares, in their order: a NUL in a query or path parameter
    (PostgreSQL refuses NUL in text), then a parameter the route does not take."""
    admin = tokens.headers("admin", "LW")

    def fields(r: Any) -> tuple[int, list[str]]:
        return r.status_code, [e["field"] for e in r.json().get("errors", [])]

    assert fields(client.get("/api/v1/calls", params={"item": "C01\x00"}, headers=admin)) == (422, ["item"])
    nul_and_unknown = client.get("/api/v1/calls", params={"item": "C01\x00", "bogus": "1"}, headers=admin)
    assert fields(nul_and_unknown) == (422, ["item"])
    assert fields(client.get("/api/v1/calls/a%00b", headers=admin)) == (422, ["call_id"])
    assert fields(client.get("/api/v1/calls", params={"bogus": "1"}, headers=admin)) == (422, ["bogus"])
