"""How the tallies' rows are read and replaced: by their whole primary key, a batch's changes
worked out before its write transaction (``Rewrite``). Shared by every tally (``tallies``,
``ledger_tallies``)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Dialect,
    Executable,
    LargeBinary,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.selectable import TextualSelect

from huying.projections.rows import Row
from huying.projections.tables import rm_calls
from huying.projections.writer import RowWriter, key_names, key_of
from huying.recently_used import RecentlyUsed

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
    before: Mapping[Any, Row] = field(default_factory=dict)  # the stored rows, as read or known

    def write(self, conn: Connection, writer: RowWriter) -> None:
        if self.afresh:
            conn.execute(delete(self.table))
            writer.insert(conn, self.table, self.rows)
            return
        key = key_of(self.table)
        keyed = [(key(row), row) for row in self.rows]
        stored = set(self.replaced)
        kept = [(key, row) for key, row in keyed if key in stored]
        left = stored - {key for key, _ in keyed}
        one_row = by_key(self.table)
        for chunk in chunks([k for k in self.replaced if k in left]):  # nothing left of them
            conn.execute(one_row, [key_params(self.table, k) for k in chunk])
        for names, same_shape in _as_changed(self.table, kept, self.before):
            writer.update(conn, self.table, same_shape, names)
        writer.insert(conn, self.table, [row for key, row in keyed if key not in stored])


def _as_changed(
    table: Table, kept: list[tuple[Any, Row]], before: Mapping[Any, Row]
) -> list[tuple[tuple[str, ...], list[Row]]]:
    """The rows updated in place, by the columns each sets: all but the large values (its
    spreads) it leaves as they were — one statement for each such shape, which picks its
    columns from the rows as they are. On PostgreSQL a large value is stored out of line
    (TOAST), and set again — even to the same bytes — it is stored anew and its old copy left to
    vacuum: a raise changes a month's counts, not its spreads (~16 kB each in a community's
    month at a million calls), and every projector batch wrote them again."""
    large = _large_columns(table)
    shapes: dict[tuple[str, ...], list[Row]] = defaultdict(list)
    for key, row in kept:
        old = before.get(key)
        same = tuple(n for n in large if old is not None and n in row and n in old and row[n] == old[n])
        shapes[same].append(row)
    return [(tuple(n for n in rows[0] if n not in same), rows) for same, rows in shapes.items()]


@cache
def _large_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if isinstance(c.type, LargeBinary))


# Tally rows are found by their whole primary key, looked up one key at a time in its index: one
# short statement whatever the number of keys, the keys bound as one value. Not with a row-value
# IN list: SQLite plans ``(level, scope, block, start) IN (VALUES …)`` of several keys as a scan of
# the whole table — 20 ms each for the read and the delete of every projector batch at 100,000
# calls, most of the batch. Not with an OR of the keys either (until 2026-12-05 on SQLite, in four
# compiled sizes): SQLAlchemy bound and converted four values per key in Python at every read,
# a fifth of the duties' process's time under P1's load.


KEYS_AT_ONCE = 400  # keys one read of stored tally rows asks for, at most


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


@cache
def _of_key_list(table: Table) -> TextualSelect:
    """SQLite: the rows of the keys bound as one JSON array of keys (``_key_list``), each looked
    up in the primary key's index (``CROSS JOIN`` keeps the keys the outer loop; the test reads
    the plan). The result is typed by the table's columns, so rows come back as Core's would."""
    names = key_names(table)
    on = " AND ".join(f"t.{n} = json_extract(k.value, '$[{i}]')" for i, n in enumerate(names))
    columns = ", ".join(f"t.{c.name}" for c in table.columns)
    statement = f"SELECT {columns} FROM json_each(:keys) AS k CROSS JOIN {table.name} AS t ON {on}"
    return text(statement).columns(*table.columns)


def _key_list(table: Table, keys: Sequence[Sequence[Any]], dialect: Dialect) -> str:
    """The keys as SQLite stores them (each key column's own conversion: a date as its ISO text,
    a boolean as 0 or 1), in one JSON array."""
    convert = _converters(table, dialect)
    return json.dumps([[c(v) for c, v in zip(convert, key, strict=True)] for key in keys], ensure_ascii=False)


@cache
def _converters(table: Table, dialect: Dialect) -> tuple[Callable[[Any], Any], ...]:
    return tuple(
        c.type.dialect_impl(dialect).bind_processor(dialect) or _as_is for c in table.primary_key.columns
    )


def _as_is(value: Any) -> Any:
    return value


def of_keys(
    table: Table, keys: Sequence[Sequence[Any]], dialect: Dialect
) -> tuple[Executable, dict[str, Any]]:
    """The stored rows of up to ``KEYS_AT_ONCE`` keys: on PostgreSQL as one array per key column,
    on SQLite as one JSON array of keys."""
    assert 0 < len(keys) <= KEYS_AT_ONCE
    if dialect.name == "postgresql":
        columns = table.primary_key.columns
        arrays = {f"keys_{c.name}": [key[i] for key in keys] for i, c in enumerate(columns)}
        return _of_key_arrays(table), arrays
    return _of_key_list(table), {"keys": _key_list(table, keys, dialect)}


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
    known: KnownRows | None = None,
) -> Rewrite:
    """Each changed row read and changed by ``changed`` (None: nothing left) — or, ``afresh``,
    made from nothing (the rows replace every stored one). Rows ``known`` as stored are not
    read again."""
    keys = list(changes)
    key = key_of(table)
    stored: dict[Any, Row] = {}
    unread = keys
    if known is not None and not afresh:
        stored, unread = known.of(table, keys)
    for chunk in [] if afresh else chunks(unread, KEYS_AT_ONCE):
        for r in conn.execute(*of_keys(table, chunk, conn.dialect)).mappings():
            found = dict(r)
            stored[key(found)] = found
    rows = [row for k in keys if (row := changed(k, stored.get(k), changes[k])) is not None]
    return Rewrite(table, [k for k in keys if k in stored], rows, afresh, stored)


class KnownRows:
    """Tally rows as this process last committed them, by table and key (the most recently
    written ``limit`` of each table), and the log position they stand at (``at``): what reading
    them back would give, for as long as nobody else writes them — which the owner
    (``TallyKeeper``) vouches for, and otherwise ``forget``s them. A live batch re-reads the same
    few dozen rows (the district's, the streets', this week's and month's) that the batch before
    it wrote; known, they are not read again. (A district's day, week and month come to ~200 SLA
    rows, ~3 kB each with their spreads: 2,048 hold them with room, in ~6 MB at most.)

    Rewrites are ``held`` while their transaction is open and known once it has ``committed``:
    a batch rolled back leaves what was known before it."""

    def __init__(self, limit: int = 2_048) -> None:
        self._limit = limit
        self._rows: dict[str, RecentlyUsed[Any, Row]] = {}
        self._held: tuple[list[Rewrite], int] | None = None
        self.at: int | None = None  # the position the known rows stand at (None: none known)

    def of(self, table: Table, keys: Sequence[Any]) -> tuple[dict[Any, Row], list[Any]]:
        """The known rows among ``keys``, and the keys not known (to be read)."""
        rows = self._rows.get(table.name)
        if not rows:
            return {}, list(keys)
        found: dict[Any, Row] = {}
        unknown = []
        for k in keys:
            row = rows.get(k)
            if row is None:
                unknown.append(k)
            else:
                found[k] = row
        return found, unknown

    def hold(self, rewrites: Sequence[Rewrite] | None, at: int = 0) -> None:
        """What an open transaction writes, bringing the tallies to ``at`` (None: nothing)."""
        self._held = (list(rewrites), at) if rewrites is not None else None

    def committed(self) -> None:
        """The transaction holding what was ``held`` has committed (if anything was)."""
        if self._held is None:
            return
        rewrites, self.at = self._held
        self._held = None
        for rewrite in rewrites:
            rows = self._rows.get(rewrite.table.name)
            if rows is None:
                rows = self._rows[rewrite.table.name] = RecentlyUsed(self._limit)
            if rewrite.afresh:
                rows.clear()
            for k in rewrite.replaced:
                rows.pop(k)
            key = key_of(rewrite.table)
            for row in rewrite.rows:
                rows.put(key(row), row)

    def forget(self) -> None:
        self._rows.clear()
        self._held = self.at = None

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())
