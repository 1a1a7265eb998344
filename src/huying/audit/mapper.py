"""huying's event mapper: seals every event it stores, and decodes only events it can vouch for.

Every read of the log goes through here — the repository (commands, history, 时间回溯), the
projector and the feed — so a row huying did not write is refused wherever it is read
(``EventUnvouched``, naming the event, how, and its position when the read knows it).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, Notification, StoredEvent, Transcoder

from huying.audit.seal import stored_id
from huying.audit.vouch import EventUnvouched, Flaw, Tamper, Voucher, named


class SealingMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, voucher: Voucher) -> None:
        # The seal lives inside the JSON state: no cipher or compressor between them.
        super().__init__(transcoder)
        self.voucher = voucher

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        s = super().to_stored_event(domain_event)
        state = self.voucher.keys.seal(stored_id(s.originator_id), s.originator_version, s.topic, s.state)
        return StoredEvent(s.originator_id, s.originator_version, s.topic, state)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        s = stored_event
        body = self.vouch(s)
        try:
            return super().to_domain_event(StoredEvent(s.originator_id, s.originator_version, s.topic, body))
        except Exception as e:  # whatever the library fails on, it is this event it cannot read
            oid = stored_id(s.originator_id)
            where = self.voucher.where(oid, s.originator_version, _position(s))
            raise EventUnvouched(_unreadable(where, oid, s, e)) from e

    def vouch(self, stored_event: StoredEvent) -> bytes:
        """The event's state without its seal, if huying can vouch for it (``EventUnvouched``
        if not): what ``to_domain_event`` checks before it decodes, for a read that needs the
        event vouched for but not decoded."""
        s = stored_event
        checked = self.voucher.check(
            stored_id(s.originator_id), s.originator_version, s.topic, s.state, _position(s)
        )
        if checked.flaw is not None:
            raise EventUnvouched(checked.flaw)
        body: bytes = checked.body
        return body


def _position(s: StoredEvent) -> int | None:
    return s.id if isinstance(s, Notification) else None


def _unreadable(position: int | None, oid: str, s: StoredEvent, error: Any) -> Flaw:
    return Flaw(
        position,
        oid,
        s.originator_version,
        Tamper.UNREADABLE,
        f"{named(oid, s.originator_version, s.topic)} cannot be decoded ({type(error).__name__}: {error})",
    )
