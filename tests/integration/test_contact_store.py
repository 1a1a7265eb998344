"""Where reporters' contacts live (``services.contact_store``): on SQLite a file of their own,
so that their commits never wait for the read models' writers; on PostgreSQL the main database.
A deployment that kept them in huying.db has them moved by ``huying migrate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

from httpx import Client
from sqlalchemy import Engine, Table, func, select

from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.db import contact_access, make_engine, reporter_contacts
from huying.domain.contact import Contact, in_full
from huying.domain.principal import Principal, Role
from huying.migrate import upgrade
from huying.services.contact_store import contacts_apart
from huying.services.contacts import ContactBook
from huying.settings import Settings

from .reporters import CALLS, SUPERVISOR, raise_body


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_raise_keeps_its_contact_in_the_contacts_own_store(
    client: Client, tokens: Any, services: Services, settings: Settings
) -> None:
    raised = client.post(CALLS, json=raise_body(), headers=tokens.headers(*SUPERVISOR))
    assert raised.status_code == 201, raised.text

    assert count(services.contacts.engine, reporter_contacts) == 1
    assert count(services.contacts.engine, contact_access) == 1  # the raiser was shown it back
    if settings.on_postgres:
        assert not contacts_apart(settings) and services.contacts.engine is services.engine
    else:
        assert contacts_apart(settings)
        assert Path(settings.contacts_url.removeprefix("sqlite:///")).name == "huying.contacts.db"
        assert count(services.engine, reporter_contacts) == 0, "a contact went to huying.db"
        assert count(services.engine, contact_access) == 0


def test_migrate_moves_the_contacts_an_older_deployment_kept_in_huying_db(
    settings: Settings, clock: FakeClock
) -> None:
    """As an older huying left them: sealed in huying.db, with the record of who was shown
    them. ``huying migrate`` moves them, and they open as before; run again (a move cut short,
    some rows already in both places), it moves the rest and keeps each once."""
    upgrade(settings)
    services = build_services(settings, clock)
    main = make_engine(settings)
    try:
        older = ContactBook(main, services.contacts.keys, clock)  # huying.db, as before
        kept = {services.contacts.new_ref(): Contact(f"陈{i}", f"1390000{i:04d}") for i in range(7)}
        older.keep_many(list(kept.items()))
        older.accesses.record(Principal(Role.SUPERVISOR, "LW"), uuid4(), in_full(next(iter(kept.values()))))
    finally:
        services.close()
    if not contacts_apart(settings):  # PostgreSQL: they are where they belong; nothing moves
        upgrade(settings)
        assert (count(main, reporter_contacts), count(main, contact_access)) == (7, 1)
        main.dispose()
        return
    first = next(iter(kept))
    with main.connect() as conn:  # one already copied by a move cut short
        row = dict(
            conn.execute(select(reporter_contacts).where(reporter_contacts.c.ref == first)).one()._mapping
        )
    own = build_services(settings, clock)
    with own.contacts.engine.begin() as conn:
        conn.execute(reporter_contacts.insert(), [row])
    own.close()

    upgrade(settings)

    reopened = build_services(settings, clock)
    try:
        assert count(main, reporter_contacts) == count(main, contact_access) == 0, "left in huying.db"
        assert count(reopened.contacts.engine, reporter_contacts) == 7
        assert count(reopened.contacts.engine, contact_access) == 1
        assert {ref: reopened.contacts.get(ref) for ref in kept} == kept
    finally:
        reopened.close()
        main.dispose()
