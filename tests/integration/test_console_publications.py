"""Published 考评 in the console, over real HTTP (both backends): the supervisor
publishes a settled period from the form and re-publishes it with a reason; each version stays
readable, a re-publication shows what it changed from the version it replaced; a street sees
only its own row, a grid worker nothing; a form without a reason, or without the session's CSRF
token, or from someone who may not publish, writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from httpx import Client

from backends import Backend
from conftest import Tokens
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.settings import Settings
from integration.test_console_sessions import _hidden, events, sign_in
from integration.test_figures import Week
from integration.test_settled_scores import HL, LN, resolved_and_evaluated

PERIOD = "2026-11"  # settled at midnight: no settling window


@pytest.fixture
def settings(backend: Backend, data_dir: Path) -> Settings:
    return backend.settings(data_dir, run_watchdog=False, min_evaluated_for_rank=1, settle_working_days=0)


@pytest.fixture
def november(client: Client, tokens: Tokens, clock: FakeClock) -> Week:
    """Each of two streets resolves one call in November, evaluated: both ranked first."""
    w = Week(client, tokens, clock)
    w.at(11, 23, 9)
    resolved_and_evaluated(w, "X", "LW-LN-01-G01", LN)
    resolved_and_evaluated(w, "Y", "LW-HL-01-G01", HL)
    w.at(12, 1, 8)
    return w


def _publish(client: Client, **fields: str) -> tuple[int, str]:
    page = client.get("/console/publications")
    assert page.status_code == 200, page.text
    form = {"csrf": _hidden(page.text, "csrf"), "idempotency_key": _hidden(page.text, "idempotency_key")}
    sent = client.post("/console/publications", data={**form, **fields}, follow_redirects=False)
    return sent.status_code, sent.headers.get("location", sent.text)


def test_the_supervisor_publishes_and_republishes_and_each_reader_sees_its_rows(
    client: Client, tokens: Tokens, services: Services, november: Week
) -> None:
    sign_in(client, tokens.token("supervisor", "LW"))
    before = events(services)
    assert _publish(client, kind="community", period=PERIOD)[0] == 422  # not a published kind
    assert _publish(client, kind="street", period="2200-12")[0] == 409  # not settled
    assert events(services) == before
    status, where = _publish(client, kind="street", period=PERIOD)
    assert status == 303, where
    publication = where.split("/")[-1].split("?")[0]
    page = client.get(where).text
    assert "v1" in page and '<tr data-unit="LW-LN">' in page and '<tr data-unit="LW-HL">' in page
    assert _publish(client, kind="street", period=PERIOD)[0] == 409  # once: re-publish instead

    form = {"csrf": _hidden(page, "csrf"), "idempotency_key": "re-1", "version": "1"}
    republish = f"/console/publications/{publication}/republish"
    before = events(services)
    assert client.post(republish, data=form).status_code == 422  # the reason is required
    assert client.post(republish, data={**form, "reason": "x", "csrf": "guess"}).status_code == 403
    assert events(services) == before
    services.settings.min_evaluated_for_rank = 2  # the rule changes: one evaluated call ranks no one
    reason = "考核办法：两件以上方参与排名"
    done = client.post(republish, data={**form, "reason": reason}, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"]).text
    assert reason in page and "与 v1 相比" in page
    assert '<tr data-unit="LW-LN"><th scope="row">岭南街道</th><td>rank</td><td>1</td><td>—</td></tr>' in page
    first = client.get(f"/console/publications/{publication}", params={"version": 1}).text
    assert 'id="changes"' not in first and "第 1 版 / 共 2 版" in first
    listed = client.get("/console/publications").text
    assert listed.count(f"/console/publications/{publication}?version=") == 2

    sign_in(client, tokens.token("street", "LW-LN"))
    own = client.get(f"/console/publications/{publication}").text
    assert '<tr data-unit="LW-LN">' in own and 'data-unit="LW-HL"' not in own  # figures and changes
    assert 'action="/console/publications' not in own + client.get("/console/publications").text
    forged = {"csrf": _hidden(own, "csrf"), "idempotency_key": "re-2", "reason": "改"}
    before = events(services)
    assert client.post(republish, data=forged).status_code == 403
    assert events(services) == before
    sign_in(client, tokens.token("grid_worker", "LW-LN-01-G01"))
    assert client.get("/console/publications").status_code == 403
    assert client.get(f"/console/publications/{publication}").status_code == 404
