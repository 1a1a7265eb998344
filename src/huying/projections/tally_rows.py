"""How the tallies' rows are read and replaced: by their whole primary key, a batch's changes
worked out before its write transaction (``Rewrite``). Shared by every tally (``tallies``,
``ledger_tallies``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from huying.projections.rows import Row
from huying.projections.tables import rm_calls
from huying.projections.writer import RowWriter

Rows = Mapping[str, Sequence[Row]]  # table name → the rows the batch stores


@dataclass(frozen=True)
class Rewrite:
    """Tally rows to write in place of the stored ones: computed outside the write transaction
    (the projector alone writes tallies), so the transaction only writes.

    A stored row that is still there is updated in place, not deleted and inserted again: its key
    stays put in the primary key's index. Deleted and inserted, every rewritten row moved that
    index's entry, ~60 of the ~580 pages a SQLite batch of 30 raises wrote (at 100,000 calls), and
    on PostgreSQL a new index entry each time, where an update that changes no indexed column
    leaves the index alone."""

    table: Table
    replaced: list[Any]  # the keys of the stored rows replaced (all of them: ``afresh``)
    rows: list[Row]
    afresh: bool = False

    def write(self, conn: Connection, writer: RowWriter) -> None:
        if self.afresh:
            conn.execute(delete(self.table))
            writer.insert(conn, self.table, self.rows)
            return
        names = _key_names(self.table)
        keyed = [(tuple(row[n] for n in names), row) for row in self.rows]
        stored = set(self.replaced)
        kept = [row for key, row in keyed if key in stored]
        left = stored - {key for key, _ in keyed}
        one_row = by_key(self.table)
        for chunk in chunks([k for k in self.replaced if k in left]):  # nothing left of them
            conn.execute(one_row, [key_params(self.table, k) for k in chunk])
        if kept:
            conn.execute(_in_place(self.table, tuple(kept[0])), [_update_params(self.table, r) for r in kept])
        writer.insert(conn, self.table, [row for key, row in keyed if key not in stored])


@cache
def _key_names(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


@cache
def _in_place(table: Table, names: tuple[str, ...]) -> Update:
    """The UPDATE of one row's columns ``names`` but its key, found by its key (``_update_params``)."""
    keys = _key_names(table)
    return (
        update(table)
        .where(*(table.c[n] == bindparam(f"key_{n}") for n in names if n in keys))
        .values({n: bindparam(f"new_{n}") for n in names if n not in keys})
    )


def _update_params(table: Table, row: Row) -> dict[str, Any]:
    keys = _key_names(table)
    return {f"key_{n}" if n in keys else f"new_{n}": v for n, v in row.items()}


# Tally rows are found by their whole primary key. Not with a row-value IN list: SQLite plans
# ``(level, scope, block, start) IN (VALUES …)`` of several keys as a scan of the whole table —
# 20 ms each for the read and the delete of every projector batch at 100,000 calls, most of the
# batch. An OR of the keys, or one statement per key, is a lookup of the index per key on both
# backends; on PostgreSQL so is a join to the keys' arrays (``_of_key_arrays``), a nested loop over
# the primary key, and it is the one read there.


KEYS_AT_ONCE = 400  # keys one read of stored tally rows asks for, at most
# The sizes a read is compiled in: the keys are padded to the next one (the last key asked again).
# A live batch changes a few dozen rows; padded to 400, each of its reads bound 1,600 values and
# looked the same key up hundreds of times — a fifth of the projector's time under load.
KEY_SIZES = (8, 32, 128, KEYS_AT_ONCE)


@cache
def _of_keys(table: Table, size: int) -> Select[Any]:
    """The rows of ``size`` keys, their values bound: built and compiled once per table and size
    (an OR built anew for every read cost more than the read: 100,000 comparisons for a recount
    of 25,000 calls)."""
    columns = table.primary_key.columns
    keys = (and_(*(c == bindparam(f"k{i}_{c.name}") for c in columns)) for i in range(size))
    return select(table).where(or_(*keys))


