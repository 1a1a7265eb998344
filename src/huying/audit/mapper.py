"""huying's event mapper: seals every event it stores, and decodes only events it can vouch for.

Every read of the log goes through here — the repository (commands, history, 时间回溯), the
projector and the feed — so a row huying did not write is refused wherever it is read
(``EventUnvouched``, naming the event, how, and its position when the read knows it).
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, Notification, StoredEvent, Transcoder

from huying.audit.seal import stored_id
from huying.audit.vouch import Checked, EventUnvouched, Flaw, Tamper, Voucher, named
from huying.recently_used import RecentlyUsed


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
        return self.decoded(stored_event, self.vouch(stored_event))

    def decoded(self, stored_event: StoredEvent, body: bytes) -> DomainEventProtocol[UUID]:
        """The event, from the body ``vouch`` gave for it."""
        s = stored_event
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
        return self.checked(stored_event).body

    def checked(self, stored_event: StoredEvent) -> Checked:
        """``vouch``, with the position the event's writer had seen (None: a legacy event)."""
        s = stored_event
        checked = self.voucher.check(
            stored_id(s.originator_id), s.originator_version, s.topic, s.state, _position(s)
        )
        if checked.flaw is not None:
            raise EventUnvouched(checked.flaw)
        return checked


# Stored events whose decoding ``PastEvents`` remembers at once (~2 kB each, with its key):
# forty 50-event calls.
PAST_EVENTS = 2_048


class PastEvents:
    """The stored events of aggregates' pasts (``service_layer.history``: history, 时间回溯),
    each vouched for and decoded once while it is among the ``size`` read last.

    An auditor stepping through a call's versions, or reading its history and then the call as
    it stood, has every one of its events read again each time, and each was vouched for (its
    seal's MAC) and decoded anew. What the mapper makes of a sealed row depends on nothing but
    the row — its originator, version, topic, position and stored bytes, all of them the key
    here — and this process's seal keys, which do not change while it runs. So a row read again
    exactly as it was gives the same event; a row changed in any way is another key, vouched for
    and decoded afresh (and refused, if it was tampered with). Legacy rows, which carry no seal,
    are judged afresh every time (``Voucher``'s legacy boundary is read from the store). Events
    are immutable: one is handed to every reader."""

    def __init__(self, mapper: SealingMapper, size: int = PAST_EVENTS) -> None:
        self.mapper = mapper
        self._known: RecentlyUsed[tuple[Any, ...], DomainEventProtocol[UUID]] = RecentlyUsed(size)
        self._lock = threading.Lock()

    def decoded(self, stored: Notification) -> DomainEventProtocol[UUID]:
        """``mapper.to_domain_event``, remembered."""
        key = _row_key(stored)
        with self._lock:
            event = self._known.get(key)
            if event is not None:
                return event
        checked = self.mapper.checked(stored)  # EventUnvouched: nothing remembered
        event = self.mapper.decoded(stored, checked.body)
        if checked.after is not None:  # sealed, not legacy
            with self._lock:
                self._known.put(key, event)
        return event

    def vouched(self, stored: Notification) -> None:
        """``mapper.vouch``: nothing to do for a row remembered as it is."""
        with self._lock:
            if _row_key(stored) in self._known:
                return
        self.mapper.vouch(stored)

    def __len__(self) -> int:
        return len(self._known)


def _row_key(s: Notification) -> tuple[Any, ...]:
    # The originator as its 128-bit int: a UUID hashes and compares in Python, an int in C.
    oid = s.originator_id.int if isinstance(s.originator_id, UUID) else s.originator_id
    return (oid, s.originator_version, s.topic, s.id, s.state)


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
