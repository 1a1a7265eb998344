"""Reading the SLA tallies for the dashboard: the rows of some (level, scope) pairs in some
blocks (``tallies``), and the percentiles of several blocks together, their spreads merged
(``merged``) — once per process for any set of spreads, each spread read once (``spread_memo``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, case, null, or_, select

from huying.projections import spread
from huying.projections.periods import Block, Granularity
from huying.projections.tables import DASHBOARD_COUNTS, SPREADS, rm_sla_tallies
from huying.queries.spread_memo import MEMO, Digests, Summary

Row = dict[str, Any]  # a tally row as read: its figures, digests, spreads if read, and key
Merged = dict[Digests, Summary]  # the summary of several blocks' spreads, by their digests
NO_TIMES = spread.summary([])


Stored = dict[tuple[str, str], dict[Block, Row]]  # (level, scope) → block → row


def read_tallies(
    conn: Connection,
    wanted: Sequence[tuple[str, str]],
    blocks: Iterable[Block],
    merges: Iterable[Sequence[Block]],
) -> tuple[Stored, Merged]:
    """The tallies of these (level, scope) pairs in these blocks, and the summaries of each
    pair's ``merges`` (sets of those blocks whose percentiles are merged). The spreads of blocks
    this process has not merged before are read with their rows; others only if they changed."""
    merges = list(merges)
    unseen = MEMO.unseen((*pair, *block) for pair in wanted for blocks in merges for block in blocks)
    stored = tallies(conn, wanted, blocks, {(granularity, start) for _, _, granularity, start in unseen})
    summaries = merged(
        conn, [[rows[b] for b in of if b in rows] for rows in stored.values() for of in merges]
    )
    MEMO.saw(unseen)
    return stored, summaries


SHOWN = (
    *DASHBOARD_COUNTS,
    *(f"{kind}_{part}" for kind in SPREADS for part in ("n", "p50", "p90", "digest")),
)


def tallies(
    conn: Connection, wanted: Sequence[tuple[str, str]], blocks: Iterable[Block], with_spreads: set[Block]
) -> Stored:
    """The stored tallies of these (level, scope) pairs in these blocks, (level, scope) → block →
    row: the spreads' digests, and the spreads themselves of the blocks ``with_spreads`` only
    (those whose spreads this process has not asked for before: ``merged`` reads any others it
    lacks, in a query of their own).

    One query per kind of block: the blocks are looked up once. (Asked apart, the year by month
    took six queries instead of three: ~3 ms of its ~32 ms at 100,000 calls on PostgreSQL.)"""
    t = rm_sla_tallies
    found: Stored = defaultdict(dict)
    starts: dict[Granularity, set[date]] = defaultdict(set)
    spread_starts: dict[Granularity, set[date]] = defaultdict(set)
    for granularity, start in blocks:
        starts[granularity].add(start)
    for granularity, start in with_spreads:
        spread_starts[granularity].add(start)
    for kind, wanted_starts in starts.items():
        with_them = spread_starts[kind]
        query = select(
            t.c.level,
            t.c.scope,
            t.c.start,
            *(t.c[c] for c in SHOWN),
            *(_when(t.c.start, with_them, wanted_starts, t.c[c]) for c in _SPREAD_COLUMNS),
        ).where(pairs_in(wanted), t.c.block == kind.value, starting_in(t.c.start, kind, wanted_starts))
        for values in _rows(conn, query):
            row = dict(zip(_READ, values, strict=True))  # a row a block: one dict, made once
            row["block"] = kind
            found[(row["level"], row["scope"])][(kind, row["start"])] = row
    return found


def starting_in(start: Any, kind: Granularity, starts: Iterable[date]) -> ColumnElement[bool]:
    """The blocks of ``kind`` starting on ``starts``, as ranges of consecutive blocks: an index
    walks a range, where a list of days is as many probes for each scope — PostgreSQL read the
    district's 30 days × its scopes as a scan of the whole table (7 ms at 10,000 calls, where
    its index walks take well under one). Every query of the tallies asks its blocks so."""
    ordered = sorted(starts)
    runs, first = [], ordered[0]
    for before, after in pairwise(ordered):
        if (after - before).days > _LONGEST[kind]:  # a block of this kind between them
            runs.append((first, before))
            first = after
    runs.append((first, ordered[-1]))
    # >= and <=, not BETWEEN: SQLite walks the range in each branch of its OR of pairs only so.
    return or_(*(and_(start >= a, start <= b) if a != b else start == a for a, b in runs))


_LONGEST = {Granularity.DAY: 1, Granularity.WEEK: 7, Granularity.MONTH: 31}  # days to the next block


_SPREAD_COLUMNS = tuple(f"{kind}_spread" for kind in SPREADS)
_READ = ("level", "scope", "start", *SHOWN, *_SPREAD_COLUMNS)  # the columns ``tallies`` selects


def parts(rows: Iterable[Row], kind: str) -> Digests:
    """The names of some rows' spreads of ``kind`` (a block with no time has none), sorted: each
    one's digest, or a name of this request's for a spread stored without one (``_name``)."""
    return tuple(sorted(_name(r, kind) for r in rows if r[f"{kind}_n"]))


def _name(r: Row, kind: str) -> str:
    """A spread's digest; for one whose digest a writer of an older release left NULL (0020d's
    trigger), its row's key, marked: read and merged at each request, never kept."""
    return _named(r[f"{kind}_digest"], kind, r["level"], r["scope"], r["block"], r["start"])


