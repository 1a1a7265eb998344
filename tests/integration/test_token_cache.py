"""Live tokens remembered (``services.tokens``): revoked in this process, or in another process
of the deployment (``huying token revoke``, another worker: they share the data directory's
revocation notices), a token is refused at the next request; revoked where the notices are not
shared, within ``CACHE_SECONDS``; an unknown or revoked token is never remembered."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sqlalchemy import update

from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.db import api_tokens
from huying.domain.principal import Principal, Role
from huying.services.revocations import FILE_NAME, SharedNotices
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


def test_a_token_revoked_by_another_process_of_the_deployment_is_refused_at_once(
    services: Services,
) -> None:
    """Revocation takes effect immediately (design/targets.md), whichever process revokes: the
    deployment's remembers live tokens, and hears every revocation in its data directory."""
    other_worker = TokenStore(
        services.engine, services.clock, revocations=SharedNotices(services.settings.data_dir)
    )
    token_id, token = services.tokens.create(STREET)
    assert services.tokens.principal_for(token) == STREET
    assert services.tokens.remembered(token) == STREET, "remembered: no lookup per request"
    assert other_worker.principal_for(token) == STREET
    assert other_worker.revoke(token_id)
    assert services.tokens.remembered(token) is None
    assert services.tokens.principal_for(token) is None
    assert services.tokens.remembered(token) is None, "a revoked token is not remembered"


class AnnouncedDuringLookup:
    """The deployment's notices, another process announcing a revocation right after the first
    read of the word: during the lookup that follows it."""

    def __init__(self, data_dir: Path) -> None:
        self.shared, self.other, self.reads = SharedNotices(data_dir), SharedNotices(data_dir), 0

    def current(self) -> int:
        word = self.shared.current()
        self.reads += 1
        if self.reads == 1:
            self.other.announce()
        return word

    def announce(self) -> None:
        self.shared.announce()


def test_a_token_looked_up_while_another_process_revokes_is_not_remembered(services: Services) -> None:
    here = TokenStore(
        services.engine, services.clock, revocations=AnnouncedDuringLookup(services.settings.data_dir)
    )
    _, token = here.create(STREET)
    assert here.principal_for(token) == STREET, "live when looked up"
    assert here.remembered(token) is None, "but a revocation came during its lookup"
    assert here.principal_for(token) == STREET
    assert here.remembered(token) == STREET


def test_with_no_cache_seconds_every_request_looks_its_token_up(services: Services) -> None:
    here = TokenStore(services.engine, services.clock, cache_seconds=0.0, monotonic=Ticking())
    _, token = here.create(STREET)
    assert here.principal_for(token) == STREET
    with services.engine.begin() as conn:
        conn.execute(update(api_tokens).values(unit="LW-CH"))
    assert here.principal_for(token) == Principal(Role.STREET, "LW-CH")


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


def descriptors_of(path: Path) -> int:
    """How many of this process's open descriptors are on ``path``."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
            found += os.readlink(f"/proc/self/fd/{fd}") == str(path)
    return found


def test_services_once_closed_hold_no_descriptor_of_the_notices(services: Services, clock: FakeClock) -> None:
    """Each build of the services maps the notices, and the mapping holds a descriptor of the
    file. Closed services that something still refers to (in the test suite's workers: a test's
    app, a thread's frame) kept it, one per build, until the worker ran out of descriptors."""
    settings = services.settings.model_copy(update={"run_projector": False})
    notices = settings.data_dir / FILE_NAME
    before = descriptors_of(notices)
    built = [build_services(settings, clock) for _ in range(3)]
    assert descriptors_of(notices) == before + 3
    for each in built:
        each.close()
    assert descriptors_of(notices) == before, "closed services still hold the notices' descriptor"


def test_notices_closed_while_a_request_is_in_flight_trust_no_token(services: Services) -> None:
    notices = SharedNotices(services.settings.data_dir)
    tokens = TokenStore(services.engine, services.clock, revocations=notices)
    _, token = tokens.create(STREET)
    assert tokens.principal_for(token) == STREET
    notices.close()
    assert notices.current() != notices.current()
    assert tokens.remembered(token) is None, "trusted after the notices were let go"
    assert tokens.principal_for(token) == STREET, "still looked up in the database"
