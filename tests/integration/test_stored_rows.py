"""What huying stores, row by row, on every backend: no reporter's contact in the clear and no
bearer token, in any table (events, read models, service tables). test_record_honesty.py also
scans SQLite's files and write-ahead log byte for byte."""

from __future__ import annotations

from typing import Any

from httpx import Client

from backends import stored_rows
from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.domain.principal import Principal, Role
from huying.settings import Settings

from .test_record_honesty import COMMUNITY, DISTRICT, leaked, raise_and_dispatch


def test_no_row_holds_a_reporters_contact(
    settings: Settings, services: Services, client: Client, tokens: Any, clock: FakeClock
) -> None:
    call_id = raise_and_dispatch(client, tokens, clock)["id"]
    services.projector.catch_up()
    stored = stored_rows(settings)
    assert call_id.encode() in stored or call_id.replace("-", "").encode() in stored, "not the store we wrote"
    assert "需街道统筹".encode() in stored, "events are readable here, so a leak would show"
    assert leaked(stored) == []


def test_no_row_holds_a_bearer_token(settings: Settings, services: Services) -> None:
    made = [
        services.tokens.create(Principal(r, u), label="row scan")
        for r, u in ((Role.COMMUNITY, COMMUNITY), (Role.ADMIN, DISTRICT))
    ]
    stored = stored_rows(settings)
    for token_id, token in made:
        assert token_id.encode() in stored, "the token rows are here"
        assert token.encode() not in stored and token.removeprefix("hy_").encode() not in stored
