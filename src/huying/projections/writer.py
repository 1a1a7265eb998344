"""Writing read-model rows in bulk — the one way the runner inserts, and the tallies change their
rows in place.

On SQLite the INSERT (or UPDATE) is rendered once per table and its rows go straight to the
driver's ``executemany``, with instants converted by ``db.sqlite_datetime`` and dates to the ISO
text SQLAlchemy's ``Date`` stores: SQLAlchemy's per-value bind processing was a quarter of a
rebuild, and a tenth of a live projector batch's time in the tallies' updates. On PostgreSQL
many rows go in by ``COPY … FROM STDIN`` (psycopg adapts each value in C; an instant must carry
its offset, as ``UtcDateTime`` requires); a few, by one INSERT rendered once per table and its
rows handed to the driver's ``executemany`` (one round trip, in psycopg's pipeline; Core's
``insert()`` bound each value in Python: a group commit's contacts took 6% of a worker's time
under P1); updates by Core's ``update()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import Connection, Date, Engine, Table, Update, bindparam, update
from sqlalchemy.exc import DBAPIError

from huying.db import UtcDateTime, sqlite_datetime
from huying.projections.rows import Row

_Plan = tuple[str, Callable[[Row], Any], tuple[int, ...], tuple[int, ...]]
COPY_FROM = 50  # rows of one table at once: PostgreSQL takes them by COPY


class RowWriter:
    def __init__(self, engine: Engine) -> None:
        self._direct = engine.dialect.name == "sqlite"
        self._plans: dict[tuple[str, tuple[str, ...], bool, bool], _Plan] = {}

    def insert(self, conn: Connection, table: Table, rows: Sequence[Row]) -> None:
        if not rows:
            return
        if not self._direct:
            if len(rows) >= COPY_FROM:
                self._copy(conn, table, rows)
            else:
                self._executemany(conn, table, rows)
            return
        self._direct_many(conn, self._plan(table, tuple(rows[0])), rows)

    def update(
        self, conn: Connection, table: Table, rows: Sequence[Row], names: tuple[str, ...] | None = None
    ) -> None:
        """Stored rows changed in place, each found by its primary key: the columns ``names``
        (its key among them) set from each row, and no other (None: all rows alike, the
        columns of the first)."""
        if not rows:
            return
        names = names or tuple(rows[0])
        if not self._direct:
            conn.execute(_in_place(table, names), [_update_params(table, r, names) for r in rows])
            return
        self._direct_many(conn, self._plan(table, names, in_place=True), rows)

    @staticmethod
    def _direct_many(conn: Connection, plan: _Plan, rows: Sequence[Row]) -> None:
        sql, values_of, instants, days = plan
        params = []
        for row in rows:
            values = list(values_of(row))
            for i in instants:
                if values[i] is not None:
                    values[i] = sqlite_datetime(values[i])
            for i in days:
                if values[i] is not None:
                    values[i] = values[i].isoformat()
            params.append(tuple(values))
        conn.exec_driver_sql(sql, params)

    def _copy(self, conn: Connection, table: Table, rows: Sequence[Row]) -> None:
        sql, values_of, instants, _ = self._plan(table, tuple(rows[0]))
        driver = conn.connection.driver_connection  # psycopg's, in the transaction of ``conn``
        assert driver is not None
        cursor = driver.cursor()
        with _as_core_raises(sql), cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(_offset_given(values_of(row), instants))

    def _executemany(self, conn: Connection, table: Table, rows: Sequence[Row]) -> None:
        sql, values_of, instants, _ = self._plan(table, tuple(rows[0]), copy=False)
        # Through Core's connection, without its binding: its events see the statement (tests
        # watch what is written) and its errors are Core's.
        conn.exec_driver_sql(sql, [tuple(_offset_given(values_of(row), instants)) for row in rows])

    def _plan(
        self, table: Table, names: tuple[str, ...], *, in_place: bool = False, copy: bool = True
    ) -> _Plan:
        """The INSERT (SQLite) or COPY (PostgreSQL; not ``copy``: its INSERT) for rows with these
        columns — or, ``in_place``, SQLite's UPDATE of them by their key — how to pick their
        values in the statement's order, which are instants and which are dates."""
        key = (table.name, names, in_place, copy)
        plan = self._plans.get(key)
        if plan is None:
            keys = key_names(table)
            if in_place:  # the changed columns, then the key's
                names = (*(n for n in names if n not in keys), *(n for n in keys if n in names))
            columns = [table.c[n] for n in names]  # KeyError for a column the table lacks
            quoted = ", ".join(f'"{c.name}"' for c in columns)
            if in_place:
                changed = ", ".join(f'"{c.name}" = ?' for c in columns if c.name not in keys)
                found = " AND ".join(f'"{c.name}" = ?' for c in columns if c.name in keys)
                sql = f'UPDATE "{table.name}" SET {changed} WHERE {found}'
            elif self._direct:
                sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join("?" * len(columns))})'
            elif not copy:
                sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join(["%s"] * len(columns))})'
            else:
                sql = f'COPY "{table.name}" ({quoted}) FROM STDIN'
            getter = itemgetter(*names) if len(names) > 1 else (lambda row, n=names[0]: (row[n],))
            instants = tuple(i for i, c in enumerate(columns) if isinstance(c.type, UtcDateTime))
            days = tuple(i for i, c in enumerate(columns) if isinstance(c.type, Date))
            plan = self._plans[key] = (sql, getter, instants, days)
        return plan


@contextmanager
def _as_core_raises(sql: str) -> Iterator[None]:
    """psycopg's refusals raised as Core raises them (``sqlalchemy.exc.IntegrityError`` for a
    row already there, and so on), for callers that catch those."""
    try:
        yield
    except psycopg.Error as e:
        raise DBAPIError.instance(sql, None, e, psycopg.Error) from e


def _offset_given(values: Sequence[Any], instants: tuple[int, ...]) -> Sequence[Any]:
    """``values``, refused as ``UtcDateTime`` refuses them when an instant has no offset."""
    for i in instants:
        if values[i] is not None and values[i].tzinfo is None:
            raise ValueError("naive datetimes are not stored: give an offset")
    return values


@cache
def _in_place(table: Table, names: tuple[str, ...]) -> Update:
    """Core's UPDATE of one row's columns ``names`` but its key, found by its key
    (``_update_params``)."""
    keys = key_names(table)
    return (
        update(table)
        .where(*(table.c[n] == bindparam(f"key_{n}") for n in names if n in keys))
        .values({n: bindparam(f"new_{n}") for n in names if n not in keys})
    )


def _update_params(table: Table, row: Row, names: tuple[str, ...]) -> dict[str, Any]:
    keys = key_names(table)
    return {f"key_{n}" if n in keys else f"new_{n}": row[n] for n in names}


@cache
def key_names(table: Table) -> tuple[str, ...]:
    """The names of the table's primary key columns, in order."""
    return tuple(c.name for c in table.primary_key.columns)


@cache
def key_of(table: Table) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's primary key, as a tuple in the key's order (picked by one ``itemgetter``)."""
    names = key_names(table)
    if len(names) > 1:
        return itemgetter(*names)
    (name,) = names

    def one(row: Mapping[str, Any]) -> tuple[Any, ...]:
        return (row[name],)

    return one
