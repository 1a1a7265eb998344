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
from huying.domain.call import Call
from huying.domain.contact import Contact
from huying.services.contacts import ContactBook


class BatchedSaves:
    def __init__(self, app: HuyingApplication) -> None:
        self.app = app
        self.live: dict[UUID, Call] = {}
        self.events: list[Any] = []  # made since the last flush, in the order they were made
        self.retired: set[UUID] = set()
        self.written = 0
        self.contacts = _KeptLater(app.contacts)

    @property
    def pending(self) -> int:
        """Events waiting for the next ``flush()``."""
        return len(self.events)

    def __enter__(self) -> BatchedSaves:
        stored_current = self.app.current

        def current(call_id: UUID) -> Call | None:
            return self.live.get(call_id) or stored_current(call_id)

        def save(*objs: Any, **_: Any) -> list[Any]:
            for call in objs:
                self.live[call.id] = call
                self.events += call.collect_events()
            return [_NOT_YET_STORED]

        self.app.current = current  # type: ignore[method-assign]
        self.app.save = save  # type: ignore[method-assign]
        self.app.contacts = self.contacts  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.flush()
        finally:
            del self.app.current
            del self.app.save
            self.app.contacts = self.contacts.book

    def retire(self, call_id: UUID) -> None:
        """The call leaves play: forget it once its events are stored."""
        self.retired.add(call_id)

    def flush(self) -> int:
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
    """The application's contact book, but what it is asked to keep waits for ``store()``."""

    def __init__(self, book: ContactBook) -> None:
        self.book = book
        self.waiting: list[tuple[str, Contact]] = []

    def keep(self, ref: str, contact: Contact) -> None:
        self.waiting.append((ref, contact))

    def store(self) -> None:
        self.book.keep_many(self.waiting)
        self.waiting = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.book, name)


class _NotYetStored:
    class notification:  # noqa: N801  (shaped like a Recording: .notification.id)
        id = 0


_NOT_YET_STORED = _NotYetStored()
