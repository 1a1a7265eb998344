"""Tallies — what the rows of every call add up to, per unit and period, kept by the projector
so that the dashboard and the scores read a few rows instead of every obligation.

A tally changes by what a batch changed: the projector hands over the calls it is about to
replace (``before``: their rows as stored) and, once their new rows are in, those rows
(``after``); each tally subtracts what the old rows counted and adds what the new ones count,
obligation by obligation (an obligation that did not change counts nothing). The same function of
the same rows in any batches: a rebuild comes out identical (``tests/integration/
test_rebuild_equals_incremental.py``).

- ``SlaTallies`` (``rm_sla_tallies``): per level, scope and block of arrival dates — a day, its
  ISO week, its month — the counts of ``tables.SLA_COUNTS`` and the spread of response and
  resolution times (``spread``), with the block's own p50 and p90.
- ``EvaluationTallies`` (``rm_evaluation_tallies``): per unit and month, the evaluated rounds
  attributed to it and the 督办 against it.
- ``LedgerTallies`` (``rm_ledger_tallies``, ``ledger_tallies``): per unit, the calls on the 台账
  ledger by status and by what awaits the street.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import chain, groupby, islice, pairwise
from operator import add, itemgetter, sub
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.projections import spread
from huying.projections.collector import cycle_collector_paused
from huying.projections.ledger_tallies import LedgerTallies
from huying.projections.obligations import Arrival, Fields, Obligation, of_call
from huying.projections.periods import Granularity, blocks_of, local_day, period_of
from huying.projections.rows import Row
from huying.projections.tables import (
    EVALUATION_COUNTS,
    SLA_COUNTS,
    SPREADS,
    projection_tracking,
    rm_calls,
    rm_evaluation_tallies,
    rm_evaluations,
    rm_sla_tallies,
    rm_stints,
    rm_supervisions,
    rm_work_orders,
)
from huying.projections.tally_rows import (
    KnownRows,
    Rewrite,
    Rows,
    by_call,
    rewrite_of,
    rows_of_calls,
    streamed,
)
from huying.projections.writer import RowWriter

log = logging.getLogger(__name__)


class Tally(Protocol):
    """What sums the rows of many calls: told which calls a batch replaces, before and after."""

    tables: tuple[Table, ...]

    def before(self, conn: Connection, call_ids: Sequence[str]) -> Any:
        """What the stored rows of these calls counted (read before the runner replaces them)."""
        ...

    def after(self, conn: Connection, before: Any, rows: Rows, known: KnownRows | None = None) -> Rewrite:
        """The tallies changed by what the batch's rows count instead (rows ``known`` as stored
        are not read again)."""
        ...

    def recount(self, engine: Engine) -> Iterator[Rewrite]:
        """Every tally afresh from every call's stored rows: rewrites to write in turn, each in a
        transaction of its own, the first replacing every stored row."""
        ...


TALLIED = "tallies"  # their row in projection_tracking: the position the tallies are in step with
_BEHIND = -1  # recount them once the rows have caught up
RECOUNT_PART = 2_000  # calls whose obligations one part of the SLA tallies' recount adds


class TallyKeeper:
    """The tallies, in step with the calls' rows batch by batch — or behind them, after a rebuild
    started (or before this version's first run on an older store): then a batch leaves them
    alone, and once the rows have caught up with the log they are counted afresh, in one pass
    over the stored rows (the SLA tallies' in parts of calls: ``SlaTallies.recount``). A rebuild
    so costs one pass instead of a change per batch, and what it comes to is what the changes
    come to: the rebuild test compares the two.

    What changes is worked out before the batch's write transaction (``prepare``); in it, the
    tallies are only replaced (``store``), so they do not hold the database's write lock long.

    The rows a batch wrote are known for the next (``KnownRows``), once its transaction has
    ``committed``: a batch that starts where this keeper's last one ended, with the tallies
    stored there, finds them as that batch left them — every other writer of the tallies (a
    projector elsewhere, a rebuild, a recount) moves them on, or behind, first. Anything else
    this keeper is asked to do, it forgets them for."""

    def __init__(self, org: Org, writer: RowWriter) -> None:
        self.tallies: list[Tally] = [SlaTallies(org), EvaluationTallies(), LedgerTallies()]
        self.writer = writer
        self.known = KnownRows()

    def prepare(
        self, conn: Connection, start: int, call_ids: Sequence[str], rows: Rows
    ) -> list[Rewrite] | None:
        """For a batch from ``start`` storing ``rows`` for ``call_ids``: the tallies changed
        (None: they are behind)."""
        self.known.hold(None)  # a batch before that never committed
        in_step = _tallied(conn, start) == start
        if not in_step or self.known.at != start:  # known as of another position: not now
            self.known.forget()
        if not in_step:
            return None
        return [t.after(conn, t.before(conn, call_ids), rows, self.known) for t in self.tallies]

    def store(self, conn: Connection, prepared: list[Rewrite] | None, start: int, end: int) -> bool:
        """In the batch's transaction: its tallies, unless they were behind (or fell behind);
        whether they are in step at ``end`` now."""
        if prepared is None or not _moved_on(conn, start, end):
            return False
        for rewrite in prepared:
            rewrite.write(conn, self.writer)
        self.known.hold(prepared, end)
        return True

    def committed(self) -> None:
        """The transaction that stored the tallies has committed: their rows are known."""
        self.known.committed()

    def forget(self) -> None:
        self.known.forget()

    def settle(self, engine: Engine, position: int) -> None:
        """The rows stand at ``position``, the end of the log: tallies behind them are recounted."""
        self.forget()
        with engine.connect() as conn:
            if _tallied(conn, position) == position:
                return
        # Still behind until the last part is in: a recount cut short starts again from nothing.
        for tally in self.tallies:
            self.write(engine, tally.recount(engine))
        with engine.begin() as conn:
            self.in_step_at(conn, position)

    def write(self, engine: Engine, rewrites: Iterable[Rewrite]) -> None:
        """A recount's rewrites, each in a transaction of its own."""
        self.forget()
        for rewrite in rewrites:
            with engine.begin() as conn:
                rewrite.write(conn, self.writer)

    def in_step_at(self, conn: Connection, position: int) -> None:
        """The tallies count the rows as they stand at ``position`` (recounted)."""
        self.forget()
        _tally_at(conn, position)

    def fall_behind(self, conn: Connection) -> None:
        self.forget()
        _tally_at(conn, _BEHIND)


# Read and moved in every projector batch: built once.
_TALLIED_AT = select(projection_tracking.c.position).where(projection_tracking.c.name == TALLIED)
_MOVE_TALLIED = update(projection_tracking).where(projection_tracking.c.name == TALLIED)
_MOVE_TALLIED_ON = _MOVE_TALLIED.where(projection_tracking.c.position == bindparam("start")).values(
    position=bindparam("end")
)


def _tallied(conn: Connection, rows_at: int) -> int:
    """Where the tallies stand. With no row yet, in step if the rows are at the start too (a new
    store), behind them otherwise (a store projected before the tallies existed)."""
    found = conn.execute(_TALLIED_AT).scalar()
    return int(found) if found is not None else (0 if rows_at == 0 else _BEHIND)


def in_step(conn: Connection) -> bool:
    """Whether the tallies are in step with the calls' rows (not behind them, being recounted)."""
    return (conn.execute(_TALLIED_AT).scalar() or _BEHIND) != _BEHIND


def _moved_on(conn: Connection, start: int, end: int) -> bool:
    """The tallies moved from ``start`` to ``end`` if they stood at ``start`` (as ``_tallied``
    says: a new store's, with no row yet, stand at 0): whether they did. One statement reads and
    moves them, in the batch's write transaction (read first, then moved, it was two)."""
    if conn.execute(_MOVE_TALLIED_ON, {"start": start, "end": end}).rowcount:
        return True
    if start == 0 and conn.execute(_TALLIED_AT).scalar() is None:
        conn.execute(insert(projection_tracking).values(name=TALLIED, position=end))
        return True
    return False


def _tally_at(conn: Connection, position: int) -> None:
    if not conn.execute(_MOVE_TALLIED, {"position": position}).rowcount:
        conn.execute(insert(projection_tracking).values(name=TALLIED, position=position))


# --- SLA tallies ------------------------------------------------------------------------------

_COUNTED = len(SLA_COUNTS)
_ENDED_OTHERWISE = frozenset({"withdrawn", "merged", "cancelled", "lapsed"})


def counts_of(o: Obligation) -> tuple[int, ...]:
    """What one obligation adds to ``tables.SLA_COUNTS`` (docs/metrics.md §2–§4)."""
    due, answered, ended = o.response_due, o.responded_at, o.ended_at
    if o.arrived_by is Arrival.REOPEN:
        answer = "not_owed"
    elif due is None:
        answer = "untimed"
    elif answered is not None:
        answer = "on_time" if answered <= due else "answered_late"
    elif ended is not None:
        answer = "ended_before_due" if ended <= due else "answered_late"
    else:
        answer = "awaiting"
    return (
        1,
        o.arrived_by is Arrival.REOPEN,
        answered is not None,
        answer == "on_time",
        due is not None,
        o.resolved,
        o.resolved_on_time,
        o.resolution_due is not None,
        o.is_open,
        o.outcome == "escalated",
        o.outcome == "returned",
        o.outcome in _ENDED_OTHERWISE,
        answer == "answered_late",
        answer == "untimed",
        answer == "ended_before_due",
        answer == "not_owed",
        answer == "awaiting",
    )


def times_of(o: Obligation) -> tuple[float | None, float | None]:
    """Its response time (acknowledged or signed) and resolution time (resolved), in seconds."""
    responded = (o.responded_at - o.arrived_at).total_seconds() if o.responded_at else None
    resolved = (o.ended_at - o.arrived_at).total_seconds() if o.resolved and o.ended_at else None
    return responded, resolved


@dataclass
class _Change:
    """What a batch changes in one tally row: counts, and times added to (or taken from) each
    spread as bin → (how many, the largest added)."""

    counts: list[int] = field(default_factory=lambda: [0] * _COUNTED)
    added: tuple[dict[int, tuple[int, float]], ...] = field(default_factory=lambda: ({}, {}))
    taken: tuple[dict[int, int], ...] = field(default_factory=lambda: ({}, {}))

    def absorb(self, other: _Change) -> None:
        """Adds what ``other`` changes to what this one does (``other`` is left as it was).
        Done ~5 times per call in a recount: written for speed (half the time of a zip and a
        ``max`` per value)."""
        self.counts = list(map(add, self.counts, other.counts))
        for added, taken, more, fewer in zip(self.added, self.taken, other.added, other.taken, strict=True):
            for b, (n, top) in more.items():
                had = added.get(b)
                added[b] = (n, top) if had is None else (had[0] + n, had[1] if had[1] >= top else top)
            for b, n in fewer.items():
                taken[b] = taken.get(b, 0) + n

    def replace(self, was: Obligation | None, now: Obligation | None) -> None:
        """One obligation as it was (None: new) and as it is (None: gone)."""
        zero = (0,) * _COUNTED
        old, new = counts_of(was) if was else zero, counts_of(now) if now else zero
        self.counts = list(map(add, self.counts, map(sub, new, old)))
        before = times_of(was) if was is not None else (None, None)
        after = times_of(now) if now is not None else (None, None)
        for kind, (old_time, new_time) in enumerate(zip(before, after, strict=True)):
            if old_time == new_time:
                continue
            if old_time is not None:
                b = spread.bin_of(old_time)
                self.taken[kind][b] = self.taken[kind].get(b, 0) + 1
            if new_time is not None:
                b = spread.bin_of(new_time)
                n, top = self.added[kind].get(b, (0, new_time))
                self.added[kind][b] = (n + 1, max(top, new_time))


class Scopes:
    """The series an obligation counts in: its unit's own, and every scope holding that unit
    (docs/metrics.md §3, "Which series")."""

    def __init__(self, org: Org) -> None:
        self.org = org
        self._known: dict[tuple[str, str, str], tuple[str, ...]] = {}

    def of(self, level: str, unit: str, grid: str) -> tuple[str, ...]:
        key = (level, unit, grid)
        found = self._known.get(key)
        if found is None:
            found = self._known[key] = self._find(level, unit, grid)
        return found

    def _find(self, level: str, unit: str, grid: str) -> tuple[str, ...]:
        org = self.org
        scopes = [org.district.code, unit]
        if level == Level.COMMUNITY.value and org.kind_of(unit) is UnitKind.COMMUNITY:
            scopes.append(org.street_of(unit))
            if org.kind_of(grid) is UnitKind.GRID and org.community_of(grid) == unit:
                scopes.append(grid)
        return tuple(dict.fromkeys(scopes))


SlaKey = tuple[str, str, str, date]  # level, scope, block, start
FineKey = tuple[str, str, str, date]  # level, unit, grid, day


class SlaTallies:
    tables: tuple[Table, ...] = (rm_sla_tallies,)

    def __init__(self, org: Org) -> None:
        self.scopes = Scopes(org)

    def before(self, conn: Connection, call_ids: Sequence[str]) -> dict[str, list[Obligation]]:
        grid = rm_calls.c.grid_code
        stints = by_call(rows_of_calls(conn, rm_stints, call_ids, grid))
        orders = by_call(rows_of_calls(conn, rm_work_orders, call_ids, grid))
        return {
            call_id: of_call(stints.get(call_id, []), orders.get(call_id, []), _grid(stints, orders, call_id))
            for call_id in {*stints, *orders}
        }

    def after(
        self,
        conn: Connection,
        before: dict[str, list[Obligation]],
        rows: Rows,
        known: KnownRows | None = None,
    ) -> Rewrite:
        grids = {r["call_id"]: r["grid_code"] for r in rows.get(rm_calls.name, [])}
        stints, orders = by_call(rows.get(rm_stints.name, [])), by_call(rows.get(rm_work_orders.name, []))
        fine: dict[FineKey, _Change] = defaultdict(_Change)
        for call_id in {*before, *grids}:
            old = {o.ref: o for o in before.get(call_id, [])}
            for o in of_call(stints.get(call_id, []), orders.get(call_id, []), grids.get(call_id, "")):
                was = old.pop(o.ref, None)
                if was == o:
                    continue  # unchanged: counts nothing
                if was is not None and _fine_key(was) != _fine_key(o):
                    fine[_fine_key(was)].replace(was, None)
                    was = None
                fine[_fine_key(o)].replace(was, o)
            for gone in old.values():  # none while events only add to a call
                fine[_fine_key(gone)].replace(gone, None)
        return rewrite_of(conn, rm_sla_tallies, self._spread_out(fine), _sla_row, known=known)

    def recount(self, engine: Engine) -> Iterator[Rewrite]:
        """Every tally afresh: none left, then every call's obligations (``recount_slice``)."""
        yield Rewrite(rm_sla_tallies, [], [], afresh=True)
        yield from self.recount_slice(engine, Slice(), {})

    def recount_slice(self, engine: Engine, calls: Slice, left: dict[SlaKey, _Change]) -> Iterator[Rewrite]:
        """The tallies of the blocks ``calls`` owns, over no tallies of them yet: the calls raised
        in the slice ``RECOUNT_PART`` at a time in the order they were raised, each part's
        obligations added as a batch's are. An obligation arrives once its call was raised, so a
        part's blocks are mostly the days after the part before: a recount holds one part's
        changes and rows, however long the history (one pass holding every block of it took 116
        MiB at 25,000 calls, and grew with the years). What the slice's calls change in blocks
        it does not own — those ending after the slice, reached by its calls' later obligations
        — is added to ``left``, for whoever writes them once their owner has (a rebuild in
        parts: ``rebuild.py``).

        A block's changes are carried from part to part until no later call can reach it — it
        ends before the day the part's last call was raised — and its row is then written once.
        (Read back and written again after every part, a month's row and its spreads were
        rewritten once per part that reached it: a fifth of a rebuild on PostgreSQL at 100,000
        events, and more parts per month the more calls.) A change for a block already written,
        should a call's obligation arrive before it was raised, is added to the stored one."""
        raised = select(rm_calls.c.call_id, rm_calls.c.raised_at).order_by(
            rm_calls.c.raised_at, rm_calls.c.call_id
        )
        if calls.since is not None:
            raised = raised.where(rm_calls.c.raised_at >= calls.since)
        if calls.until is not None:
            raised = raised.where(rm_calls.c.raised_at < calls.until)
        carried: dict[SlaKey, _Change] = {}
        flushed = calls.first_day  # the blocks ending before this day were written when done
        with engine.connect() as reading:
            rows = reading.execute(streamed(raised))
            while True:
                with cycle_collector_paused():  # a part's objects are freed by their counts
                    part = list(islice(rows, RECOUNT_PART))
                    if not part:
                        break
                    reached = local_day(part[-1][1])  # no later call arrives before this day
                    done = self._carried(engine, [call_id for call_id, _ in part], carried, reached)
                    written = list(_written(engine, calls.owned(done, left), flushed))
                yield from written
                flushed = reached
        yield from _written(engine, calls.owned(carried, left), flushed)

    def _carried(
        self, engine: Engine, call_ids: list[str], carried: dict[SlaKey, _Change], reached: date
    ) -> dict[SlaKey, _Change]:
        """The obligations of one part's calls added to the changes ``carried``; those of the
        blocks ending before ``reached`` are taken out of it, done."""
        with engine.connect() as conn:  # anew: it sees the parts written before
            fine: dict[FineKey, _Change] = defaultdict(_Change)
            for obligations in self.before(conn, call_ids).values():
                for o in obligations:
                    fine[_fine_key(o)].replace(None, o)
        for key, changes in self._spread_out(fine).items():
            into = carried.get(key) or carried.setdefault(key, _Change())
            for change in changes:
                into.absorb(change)
        done = {k: c for k, c in carried.items() if _block_end(k) < reached}
        for key in done:
            del carried[key]
        return done

    def add_left(self, engine: Engine, left: Mapping[SlaKey, _Change]) -> Iterator[Rewrite]:
        """What slices of the calls left for blocks they do not own, added to the stored rows
        (written by their owners)."""
        yield from _written(engine, left, date.max)

    def _spread_out(self, fine: Mapping[FineKey, _Change]) -> dict[SlaKey, list[_Change]]:
        """Each change counts in every scope holding its unit, in its day, week and month: the
        changes of a scope's day are combined first, and its week and month take the days'."""
        days: dict[tuple[str, str, date], list[_Change]] = defaultdict(list)
        for (level, unit, grid, day), change in fine.items():
            for scope in self.scopes.of(level, unit, grid):
                days[(level, scope, day)].append(change)
        changes: dict[SlaKey, list[_Change]] = defaultdict(list)
        for (level, scope, day), parts in days.items():
            whole = _combined(parts)
            for block, start in blocks_of(day):
                changes[(level, scope, block.value, start)].append(whole)
        return changes


@dataclass(frozen=True)
class Slice:
    """The calls raised from ``since`` until before ``until`` (None: without end), and the blocks
    they own: those ending from the day of ``since`` until before the day of ``until``. A block
    is so owned by one slice of any cut of the calls, and no later slice reaches it — their
    obligations arrive on the day of their ``since`` or after."""

    since: datetime | None = None
    until: datetime | None = None

    @property
    def first_day(self) -> date:
        return local_day(self.since) if self.since is not None else date.min

    def owned(self, changes: Mapping[SlaKey, _Change], left: dict[SlaKey, _Change]) -> dict[SlaKey, _Change]:
        """Of ``changes``, those of blocks the slice owns; the others are added to ``left``."""
        first, last = self.first_day, local_day(self.until) if self.until is not None else date.max
        mine = {}
        for key, change in changes.items():
            if first <= _block_end(key) < last:
                mine[key] = change
            else:
                into = left.get(key) or left.setdefault(key, _Change())
                into.absorb(change)
        return mine


def merged(lefts: Iterable[Mapping[SlaKey, _Change]]) -> dict[SlaKey, _Change]:
    """Several slices' changes left for others, added up."""
    whole: dict[SlaKey, _Change] = {}
    for left in lefts:
        for key, change in left.items():
            into = whole.get(key) or whole.setdefault(key, _Change())
            into.absorb(change)
    return whole


def _combined(parts: list[_Change]) -> _Change:
    if len(parts) == 1:
        return parts[0]
    whole = _Change()
    for part in parts:
        whole.absorb(part)
    return whole


def _written(engine: Engine, done: Mapping[SlaKey, _Change], flushed: date) -> Iterator[Rewrite]:
    """The SLA tally rows of blocks a recount is done with: written as they are — or, for a
    block ending before ``flushed`` (it may have been written already: a change that came after
    it was done), read and changed."""
    fresh = [row for k, c in done.items() if _block_end(k) >= flushed and (row := _sla_row(k, None, [c]))]
    again = {k: [c] for k, c in done.items() if _block_end(k) < flushed}
    if fresh:
        yield Rewrite(rm_sla_tallies, [], fresh)
    if again:
        with engine.connect() as conn:
            rewrite = rewrite_of(conn, rm_sla_tallies, again, _sla_row)
        yield rewrite


def _block_end(key: SlaKey) -> date:
    """The last day of a tally row's block."""
    _, _, block, start = key
    return period_of(start, Granularity(block))[2]


def _grid(stints: Mapping[str, list[Row]], orders: Mapping[str, list[Row]], call_id: str) -> str:
    for r in (*stints.get(call_id, []), *orders.get(call_id, [])):
        return str(r["grid_code"])
    return ""


def _fine_key(o: Obligation) -> FineKey:
    return (o.level.value, o.unit, o.grid_code, local_day(o.arrived_at))


# Each spread's columns: its count, percentiles, digest and the spread itself; and a getter of them.
_SPREAD_COLUMNS = tuple(
    (kind, columns, itemgetter(*columns))
    for kind, columns in (
        (k, tuple(f"{k}_{part}" for part in ("n", "p50", "p90", "digest", "spread"))) for k in SPREADS
    )
)
_STORED_COUNTS = itemgetter(*SLA_COUNTS)


def _sla_row(key: SlaKey, stored: Row | None, changes: list[_Change]) -> Row | None:
    level, scope, block, start = key
    change = _combined(changes)
    counts = map(add, _STORED_COUNTS(stored), change.counts) if stored else change.counts
    row: Row = {
        "level": level,
        "scope": scope,
        "block": block,
        "start": start,
        **dict(zip(SLA_COUNTS, counts, strict=True)),
    }
    if not row["received"]:
        return None
    for i, (kind, columns, of_spread) in enumerate(_SPREAD_COLUMNS):
        if not change.added[i] and not change.taken[i]:  # its times did not change
            if stored:
                row.update(zip(columns, of_spread(stored), strict=True))
            else:
                row.update(zip(columns, (0, None, None, None, None), strict=True))
            if row[columns[3]] is None:  # left without one by an older release (0020d)
                row[columns[3]] = spread.digest(row[columns[4]])
            continue
        blob = _respread(stored[columns[4]] if stored else None, change.added[i], change.taken[i], key, kind)
        figures = spread.summary([spread.decode(blob)]).values()
        row |= dict(zip(columns, (*figures, spread.digest(blob), blob), strict=True))
    return row


def _respread(
    blob: bytes | None, added: dict[int, tuple[int, float]], taken: dict[int, int], key: SlaKey, kind: str
) -> bytes | None:
    if blob is None and not taken:
        return spread.encode(added)
    counts = spread.decode(blob).counts()
    for b, (n, top) in added.items():
        had, high = counts.get(b, (0, top))
        counts[b] = (had + n, max(high, top))
    for b, n in taken.items():
        # Times are never taken back while events only add to a call: each is fixed once it
        # happened. Should that change, the count stays exact and the bin's largest time an
        # upper bound (rebuild to tighten it).
        log.warning("a %s time left the tally %s (bin %d)", kind, key, b)
        had, high = counts.get(b, (0, 0.0))
        counts[b] = (had - n, high)
    return spread.encode(counts)


# --- 一呼一评 tallies -----------------------------------------------------------------------------

EvaluationKey = tuple[str, date, date]  # unit, month, later month
_ATTRIBUTED = ("reached_community", "street_code", "lead_department")
_COUNT_INDEX = {name: i for i, name in enumerate(EVALUATION_COUNTS)}


def _month(instant: Any) -> date:
    return local_day(instant).replace(day=1)


def evaluation_counts(
    evaluations: Iterable[Fields], supervisions: Iterable[Fields]
) -> dict[EvaluationKey, list[int]]:
    """What one call's evaluated rounds and 督办 add to the units' months (docs/metrics.md §4)."""
    found: dict[EvaluationKey, list[int]] = defaultdict(lambda: [0] * len(EVALUATION_COUNTS))

    def add(key: EvaluationKey, name: str) -> None:
        found[key][_COUNT_INDEX[name]] += 1

    contacted_by: dict[str, list[Fields]] = defaultdict(list)
    for r in sorted(evaluations, key=lambda r: r["round"]):
        month = _month(r["at"])
        for unit in dict.fromkeys(r[a] for a in _ATTRIBUTED if r[a] is not None):
            key = (unit, month, month)
            add(key, "evaluated_rounds")
            if r["reopened"]:
                add(key, "reopened_rounds")
            if not r["contacted"]:
                add(key, "not_contacted")
                continue
            add(key, "contacted")
            if r["solved"]:
                add(key, "solved")
            if r["satisfaction"] in ("satisfied", "basically_satisfied", "dissatisfied"):
                add(key, r["satisfaction"])
            contacted_by[unit].append(r)
    for unit, rounds in contacted_by.items():
        for earlier, later in pairwise(rounds):
            add((unit, _month(earlier["at"]), _month(later["at"])), "repeats")
    for s in supervisions:
        month = _month(s["at"])
        add((s["unit"], month, month), "supervised")
    return found


class EvaluationTallies:
    tables: tuple[Table, ...] = (rm_evaluation_tallies,)

    def before(self, conn: Connection, call_ids: Sequence[str]) -> dict[str, dict[EvaluationKey, list[int]]]:
        evaluations = by_call(rows_of_calls(conn, rm_evaluations, call_ids))
        supervisions = by_call(rows_of_calls(conn, rm_supervisions, call_ids))
        return {
            call_id: evaluation_counts(evaluations.get(call_id, []), supervisions.get(call_id, []))
            for call_id in {*evaluations, *supervisions}
        }

    def after(
        self,
        conn: Connection,
        before: dict[str, dict[EvaluationKey, list[int]]],
        rows: Rows,
        known: KnownRows | None = None,
    ) -> Rewrite:
        evaluations = by_call(rows.get(rm_evaluations.name, []))
        supervisions = by_call(rows.get(rm_supervisions.name, []))
        changes: dict[EvaluationKey, list[int]] = defaultdict(lambda: [0] * len(EVALUATION_COUNTS))
        for call_id in {*before, *evaluations, *supervisions}:
            new = evaluation_counts(evaluations.get(call_id, []), supervisions.get(call_id, []))
            for sign, counted in ((-1, before.get(call_id, {})), (+1, new)):
                for key, counts in counted.items():
                    change = changes[key]
                    for i, c in enumerate(counts):
                        change[i] += sign * c
        moved = {k: c for k, c in changes.items() if any(c)}
        return rewrite_of(conn, rm_evaluation_tallies, moved, _evaluation_row, known=known)

    def recount(self, engine: Engine) -> Iterator[Rewrite]:
        """Every tally afresh from every call's stored rows, in one rewrite (a unit's months)."""
        totals: dict[EvaluationKey, list[int]] = defaultdict(lambda: [0] * len(EVALUATION_COUNTS))
        with engine.connect() as conn:
            evaluations = conn.execute(
                streamed(select(rm_evaluations).order_by(rm_evaluations.c.call_id))
            ).mappings()
            supervisions = conn.execute(streamed(select(rm_supervisions))).mappings()
            counted = chain(
                (
                    evaluation_counts(list(rows), [])
                    for _, rows in groupby(evaluations, key=itemgetter("call_id"))
                ),
                (evaluation_counts([], [r]) for r in supervisions),
            )
            for counts_of_call in counted:
                for key, counts in counts_of_call.items():
                    totals[key] = [t + c for t, c in zip(totals[key], counts, strict=True)]
            rewrite = rewrite_of(conn, rm_evaluation_tallies, totals, _evaluation_row, afresh=True)
        yield rewrite


def _evaluation_row(key: EvaluationKey, stored: Row | None, change: list[int]) -> Row | None:
    unit, month, later = key
    counts = {
        name: (stored[name] if stored else 0) + d for name, d in zip(EVALUATION_COUNTS, change, strict=True)
    }
    return {"unit": unit, "month": month, "later_month": later, **counts} if any(counts.values()) else None
