"""Many calls per transaction, through the application's own commands.

While a ``BatchedSaves`` is active, the application's commands act on calls kept in memory and
their events reach the store only at ``flush()``: one transaction (``Application.save`` with the
application's mapper and recorder) for all the events since the last, in the order the commands
made them — so the log interleaves calls exactly as a server storing each request at once would.
The commands are the real ones — checks, clocks, work-order specs, contacts — only
``app.current`` (the call as it stands; ``app.recalled`` knows nothing meanwhile, so that every
command starts from it), ``app.save`` and the keeping of reporters' contacts are
redirected, on this one application instance: the contacts the raises kept are stored in bulk
at ``flush()``, before the events that name them (as each raise stores its contact before its
event). A refused command raises before it changes anything, as always.

With ``overlapped``, a flush hands the contacts over to a thread that stores them while the
commands go on, and keeps the events until the next flush (or ``settle``) stores them after
those contacts: the commands do not wait for another process's transaction on the contacts'
database (the seeder's follower projecting beside it). Only the contacts go to the thread:
the events' encoding is Python work, which a thread would only take turns at — and the
commands' own reads of the store would wait for those turns. A call retired in a flush is
forgotten once its events are stored.

The synthetic district history (``huying seed --synthetic``), the rebuild benchmark and the
crash tests write large logs this way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from uuid import UUID

from huying.application import HuyingApplication
from huying.domain.aggregate import HuyingAggregate
from huying.domain.call import Call
from huying.domain.contact import Contact, Raiser
from huying.groupcommit import Beside, StoredBy
from huying.service_layer.calls import CallService
from huying.services.contacts import ContactBook
from huying.services.record_keys import random_ref


class BatchedSaves:
    def __init__(
        self, app: HuyingApplication, calls: CallService | None = None, *, overlapped: bool = False
    ) -> None:
        """``calls``: the call service whose contacts are to be kept in bulk too."""
        self.app = app
        self.calls = calls
        self.live: dict[UUID, Call] = {}
        self.events: list[Any] = []  # made since the last flush, in the order they were made
        self.retired: set[UUID] = set()
        self.new: set[UUID] = set()  # ids ``vouch_new`` vouched for, not yet saved
        self.written = 0
        self._saver = ThreadPoolExecutor(1, "huying-batched-saves") if overlapped else None
        self._contacts_stored: Future[None] | None = None
        self._held: tuple[list[Any], set[UUID]] = ([], set())  # a flush's events and retired calls
        book = calls.contacts if calls is not None else None
        self.contacts = _KeptLater(book, self.settle) if isinstance(book, ContactBook) else None

    @property
    def pending(self) -> int:
        """Events waiting for the next ``flush()``."""
        return len(self.events)

    def __enter__(self) -> BatchedSaves:
        stored_current = self.app.current

        def current(aggregate_id: UUID) -> HuyingAggregate | None:
            if (live := self.live.get(aggregate_id)) is not None:
                return live
            return None if aggregate_id in self.new else stored_current(aggregate_id)

        def save(*objs: Any, beside: Beside | None = None, **_: Any) -> list[Any]:
            if beside is not None:  # a contact: handed to ``contacts``, stored before the events
                beside.store()
            for call in objs:
                self.live[call.id] = call
                self.new.discard(call.id)
                self.events += call.collect_events()
            return [_NOT_YET_STORED]

        self.app.current = current  # type: ignore[method-assign]
        self.app.recalled = lambda aggregate_id: None  # type: ignore[method-assign]
        self.app.save = save  # type: ignore[method-assign]
        if self.calls is not None and self.contacts is not None:
            self.calls.contacts = self.contacts
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.flush()
            self.settle()
        finally:
            if self._saver is not None:
                self._saver.shutdown()
            del self.app.current
            del self.app.recalled
            del self.app.save
            if self.calls is not None and self.contacts is not None:
                self.calls.contacts = self.contacts.book

    def vouch_new(self, aggregate_id: UUID) -> None:
        """The caller vouches that no aggregate has this id (a keyed create's, from a key it
        drew at random just now): asked for it, ``app.current`` answers None without reading
        the store. Were one stored after all, the store's uniqueness would refuse the save."""
        self.new.add(aggregate_id)

    def retire(self, call_id: UUID) -> None:
        """The call leaves play: forget it once its events are stored."""
        self.retired.add(call_id)

    def flush(self) -> int:
        """Stores what was made since the last flush (overlapped: stores the last flush's events
        and hands this one's contacts over); returns how many events were handed over in all."""
        self.settle()
        contacts = self.contacts.take() if self.contacts is not None else []
        self._held = (self.events, self.retired)
        self.events, self.retired = [], set()
        self.written += len(self._held[0])
        if self._saver is None:
            self._store_contacts(contacts)
            self.settle()
        else:
            self._contacts_stored = self._saver.submit(self._store_contacts, contacts)
        return self.written

    def settle(self) -> None:
        """Returns once what was handed over is stored (raising what storing it raised): the
        contacts first, then the events that name them."""
        if self._contacts_stored is not None:
            stored, self._contacts_stored = self._contacts_stored, None
            stored.result()
        events, retired = self._held
        self._held = ([], set())
        if events:
            type(self.app).save(self.app, *events)
        self._forget(retired)

    def _store_contacts(self, contacts: list[tuple[str, Contact]]) -> None:
        if self.contacts is not None:
            self.contacts.store(contacts)

    def _forget(self, retired: Iterable[UUID]) -> None:
        for call_id in retired:
            self.live.pop(call_id, None)


class _KeptLater:
    """The contact book, but what it is asked to keep waits for ``store()`` (``Contacts``)."""

    def __init__(self, book: ContactBook, settle: Callable[[], None]) -> None:
        self.book = book
        self.settle = settle  # returns once what was handed over (``storing``) is in the book
        self.waiting: dict[str, Contact] = {}
        self.storing: dict[str, Contact] = {}  # handed over to be stored, maybe not yet in the book

    def new_ref(self) -> str:
        # Not one of the book's keys made ahead: a batch's keys are made together when it is
        # stored (``keep_many``), in one transaction.
        return random_ref()

    def keeping(self, ref: str, contact: Contact, raiser: Raiser | None = None) -> StoredBy:
        assert raiser is None, "a synthetic raise is not answered: no showing to record"
        return StoredBy(lambda: self._wait(ref, contact))

    def _wait(self, ref: str, contact: Contact) -> None:
        self.waiting[ref] = contact

    def discard(self, ref: str) -> None:
        if ref in self.storing:
            self.settle()
        if self.waiting.pop(ref, None) is None:
            self.book.discard(ref)

    def may_be(self, ref: str | None, contact: Contact | None) -> bool:
        for kept in (self.waiting, self.storing):
            if ref is not None and ref in kept:
                return kept[ref] == contact
        return self.book.may_be(ref, contact)

    def erase(self, ref: str, by: str | None = None) -> bool:
        if ref in self.storing:
            self.settle()
        kept = self.waiting.pop(ref, None) is not None
        return self.book.erase(ref, by) or kept

    def take(self) -> list[tuple[str, Contact]]:
        """What waits, handed over to be stored (``store``)."""
        self.storing, self.waiting = self.waiting, {}
        return list(self.storing.items())

    def store(self, contacts: list[tuple[str, Contact]]) -> None:
        self.book.keep_many(contacts)


class _NotYetStored:
    class notification:  # noqa: N801  (shaped like a Recording: .notification.id)
        id = 0


_NOT_YET_STORED = _NotYetStored()