@cache
def _of_key_arrays(table: Table) -> Select[Any]:
    """PostgreSQL: the rows of the keys bound as one array per key column, joined to their index.
    One short statement whatever the number of keys — its text converted and its plan prepared
    once — where an OR of 128 keys was a 20 kB statement that psycopg split anew for every read
    (~5 ms of Python each, beside the planning of 512 parameters by the server)."""
    columns = list(table.primary_key.columns)
    wanted = func.unnest(*(bindparam(f"keys_{c.name}", type_=ARRAY(c.type)) for c in columns))
    keys = wanted.table_valued(*(c.name for c in columns)).render_derived(with_types=False)
    return select(table).join(keys, and_(*(c == keys.c[c.name] for c in columns)))


def of_keys(
    table: Table, keys: Sequence[Sequence[Any]], dialect: str = "sqlite"
) -> tuple[Select[Any], dict[str, Any]]:
    """The stored rows of up to ``KEYS_AT_ONCE`` keys: on PostgreSQL as arrays, elsewhere in the
    smallest size that holds them."""
    assert 0 < len(keys) <= KEYS_AT_ONCE
    if dialect == "postgresql":
        columns = table.primary_key.columns
        arrays = {f"keys_{c.name}": [key[i] for key in keys] for i, c in enumerate(columns)}
        return _of_key_arrays(table), arrays
    size = next(s for s in KEY_SIZES if s >= len(keys))
    padded = [*keys, *[keys[-1]] * (size - len(keys))]
    columns = table.primary_key.columns
    params = {f"k{i}_{c.name}": v for i, key in enumerate(padded) for c, v in zip(columns, key, strict=True)}
    return _of_keys(table, size), params


@cache
def by_key(table: Table) -> Delete:
    """The row of one key (executed once per key: ``key_params``); built once per table."""
    return delete(table).where(*(c == bindparam(f"key_{c.name}") for c in table.primary_key.columns))


def key_params(table: Table, key: Sequence[Any]) -> dict[str, Any]:
    return {f"key_{c.name}": v for c, v in zip(table.primary_key.columns, key, strict=True)}


def chunks(items: Sequence[Any], size: int = 400) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def rows_of_calls(conn: Connection, table: Table, call_ids: Sequence[str], *extra: Any) -> list[Row]:
    found: list[Row] = []
    query = _of_calls(table, *extra)
    for chunk in chunks(call_ids):
        found += [dict(r) for r in conn.execute(query, {"call_ids": list(chunk)}).mappings()]
    return found


@cache
def _of_calls(table: Table, *extra: Any) -> Select[Any]:
    """The rows of some calls (bound as ``call_ids``), with ``extra`` columns of ``rm_calls``:
    built once (a projector batch asked for four such reads, each built anew)."""
    query = select(table, *extra).where(table.c.call_id.in_(bindparam("call_ids", expanding=True)))
    if extra:
        query = query.join_from(table, rm_calls, rm_calls.c.call_id == table.c.call_id)
    return query


def by_call(rows: Iterable[Row]) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        found[r["call_id"]].append(r)
    return found


def streamed(query: Select[Any]) -> Select[Any]:
    """A query whose rows arrive a few thousand at a time (a server-side cursor on PostgreSQL)."""
    return query.execution_options(yield_per=5000)


# --- changing stored tallies ----------------------------------------------------------------------


def rewrite_of(
    conn: Connection,
    table: Table,
    changes: Mapping[Any, Any],
    changed: Callable[[Any, Row | None, Any], Row | None],
    *,
    afresh: bool = False,
) -> Rewrite:
    """Each changed row read and changed by ``changed`` (None: nothing left) — or, ``afresh``,
    made from nothing (the rows replace every stored one)."""
    keys = list(changes)
    stored: dict[Any, Row] = {}
    for chunk in [] if afresh else chunks(keys, KEYS_AT_ONCE):
        for r in conn.execute(*of_keys(table, chunk, conn.dialect.name)).mappings():
            stored[tuple(r[c.name] for c in table.primary_key.columns)] = dict(r)
    rows = [row for k in keys if (row := changed(k, stored.get(k), changes[k])) is not None]
    return Rewrite(table, [k for k in keys if k in stored], rows, afresh)
