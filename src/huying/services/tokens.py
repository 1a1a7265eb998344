"""Bearer tokens: created and revoked by the operator, stored only as hashes.

A token found live is remembered, so a busy client is not looked up at every request (nor sent
to a worker thread for it: ``remembered`` answers in the event loop). It is trusted while no
revocation has been announced since it was looked up (``revocations``: every process of the
deployment — workers, ``huying token revoke`` from the shell — hears one at once), and for
``cache_seconds`` of real time at most: the bound for processes that share no data directory.
Unknown and revoked tokens are never remembered: each is looked up again."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, insert, select, update

from huying.clock import Clock
from huying.db import api_tokens
from huying.domain.principal import Principal, Role
from huying.services.revocations import LocalNotices, Notices


@dataclass(frozen=True)
class TokenInfo:
    id: str
    role: str
    unit: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


# How long a live token is trusted without looking again (real time), revocations apart: the
# bound on one made by a process that shares no data directory with this one. Deployments pass
# HUYING_TOKEN_CACHE_SECONDS; this is the store's own default, for whoever builds one directly.
CACHE_SECONDS = 1.0
_CACHE_MAX = 10_000  # tokens remembered at once (beyond: forget them all and start again)

# Every request's lookup, one statement with its parameter apart: compiled once, not built and
# given a cache key anew per request.
_LIVE = select(api_tokens.c.id, api_tokens.c.role, api_tokens.c.unit).where(
    api_tokens.c.token_hash == bindparam("digest"), api_tokens.c.revoked_at.is_(None)
)


def _hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: no salt or slow hash needed.
    return hashlib.sha256(token.encode()).hexdigest()


def token_hash(token: str) -> str:
    """What is kept of a token: the API's lookup and a console sign-in find it by this."""
    return _hash(token)


class TokenStore:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        cache_seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        revocations: Notices | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock  # business time: when tokens were made and revoked
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic  # real time: how long a live token is trusted
        # Revocations announced by the processes that share them (alone: this one's own).
        self._revocations = revocations or LocalNotices()
        # token hash → (principal, trusted until on the monotonic clock, the revocations' word
        # when it was looked up)
        self._live: dict[str, tuple[Principal, float, int]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._revocations.close()

    def create(self, principal: Principal, label: str = "") -> tuple[str, str]:
        """Returns (token id, token). The token itself is shown once and never stored."""
        if principal.role is Role.SYSTEM:
            raise ValueError("the system principal has no token")
        token_id = secrets.token_hex(6)
        token = f"hy_{secrets.token_urlsafe(32)}"
        with self._engine.begin() as conn:
            conn.execute(
                insert(api_tokens).values(
                    id=token_id,
                    token_hash=_hash(token),
                    role=principal.role.value,
                    unit=principal.unit,
                    label=label,
                    created_at=self._clock.now(),
                )
            )
        return token_id, token

    def principal_for(self, token: str) -> Principal | None:
        """The principal of a live token; None for unknown or revoked ones (looked up unless
        remembered as live within the last ``CACHE_SECONDS``)."""
        digest = _hash(token)
        known = self._remembered(digest)
        if known is not None:
            return known
        word = self._revocations.current()  # a revocation during the lookup: not remembered
        with self._engine.connect() as conn:
            row = conn.execute(_LIVE, {"digest": digest}).first()
        if row is None:
            return None
        principal = Principal(Role(row.role), row.unit)
        with self._lock:
            if self._cache_seconds > 0 and word == self._revocations.current():
                if len(self._live) >= _CACHE_MAX:
                    self._live.clear()
                self._live[digest] = (principal, self._monotonic() + self._cache_seconds, word)
        return principal

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token looked up and found live within the last
        ``CACHE_SECONDS``; None when it has to be looked up (no I/O: safe in the event loop)."""
        return self._remembered(_hash(token))

    def _remembered(self, digest: str) -> Principal | None:
        found = self._live.get(digest)
        if found is None or found[1] < self._monotonic() or found[2] != self._revocations.current():
            return None
        return found[0]

    def list(self) -> list[TokenInfo]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)).all()
        return [TokenInfo(r.id, r.role, r.unit, r.label, r.created_at, r.revoked_at) for r in rows]

    def revoke(self, token_id: str) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self._clock.now())
            )
        if not result.rowcount:
            return False
        with self._lock:  # at once in every process that hears this one's revocations
            self._revocations.announce()
            self._live = {}
        return True
