"""Alembic environment: huying's read-model and service tables only.

The event store's tables (``stored_events``, ``tracking``, …) are created by the eventsourcing
library; autogenerate must leave them alone.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

import huying.audit.tables
import huying.projections.tables  # registers the read-model tables
import huying.web.tables
import huying.webhooks.tables  # noqa: F401 - registers the webhook tables (these imports only register)
from huying.db import LIBRARY_TABLES, make_engine, metadata
from huying.projections.tables import is_call_text_index
from huying.settings import Settings


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # The search's text indexes (SQLite's FTS5 tables; PostgreSQL's stored lexemes and their GIN
    # index) are made by their migrations' own SQL, not from the metadata.
    if type_ in ("table", "index", "column") and is_call_text_index(name or ""):
        return False
    return not (type_ == "table" and name in LIBRARY_TABLES)


def run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql" and settings.database_schema:
        # One schema per deployment: the first migration makes it (the event store lives there too).
        connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"')
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


settings = context.config.attributes.get("settings") or Settings()
connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(settings)
    with engine.begin() as conn:
        run(conn)
    engine.dispose()
