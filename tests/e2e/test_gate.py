"""What every answer carries, and what a client that keeps failing to authenticate gets."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from httpx import Client

from huying.settings import Settings

GRID = "LW-LN-01-G01"
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_failures_per_minute": 3})


def test_a_client_that_keeps_failing_to_authenticate_gets_429_and_when_to_come_back(
    client: Client, tokens: Any
) -> None:
    """Three failures a minute from one address are answered 401; the fourth 429 with
    Retry-After. A valid token from that very address is still served."""
    wrong = [{"Authorization": "Bearer hy_guessed"}, {}, {"Authorization": "Basic x"}]
    assert [client.get("/api/v1/calls", headers=h).status_code for h in wrong] == [401] * 3

    refused = client.get("/api/v1/calls", headers={"Authorization": "Bearer hy_guessed-again"})
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/too-many-requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 20  # one failure more is earned in 20 s

    served = client.get("/api/v1/calls", headers=tokens.headers("grid_worker", GRID))
    assert served.status_code == 200, served.text
    assert client.get("/healthz").status_code == 200


def test_every_answer_carries_the_security_headers(client: Client, tokens: Any) -> None:
    grid = tokens.headers("grid_worker", GRID)
    answers = {
        "ok": client.get("/healthz"),
        "openapi": client.get("/openapi.json"),
        "metrics": client.get("/metrics"),
        "unauthorized": client.get("/api/v1/calls"),
        "not found": client.get("/api/v1/nothing-here", headers=grid),
        "invalid": client.get("/api/v1/calls?limit=0", headers=grid),
        "too large": client.post("/api/v1/calls", headers=grid, content=b"x" * 70_000),
        "asset": client.get("/static-offline-docs/swagger-ui.css"),
    }
    for name, answer in answers.items():
        for header, value in SECURITY_HEADERS.items():
            assert answer.headers.get(header) == value, f"{name}: {header}"
        assert answer.headers["content-security-policy"] == API_POLICY, name
        assert "server" not in answer.headers, name


def test_the_docs_page_may_run_its_own_scripts_and_nothing_else(client: Client) -> None:
    """The policy of /docs names each inline script of the page by its hash; every other
    script, style and image comes from this origin (no CDN: these machines have none)."""
    page = client.get("/docs")
    assert page.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.S)
    assert inline, "the page initialises Swagger UI inline"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"].split()
    assert "'unsafe-inline'" not in policy["script-src"]
    for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert asset.startswith("/"), f"{asset}: not from this origin"
        assert client.get(asset).status_code == 200
    assert policy["connect-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert page.headers["x-frame-options"] == "DENY"
