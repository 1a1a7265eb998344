"""Live tokens remembered for a moment (``services.tokens``): revoked in this process, a token is
refused at the next request; revoked by another process (``huying token revoke``, another
worker), within ``CACHE_SECONDS``; an unknown or revoked token is never remembered."""

from __future__ import annotations

from sqlalchemy import update

from huying.bootstrap import Services
from huying.db import api_tokens
from huying.domain.principal import Principal, Role
from huying.services.tokens import CACHE_SECONDS, TokenStore

STREET = Principal(Role.STREET, "LW-LN")


class Ticking:
    """The real-time clock the store trusts live tokens by, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_revoked_here_is_refused_at_once(services: Services) -> None:
    tokens = TokenStore(services.engine, services.clock)  # remembering, as HUYING_TOKEN_CACHE_SECONDS=1
    token_id, token = tokens.create(STREET)
    assert tokens.principal_for(token) == STREET
    assert tokens.remembered(token) == STREET
    assert tokens.revoke(token_id)
    assert tokens.remembered(token) is None
    assert tokens.principal_for(token) is None


def test_by_default_no_token_is_trusted_without_a_lookup(services: Services) -> None:
    """Revocation takes effect immediately (design/targets.md), whichever process revokes."""
    elsewhere = TokenStore(services.engine, services.clock)  # another process, same database
    token_id, token = services.tokens.create(STREET)
    assert services.tokens.principal_for(token) == STREET
    assert services.tokens.remembered(token) is None
    assert elsewhere.revoke(token_id)
    assert services.tokens.principal_for(token) is None


def test_a_token_revoked_elsewhere_is_refused_within_the_bound(services: Services) -> None:
    ticking = Ticking()
    here = TokenStore(services.engine, services.clock, monotonic=ticking)
    elsewhere = TokenStore(services.engine, services.clock)  # another process, same database
    token_id, token = elsewhere.create(STREET)
    assert here.principal_for(token) == STREET
    assert elsewhere.revoke(token_id)

    ticking.now += CACHE_SECONDS / 2
    assert here.principal_for(token) == STREET, "still trusted: looked up less than the bound ago"
    ticking.now += CACHE_SECONDS
    assert here.remembered(token) is None
    assert here.principal_for(token) is None, "looked up again: revoked"
    assert here.remembered(token) is None, "a revoked token is not remembered"


def test_a_live_token_is_looked_up_once_per_bound_not_per_request(services: Services) -> None:
    ticking = Ticking()
    here = TokenStore(services.engine, services.clock, monotonic=ticking)
    _, token = here.create(STREET)
    assert here.remembered(token) is None, "never looked up yet"
    assert here.principal_for(token) == STREET
    # Changed behind its back (as only a revocation may): trusted as it was, for the bound.
    with services.engine.begin() as conn:
        conn.execute(update(api_tokens).values(unit="LW-CH"))
    assert here.principal_for(token) == STREET
    ticking.now += CACHE_SECONDS * 1.01
    assert here.principal_for(token) == Principal(Role.STREET, "LW-CH")


def test_an_unknown_token_is_never_remembered(services: Services) -> None:
    assert services.tokens.principal_for("hy_nosuchtoken") is None
    assert services.tokens.remembered("hy_nosuchtoken") is None
