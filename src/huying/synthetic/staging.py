"""Many calls per transaction, through the application's own commands.

While a ``BatchedSaves`` is active, the application's commands act on calls kept in memory and
their events reach the store only at ``flush()``: one transaction (``Application.save`` with the
application's mapper and recorder) for all the events since the last, in the order the commands
made them — so the log interleaves calls exactly as a server storing each request at once would.
The commands are the real ones — checks, clocks, work-order specs, contacts — only
``app.current`` (the call as it stands), ``app.save`` and the keeping of reporters' contacts are
redirected, on this one application instance: the contacts the raises kept are stored in bulk
at ``flush()``, before the events that name them (as each raise stores its contact before its
event). A refused command raises before it changes anything, as always.

The synthetic district history (``huying seed --synthetic``), the rebuild benchmark and the
crash tests write large logs this way.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from huying.application import HuyingApplication
from huying.domain.aggregate import HuyingAggregate
from huying.domain.call import Call
from huying.domain.contact import Contact
from huying.service_layer.calls import CallService
from huying.services.contacts import ContactBook


class BatchedSaves:
    def __init__(self, app: HuyingApplication, calls: CallService | None = None) -> None:
        """``calls``: the call service whose contacts are to be kept in bulk too."""
        self.app = app
        self.calls = calls
        self.live: dict[UUID, Call] = {}
        self.events: list[Any] = []  # made since the last flush, in the order they were made
        self.retired: set[UUID] = set()
        self.written = 0
        book = calls.contacts if calls is not None else None
        self.contacts = _KeptLater(book) if isinstance(book, ContactBook) else None

    @property
    def pending(self) -> int:
        """Events waiting for the next ``flush()``."""
        return len(self.events)

    def __enter__(self) -> BatchedSaves:
        stored_current = self.app.current

        def current(aggregate_id: UUID) -> HuyingAggregate | None:
            return self.live.get(aggregate_id) or stored_current(aggregate_id)

        def save(*objs: Any, **_: Any) -> list[Any]:
            for call in objs:
                self.live[call.id] = call
                self.events += call.collect_events()
            return [_NOT_YET_STORED]

        self.app.current = current  # type: ignore[method-assign]
        self.app.save = save  # type: ignore[method-assign]
        if self.calls is not None and self.contacts is not None:
            self.calls.contacts = self.contacts
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.flush()
        finally:
            del self.app.current
            del self.app.save
            if self.calls is not None and self.contacts is not None:
                self.calls.contacts = self.contacts.book

    def retire(self, call_id: UUID) -> None:
        """The call leaves play: forget it once its events are stored."""
        self.retired.add(call_id)

    def flush(self) -> int:
        if self.contacts is not None:
            self.contacts.store()
        if self.events:
            type(self.app).save(self.app, *self.events)
            self.written += len(self.events)
            self.events = []
        for call_id in self.retired:
            self.live.pop(call_id, None)
        self.retired.clear()
        return self.written


class _KeptLater:
    """The contact book, but what it is asked to keep waits for ``store()`` (``Contacts``)."""

    def __init__(self, book: ContactBook) -> None:
        self.book = book
        self.waiting: dict[str, Contact] = {}

    def new_ref(self) -> str:
        return self.book.new_ref()

    def keep(self, ref: str, contact: Contact) -> None:
        self.waiting[ref] = contact

    def discard(self, ref: str) -> None:
        if self.waiting.pop(ref, None) is None:
            self.book.discard(ref)

    def may_be(self, ref: str | None, contact: Contact | None) -> bool:
        if ref is not None and ref in self.waiting:
            return self.waiting[ref] == contact
        return self.book.may_be(ref, contact)

    def erase(self, ref: str, by: str | None = None) -> bool:
        kept = self.waiting.pop(ref, None) is not None
        return self.book.erase(ref, by) or kept

    def store(self) -> None:
        self.book.keep_many(list(self.waiting.items()))
        self.waiting = {}


class _NotYetStored:
    class notification:  # noqa: N801  (shaped like a Recording: .notification.id)
        id = 0


_NOT_YET_STORED = _NotYetStored()
