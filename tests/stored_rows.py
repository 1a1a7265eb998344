"""Every row of some tables, in primary-key order, by table name: what the tests compare when two
ways of making the read models must come to the same rows (a rebuild and the projector, a
restore and its source, a migration and the projection)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, Table, select

from huying.projections.tables import READ_MODEL_TABLES

Rows = dict[str, list[tuple[Any, ...]]]


def in_key_order(conn: Connection, tables: Iterable[Table] = READ_MODEL_TABLES) -> Rows:
    return {
        t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))] for t in tables
    }


def rows_of(engine: Engine, tables: Iterable[Table] = READ_MODEL_TABLES) -> Rows:
    with engine.connect() as conn:
        return in_key_order(conn, tables)
