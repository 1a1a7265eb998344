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
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any, Protocol

from sqlalchemy import Connection, Table, delete, select, tuple_

from huying.domain.levels import Level
from huying.domain.org import Org, UnitKind
from huying.projections import spread
from huying.projections.obligations import Arrival, Obligation, of_call
from huying.projections.periods import blocks_of, local_day
from huying.projections.rows import Row
from huying.projections.tables import (
    EVALUATION_COUNTS,
    SLA_COUNTS,
    SPREADS,
    rm_calls,
    rm_evaluation_tallies,
    rm_evaluations,
    rm_sla_tallies,
    rm_stints,
    rm_supervisions,
    rm_work_orders,
)
from huying.projections.writer import RowWriter

log = logging.getLogger(__name__)
Rows = Mapping[str, Sequence[Row]]  # table name → the rows the batch stores


class Tally(Protocol):
    """What sums the rows of many calls: told which calls a batch replaces, before and after."""

    tables: tuple[Table, ...]

    def before(self, conn: Connection, call_ids: Sequence[str]) -> Any:
        """What the stored rows of these calls counted (read before the runner replaces them)."""
        ...

    def after(self, conn: Connection, before: Any, rows: Rows, writer: RowWriter) -> None:
        """Change the tallies by what the batch's rows count instead."""
        ...


def tallies(org: Org) -> list[Tally]:
    return [SlaTallies(org), EvaluationTallies()]


def _chunks(items: Sequence[Any], size: int = 400) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _stored(conn: Connection, table: Table, call_ids: Sequence[str], *extra: Any) -> list[Row]:
    found: list[Row] = []
    for chunk in _chunks(call_ids):
        query = select(table, *extra).where(table.c.call_id.in_(chunk))
        if extra:
            query = query.join_from(table, rm_calls, rm_calls.c.call_id == table.c.call_id)
        found += [dict(r) for r in conn.execute(query).mappings()]
    return found


def _by_call(rows: Iterable[Row]) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        found[r["call_id"]].append(r)
    return found


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

    def replace(self, was: Obligation | None, now: Obligation | None) -> None:
        """One obligation as it was (None: new) and as it is (None: gone)."""
        for sign, o in ((-1, was), (+1, now)):
            if o is not None:
                for i, c in enumerate(counts_of(o)):
                    self.counts[i] += sign * c
        before = times_of(was) if was is not None else (None, None)
        after = times_of(now) if now is not None else (None, None)
        for kind, (old, new) in enumerate(zip(before, after, strict=True)):
            if old == new:
                continue
            if old is not None:
                b = spread.bin_of(old)
                self.taken[kind][b] = self.taken[kind].get(b, 0) + 1
            if new is not None:
                b = spread.bin_of(new)
                n, top = self.added[kind].get(b, (0, new))
                self.added[kind][b] = (n + 1, max(top, new))

    def merge(self, other: _Change) -> None:
        for i, c in enumerate(other.counts):
            self.counts[i] += c
        for mine, theirs in zip(self.added, other.added, strict=True):
            for b, (n, top) in theirs.items():
                had, high = mine.get(b, (0, top))
                mine[b] = (had + n, max(high, top))
        for mine_taken, theirs_taken in zip(self.taken, other.taken, strict=True):
            for b, n in theirs_taken.items():
                mine_taken[b] = mine_taken.get(b, 0) + n


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


class SlaTallies:
    tables: tuple[Table, ...] = (rm_sla_tallies,)

    def __init__(self, org: Org) -> None:
        self.scopes = Scopes(org)

    def before(self, conn: Connection, call_ids: Sequence[str]) -> dict[str, list[Obligation]]:
        grid = rm_calls.c.grid_code
        stints = _by_call(_stored(conn, rm_stints, call_ids, grid))
        orders = _by_call(_stored(conn, rm_work_orders, call_ids, grid))
        return {
            call_id: of_call(stints.get(call_id, []), orders.get(call_id, []), _grid(stints, orders, call_id))
            for call_id in {*stints, *orders}
        }

    def after(
        self, conn: Connection, before: dict[str, list[Obligation]], rows: Rows, writer: RowWriter
    ) -> None:
        grids = {r["call_id"]: r["grid_code"] for r in rows.get(rm_calls.name, [])}
        stints, orders = _by_call(rows.get(rm_stints.name, [])), _by_call(rows.get(rm_work_orders.name, []))
        fine: dict[tuple[str, str, str, date], _Change] = defaultdict(_Change)
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
        changes: dict[SlaKey, _Change] = defaultdict(_Change)
        for (level, unit, grid, day), change in fine.items():
            for scope in self.scopes.of(level, unit, grid):
                for block, start in blocks_of(day):
                    changes[(level, scope, block.value, start)].merge(change)
        _rewrite(conn, rm_sla_tallies, changes, _sla_row, writer)


def _grid(stints: Mapping[str, list[Row]], orders: Mapping[str, list[Row]], call_id: str) -> str:
    for r in (*stints.get(call_id, []), *orders.get(call_id, [])):
        return str(r["grid_code"])
    return ""


