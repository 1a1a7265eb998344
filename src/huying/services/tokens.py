"""Bearer tokens: created and revoked by the operator, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from huying.clock import Clock
from huying.db import api_tokens
from huying.domain.principal import Principal, Role


@dataclass(frozen=True)
class TokenInfo:
    id: str
    role: str
    unit: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough: no salt or slow hash needed.
    return hashlib.sha256(token.encode()).hexdigest()


def token_hash(token: str) -> str:
    """What is kept of a token: the API's lookup and a console sign-in find it by this."""
    return _hash(token)


class TokenStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

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
        """The principal of a live token; None for unknown or revoked ones (checked every time,
        so revocation takes effect immediately)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(api_tokens.c.role, api_tokens.c.unit).where(
                    api_tokens.c.token_hash == _hash(token), api_tokens.c.revoked_at.is_(None)
                )
            ).first()
        return Principal(Role(row.role), row.unit) if row else None

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
        return bool(result.rowcount)
