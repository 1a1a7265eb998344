"""A raise's reporter contact and the record of who was shown it are written like the events
(``huying.groupcommit.GroupedInserts``): many requests' rows in one transaction — one turn at
the database's write lock, which the projector's batches take too — and each request goes on
only once its own rows are stored.

Another connection holds the write lock (as a projector's batch does): the first request's
transaction waits for it and the others queue behind; nothing is stored and no request goes on
until the lock is let go; then all the queued ones commit in one transaction.

A raise's contact goes with its event (``RowsBeside``): the events' leader stores it first, in
the same turn, so the raise waits once; a contact that cannot be stored keeps its event out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

import pytest
from eventsourcing.persistence import PersistenceError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from e2e.inprocess import until
from huying.api.routers.calls import draft_of
from huying.api.schemas.requests import CallCreate
from huying.bootstrap import Services
from huying.domain.contact import Contact
from huying.domain.principal import Principal, Role
from huying.service_layer.command_path import Submission
from huying.services.contacts import ContactBook

from .reporters import NAME, PHONE, raise_body

SUPERVISOR = Principal(Role.SUPERVISOR, "LW")


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """Another connection holds the write lock of the contacts' tables until the block is left."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("LOCK TABLE reporter_contacts, contact_access IN SHARE ROW EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.commit()


def started(target: object, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args)  # type: ignore[arg-type]
    thread.start()
    return thread


def accesses(book: ContactBook) -> int:
    return len(book.accesses.page(after=0, limit=1000))


def test_contacts_and_accesses_of_many_raises_commit_together_each_going_on_once_stored(
    services: Services,
) -> None:
    book = services.contacts
    queue = book._writes.group_commit
    contacts = {book.new_ref(): Contact(f"陈{i}", f"1390000{i:04d}") for i in range(4)}
    refs = list(contacts)
    with write_lock_held(book.engine):
        first = started(book.keep, refs[0], contacts[refs[0]])
        until(lambda: queue.groups == 1, "the first contact's transaction waiting for the lock")
        others = [started(book.keep, ref, contacts[ref]) for ref in refs[1:]]
        others += [started(book.accesses.record, SUPERVISOR, uuid4(), ["name", "phone"]) for _ in range(2)]
        until(lambda: queue.waiting == 5, "three contacts and two accesses queued behind it")

        assert all(t.is_alive() for t in [first, *others]), "a request went on before its rows were stored"
        assert [book.get(ref) for ref in refs] == [None] * 4
        assert accesses(book) == 0
    for t in [first, *others]:
        t.join(timeout=30)
        assert not t.is_alive()

    assert queue.groups == 2, "the five queued writes were not committed together"
    assert {ref: book.get(ref) for ref in refs} == contacts
    assert accesses(book) == 2


@contextmanager
def contacts_table_away(engine: Engine) -> Iterator[None]:
    """The contacts' table under another name until the block is left: storing a contact fails."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE reporter_contacts RENAME TO reporter_contacts_away")
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE reporter_contacts_away RENAME TO reporter_contacts")


def test_a_raise_s_contact_is_stored_in_its_event_s_turn_and_without_it_no_event_is(
    services: Services,
) -> None:
    events, contacts = services.app.recorder.group_commit, services.contacts._writes.group_commit
    draft = draft_of(CallCreate.model_validate(raise_body()))
    head = services.app.recorder.max_notification_id()
    before = (events.groups, contacts.groups)

    call = services.calls.raise_call(SUPERVISOR, draft, Submission()).call
    assert (events.groups, contacts.groups) == (before[0] + 1, before[1]), "the raise waited its turn twice"
    assert call.reporter_ref is not None
    assert services.contacts.get(call.reporter_ref) == Contact(NAME, PHONE)
    assert services.app.recorder.max_notification_id() == (head or 0) + 1

    with contacts_table_away(services.contacts.engine), pytest.raises((DBAPIError, PersistenceError)):
        services.calls.raise_call(SUPERVISOR, draft, Submission())
    assert services.app.recorder.max_notification_id() == (head or 0) + 1, (
        "an event went in without its contact"
    )
    again = services.calls.raise_call(SUPERVISOR, draft, Submission()).call
    assert again.reporter_ref is not None and services.contacts.get(again.reporter_ref) == Contact(
        NAME, PHONE
    )