def _fine_key(o: Obligation) -> tuple[str, str, str, date]:
    return (o.level.value, o.unit, o.grid_code, local_day(o.arrived_at))


def _sla_row(key: SlaKey, stored: Row | None, change: _Change) -> Row | None:
    level, scope, block, start = key
    row: Row = {"level": level, "scope": scope, "block": block, "start": start}
    for name, delta in zip(SLA_COUNTS, change.counts, strict=True):
        row[name] = (stored[name] if stored else 0) + delta
    for kind, added, taken in zip(SPREADS, change.added, change.taken, strict=True):
        counts = spread.decode(stored[f"{kind}_spread"] if stored else None).counts()
        for b, (n, top) in added.items():
            had, high = counts.get(b, (0, top))
            counts[b] = (had + n, max(high, top))
        for b, n in taken.items():
            # Times are never taken back while events only add to a call: each is fixed once
            # it happened. Should that change, the count stays exact and the bin's largest time
            # an upper bound (rebuild to tighten it).
            log.warning("a %s time left the tally %s (bin %d)", kind, key, b)
            had, high = counts.get(b, (0, 0.0))
            counts[b] = (had - n, high)
        blob = spread.encode(counts)
        figures = spread.summary([spread.decode(blob)])
        row |= {f"{kind}_spread": blob, **{f"{kind}_{k}": v for k, v in figures.items()}}
    return row if row["received"] else None


# --- 一呼一评 tallies -----------------------------------------------------------------------------

EvaluationKey = tuple[str, date, date]  # unit, month, later month
_ATTRIBUTED = ("reached_community", "street_code", "lead_department")
_COUNT_INDEX = {name: i for i, name in enumerate(EVALUATION_COUNTS)}


def _month(instant: Any) -> date:
    return local_day(instant).replace(day=1)


def evaluation_counts(
    evaluations: Iterable[Row], supervisions: Iterable[Row]
) -> dict[EvaluationKey, list[int]]:
    """What one call's evaluated rounds and 督办 add to the units' months (docs/metrics.md §4)."""
    found: dict[EvaluationKey, list[int]] = defaultdict(lambda: [0] * len(EVALUATION_COUNTS))

    def add(key: EvaluationKey, name: str) -> None:
        found[key][_COUNT_INDEX[name]] += 1

    contacted_by: dict[str, list[Row]] = defaultdict(list)
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
        evaluations = _by_call(_stored(conn, rm_evaluations, call_ids))
        supervisions = _by_call(_stored(conn, rm_supervisions, call_ids))
        return {
            call_id: evaluation_counts(evaluations.get(call_id, []), supervisions.get(call_id, []))
            for call_id in {*evaluations, *supervisions}
        }

    def after(
        self,
        conn: Connection,
        before: dict[str, dict[EvaluationKey, list[int]]],
        rows: Rows,
        writer: RowWriter,
    ) -> None:
        evaluations = _by_call(rows.get(rm_evaluations.name, []))
        supervisions = _by_call(rows.get(rm_supervisions.name, []))
        changes: dict[EvaluationKey, list[int]] = defaultdict(lambda: [0] * len(EVALUATION_COUNTS))
        for call_id in {*before, *evaluations, *supervisions}:
            new = evaluation_counts(evaluations.get(call_id, []), supervisions.get(call_id, []))
            for sign, counted in ((-1, before.get(call_id, {})), (+1, new)):
                for key, counts in counted.items():
                    change = changes[key]
                    for i, c in enumerate(counts):
                        change[i] += sign * c
        moved = {k: c for k, c in changes.items() if any(c)}
        _rewrite(conn, rm_evaluation_tallies, moved, _evaluation_row, writer)


def _evaluation_row(key: EvaluationKey, stored: Row | None, change: list[int]) -> Row | None:
    unit, month, later = key
    counts = {
        name: (stored[name] if stored else 0) + d for name, d in zip(EVALUATION_COUNTS, change, strict=True)
    }
    return {"unit": unit, "month": month, "later_month": later, **counts} if any(counts.values()) else None


# --- changing stored tallies ----------------------------------------------------------------------


def _rewrite(
    conn: Connection,
    table: Table,
    changes: Mapping[Any, Any],
    changed: Callable[[Any, Row | None, Any], Row | None],
    writer: RowWriter,
) -> None:
    """Each changed row read, changed by ``changed`` (None: nothing left), and written back."""
    if not changes:
        return
    key = tuple_(*table.primary_key.columns)
    keys = list(changes)
    stored: dict[Any, Row] = {}
    for chunk in _chunks(keys):
        found = conn.execute(select(table).where(key.in_(chunk))).mappings().all()
        for r in found:
            stored[tuple(r[c.name] for c in table.primary_key.columns)] = dict(r)
        if found:
            conn.execute(delete(table).where(key.in_(chunk)))
    rewritten = [row for k in keys if (row := changed(k, stored.get(k), changes[k])) is not None]
    writer.insert(conn, table, rewritten)
