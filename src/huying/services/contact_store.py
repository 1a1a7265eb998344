"""Where reporters' contacts live: on SQLite a file of their own (``HUYING_CONTACTS_URL``,
default ``huying.contacts.db``), on PostgreSQL the main database.

A raise's contact is committed by the events' group-commit leader just before the events
(``groupcommit.RowsBeside``). In huying.db it waited for SQLite's one write lock whenever the
projector (in another process) was writing the read models, and the projector waited for it:
the API's wait averaged 3.2–3.5 ms a group with a p99 of ~21 ms under P1's load. In a file of
its own the contacts' writer has the lock to itself (docs/benchmarks.md).

Deployments that kept their contacts in huying.db have them moved here by ``huying migrate``
(``prepare_contact_store``): copied, committed, then deleted from huying.db, so that a move cut
short is finished by the next one and no contact is ever in neither place.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Table, delete, insert, select

from huying.db import contact_access, make_engine, reporter_contacts, sqlite_engine
from huying.settings import Settings

# Rows moved per transaction from huying.db.
_MOVED = 5000


def contacts_apart(settings: Settings) -> bool:
    """Whether the contacts live in a SQLite file of their own (PostgreSQL: never)."""
    return settings.contacts_url.startswith("sqlite:///") and settings.contacts_url != settings.database_url


def contact_store(settings: Settings, main: Engine) -> Engine:
    """The contacts' engine: the main database's, or one of their own."""
    return _own_contact_store(settings) if contacts_apart(settings) else main


def prepare_contact_store(settings: Settings) -> int:
    """Creates the contacts' tables where they live apart from the main database (there, Alembic
    has made them) and moves in those the main database still holds; how many rows it moved."""
    if not contacts_apart(settings):
        return 0
    own = _own_contact_store(settings)
    main = make_engine(settings)
    try:
        for table in (reporter_contacts, contact_access):
            table.create(own, checkfirst=True)
        return _moved(main, own, reporter_contacts, reporter_contacts.c.ref) + _moved(
            main, own, contact_access, contact_access.c.id
        )
    finally:
        main.dispose()
        own.dispose()


def _moved(main: Engine, own: Engine, table: Table, key: Any) -> int:
    moved = 0
    while True:
        with main.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(table).order_by(key).limit(_MOVED))]
        if not rows:
            return moved
        keys = [row[key.name] for row in rows]
        with own.begin() as conn:  # a move cut short left some here already: kept as they are
            conn.execute(insert(table).prefix_with("OR IGNORE"), rows)
        with main.begin() as conn:
            conn.execute(delete(table).where(key.in_(keys)))
        moved += len(rows)


def _own_contact_store(settings: Settings) -> Engine:
    # secure_delete: an erased contact's bytes overwritten with zeros
    return sqlite_engine(settings.contacts_url, settings.database_lock_timeout, secure_delete=True)
