"""Console sessions: signing in with a token opens one, signing out ends it, and revoking the
token ends every session it opened (each request finds its session through the token's row).

The browser keeps a random secret in an HttpOnly, SameSite=Strict cookie; the database keeps
only its SHA-256. Every form carries the session's CSRF token back (``Session.csrf_matches``).
Sessions run on the wall clock, never on the business clock a demo may move by days.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete, insert, select

from huying.clock import Clock, SystemClock
from huying.db import api_tokens
from huying.domain.principal import Principal, Role
from huying.services.tokens import token_hash
from huying.web.tables import console_sessions

COOKIE = "huying_session"
LIFETIME = timedelta(hours=12)  # a working day and then some: sign in again the next morning


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    token_id: str

    def csrf_matches(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


def _id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SessionStore:
    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self._engine = engine
        self._clock = clock or SystemClock()

    def open(self, token: str) -> tuple[str, Session] | None:
        """Sign in: a new session for a live token (None for an unknown or revoked one). Returns
        the secret for the cookie, shown once and never stored."""
        now = self._clock.now()
        with self._engine.begin() as conn:
            row = conn.execute(
                select(api_tokens.c.id, api_tokens.c.role, api_tokens.c.unit).where(
                    api_tokens.c.token_hash == token_hash(token), api_tokens.c.revoked_at.is_(None)
                )
            ).first()
            if row is None:
                return None
            conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now))
            secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            conn.execute(
                insert(console_sessions).values(
                    id=_id(secret), token_id=row.id, csrf=csrf, created_at=now, expires_at=now + LIFETIME
                )
            )
        return secret, Session(Principal(Role(row.role), row.unit), csrf, row.id)

    def find(self, secret: str) -> Session | None:
        """The live session of a cookie: not expired, not signed out, its token not revoked."""
        j = console_sessions.join(api_tokens, api_tokens.c.id == console_sessions.c.token_id)
        with self._engine.connect() as conn:
            row = conn.execute(
                select(console_sessions.c.csrf, api_tokens.c.id, api_tokens.c.role, api_tokens.c.unit)
                .select_from(j)
                .where(
                    console_sessions.c.id == _id(secret),
                    console_sessions.c.expires_at > self._clock.now(),
                    api_tokens.c.revoked_at.is_(None),
                )
            ).first()
        return Session(Principal(Role(row.role), row.unit), row.csrf, row.id) if row else None

    def end(self, secret: str) -> None:
        """Sign out: the cookie's session is gone, whoever holds a copy of it."""
        with self._engine.begin() as conn:
            conn.execute(delete(console_sessions).where(console_sessions.c.id == _id(secret)))
