"""Leases: at most one holder of a named duty (the SLA watchdog) per deployment.

Wall-clock time on purpose: a lease is about processes being alive, not business time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, or_, update
from sqlalchemy.exc import IntegrityError

from huying.db import leases


class Lease:
    def __init__(self, engine: Engine, name: str, holder: str, ttl: timedelta) -> None:
        self._engine = engine
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self._held = False  # ever taken by this holder: only then is there anything to release

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(leases)
                .where(
                    leases.c.name == self.name,
                    or_(leases.c.holder == self.holder, leases.c.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl)
            ).rowcount
        if not taken:
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        insert(leases).values(name=self.name, holder=self.holder, expires_at=now + self.ttl)
                    )
            except IntegrityError:
                return False  # someone else holds it
        self._held = True
        return True

    def release(self) -> None:
        if not self._held:
            return  # never taken (a process that only reads): nothing to write
        self._held = False
        with self._engine.begin() as conn:
            conn.execute(
                update(leases)
                .where(leases.c.name == self.name, leases.c.holder == self.holder)
                .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
            )