def _named(digest: str | None, kind: str, level: str, scope: str, block: Granularity, start: date) -> str:
    return digest if digest is not None else f"{_UNNAMED}{kind} {level} {scope} {block.value} {start}"


_UNNAMED = "?"  # no digest starts so


def merged(conn: Connection, merges: Iterable[Sequence[Row]]) -> Merged:
    """The summaries of these sets of several rows, for both kinds of spread: merged here once
    and then known by their parts' digests (``spread_memo``), their spreads read only when not
    already held — a past month's spreads are read once, not at every request."""
    wanted = {
        parts(rows, kind): [(r, kind) for r in rows if r[f"{kind}_n"]]
        for rows in merges
        if len(rows) > 1  # one row's are stored with it
        for kind in SPREADS
    }
    found: Merged = {}
    for of in wanted:
        if (summary := MEMO.summary(of)) is not None:
            found[of] = summary
    unmerged = [of for of in wanted if of not in found]
    held = MEMO.spreads({name for of in unmerged for name in of if not name.startswith(_UNNAMED)})
    unread = {_name(r, kind): (r, kind) for of in unmerged for r, kind in wanted[of]}
    for name in held:
        del unread[name]
    for name, (r, kind) in list(unread.items()):  # read with the rows (``tallies``)
        if (blob := r.get(f"{kind}_spread")) is not None:
            held[name] = _kept(name, blob)
            del unread[name]
    if unread:
        held |= _spreads_read(conn, unread.values())
    for of in unmerged:
        found[of] = spread.summary([held[name] for name in of])
        if not any(name.startswith(_UNNAMED) for name in of):
            MEMO.remember(of, found[of])
    return found


def _kept(name: str, blob: bytes) -> spread.Spread:
    """A spread read: kept by its digest, unless it has none."""
    return spread.decode(blob) if name.startswith(_UNNAMED) else MEMO.learn(name, bytes(blob))


def _spreads_read(conn: Connection, wanted: Iterable[tuple[Row, str]]) -> dict[str, spread.Spread]:
    """The spreads of these rows (each row's of one kind) — rows whose spreads this process read
    before, changed since — read in one query of those rows and kept in the memo. A kind no row
    wants is not read; of the other, every one of those rows' is (only the wanted ones kept): a
    CASE choosing them by digest cost more than it saved (~5 ms for the 480 of a year by month
    at a million calls, on PostgreSQL)."""
    t = rm_sla_tallies
    names: dict[str, set[str]] = defaultdict(set)
    starts: dict[Granularity, set[date]] = defaultdict(set)
    pairs = set()
    for r, kind in wanted:
        names[kind].add(_name(r, kind))
        starts[r["block"]].add(r["start"])
        pairs.add((r["level"], r["scope"]))
    spreads = [t.c[f"{kind}_spread"] if names[kind] else null().label(f"{kind}_spread") for kind in SPREADS]
    digests = [t.c[f"{kind}_digest"] for kind in SPREADS]
    blocks = (and_(t.c.block == b.value, starting_in(t.c.start, b, at)) for b, at in starts.items())
    query = select(t.c.level, t.c.scope, t.c.block, t.c.start, *digests, *spreads).where(
        pairs_in(pairs), or_(*blocks)
    )
    found: dict[str, spread.Spread] = {}
    for level, scope, block, start, *values in _rows(conn, query):
        for kind, digest, blob in zip(SPREADS, values[: len(SPREADS)], values[len(SPREADS) :], strict=True):
            name = _named(digest, kind, level, scope, Granularity(block), start)
            if name in names[kind] and name not in found:
                found[name] = _kept(name, blob)
    return found


def _when(start: Any, merging: set[date], wanted: set[date], column: Any) -> Any:
    """``column`` for the blocks starting on ``merging``, else NULL: the column itself when those
    are all the blocks asked for."""
    if merging >= wanted:
        return column
    if not merging:
        return null().label(column.name)
    return case((start.in_(sorted(merging)), column), else_=null()).label(column.name)


def pairs_in(pairs: Iterable[tuple[str, str]]) -> ColumnElement[bool]:
    """The tallies of these (level, scope) pairs: at each level, its scopes. A level IN and a
    scope IN alone would also take the pairs no series asks for: for the district, its streets'
    community level, a quarter of the year by month's spreads at a million calls, read and
    dropped. (Asked as pairs, ``(level, scope) IN (…)``, SQLite scans the table and PostgreSQL
    plans an OR of every pair, ~0.5 ms more than the bytes it saves on 30 days.)

    Made once per set of pairs and kept: a dashboard asks it of each of its statements, and
    the district's (a level's twenty-odd scopes) cost ~0.4 ms to build each time."""
    return _pairs_clause(frozenset(pairs))


@lru_cache(maxsize=1024)  # a set of pairs is a unit's series: bounded by the org's units
def _pairs_clause(pairs: frozenset[tuple[str, str]]) -> ColumnElement[bool]:
    t = rm_sla_tallies
    scopes: dict[str, set[str]] = defaultdict(set)
    for level, scope in pairs:
        scopes[level].add(scope)
    return or_(*(and_(t.c.level == level, t.c.scope.in_(sorted(at))) for level, at in sorted(scopes.items())))


def _rows(conn: Connection, query: Select[Any]) -> Iterable[Sequence[Any]]:
    """The tallies' rows; on PostgreSQL in its binary format, where the spreads come as bytes."""
    if conn.dialect.name == "postgresql":
        from huying.postgres import binary_rows

        return binary_rows(conn, query)
    return conn.execute(query)
