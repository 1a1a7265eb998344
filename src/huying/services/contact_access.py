"""个人信息访问记录: who was shown a reporter's contact in full — principal, call, time and which
details — for an auditor to read. It holds no contact detail itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine, select

from huying.clock import Clock
from huying.db import contact_access
from huying.domain.principal import Principal
from huying.groupcommit import GroupedInserts, Rows


@dataclass(frozen=True)
class ContactAccess:
    id: int
    at: datetime
    role: str
    unit: str
    call_id: str
    shown: list[str]


class ContactAccessLog:
    def __init__(self, engine: Engine, clock: Clock, writes: GroupedInserts) -> None:
        self._engine = engine
        self._clock = clock
        self._writes = writes  # shared with the contact book: one transaction for both

    def record(self, viewer: Principal, call_id: UUID, shown: list[str]) -> None:
        """Recorded, with other requests' records in one transaction, before the contact is
        shown."""
        self._writes.insert(self.rows(viewer, call_id, shown))

    def rows(self, viewer: Principal, call_id: UUID, shown: list[str]) -> Rows:
        """The record as rows to insert: ``record`` stores them, or the contact book with a
        raise's contact (``ContactBook.keep``)."""
        row = {
            "at": self._clock.now(),
            "role": viewer.role.value,
            "unit": viewer.unit,
            "call_id": str(call_id),
            "shown": ",".join(shown),
        }
        return contact_access, [row]

    def page(self, after: int, limit: int) -> list[ContactAccess]:
        """The accesses after the cursor (an access's id), oldest first."""
        query = select(contact_access).where(contact_access.c.id > after).order_by(contact_access.c.id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [
            ContactAccess(r.id, r.at, r.role, r.unit, r.call_id, r.shown.split(",") if r.shown else [])
            for r in rows
        ]
