"""台账 tallies — how many calls are on the ledger per unit, by status and by what awaits the
street, so that the ledger's summary reads a few rows instead of every call on the ledger (whose
number grows with the calls a district takes in).

A call on the ledger (``tables.LEDGER_STATUSES``) counts once in each unit it concerns
(``queries.scope.concerns_unit``): its street, community and grid, and each department with an
order on it. The district's counts are its streets' together: each call is in one street. Kept by
the projector batch by batch like the other tallies (``tallies.TallyKeeper``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, select

from huying.projections.rows import Row
from huying.projections.tables import LEDGER_STATUSES, ON_LEDGER, rm_calls, rm_ledger_tallies, rm_work_orders
from huying.projections.tally_rows import KnownRows, Rewrite, Rows, chunks, rewrite_of, streamed

LedgerKey = tuple[str, str, bool, bool, bool]  # scope, status, and the three flags
FLAGS = ("ready_to_resolve", "pending_extension", "returned_order")
_CALL = (rm_calls.c.call_id, rm_calls.c.status, *(rm_calls.c[f] for f in FLAGS))
_GEO = ("street_code", "community_code", "grid_code")
# Some calls' rows (bound as ``call_ids``), each with its orders' departments: read in every
# projector batch that touches calls raised before it, so built once.
_WITH_ORDERS = (
    select(*_CALL, *(rm_calls.c[g] for g in _GEO), rm_work_orders.c.department_code)
    .select_from(rm_calls.outerjoin(rm_work_orders, rm_work_orders.c.call_id == rm_calls.c.call_id))
    .where(rm_calls.c.call_id.in_(bindparam("call_ids", expanding=True)))
)


def keys_of(call: Mapping[Any, Any], departments: Iterable[str]) -> list[LedgerKey]:
    """Where one call counts: nowhere once it is off the ledger."""
    status = str(call["status"])
    if status not in LEDGER_STATUSES:
        return []
    flags = tuple(bool(call[f]) for f in FLAGS)
    scopes = dict.fromkeys((*(str(call[g]) for g in _GEO), *sorted(departments)))
    return [(scope, status, *flags) for scope in scopes]  # type: ignore[misc]


def _counted(calls: Iterable[Mapping[Any, Any]], departments: Mapping[str, set[str]]) -> Counter[LedgerKey]:
    found: Counter[LedgerKey] = Counter()
    for call in calls:
        found.update(keys_of(call, departments.get(str(call["call_id"]), set())))
    return found


def _departments(orders: Iterable[Mapping[Any, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for o in orders:
        found[str(o["call_id"])].add(str(o["department_code"]))
    return found


class LedgerTallies:
    tables: tuple[Table, ...] = (rm_ledger_tallies,)

    def before(self, conn: Connection, call_ids: Sequence[str]) -> Counter[LedgerKey]:
        """What these calls' stored rows count: one statement, a row per call and order, found by
        the calls' ids (with the ledger's statuses in it too, SQLite would walk every call on the
        ledger by status instead)."""
        calls: dict[str, Row] = {}
        departments: dict[str, set[str]] = defaultdict(set)
        for chunk in chunks(call_ids):
            for r in conn.execute(_WITH_ORDERS, {"call_ids": list(chunk)}).mappings():
                calls[r["call_id"]] = dict(r)
                if r["department_code"] is not None:
                    departments[r["call_id"]].add(r["department_code"])
        return _counted(calls.values(), departments)

    def after(
        self, conn: Connection, before: Counter[LedgerKey], rows: Rows, known: KnownRows | None = None
    ) -> Rewrite:
        now = _counted(rows.get(rm_calls.name, []), _departments(rows.get(rm_work_orders.name, [])))
        changes = {k: n for k in {*before, *now} if (n := now[k] - before[k])}
        return rewrite_of(conn, rm_ledger_tallies, changes, _ledger_row, known=known)

    def recount(self, engine: Engine) -> Iterator[Rewrite]:
        """Every tally afresh from the calls on the ledger and their orders, in one rewrite."""
        o = rm_work_orders.c
        ordered = select(o.call_id, o.department_code).join_from(
            rm_work_orders, rm_calls, rm_calls.c.call_id == o.call_id
        )
        calls = select(*_CALL, *(rm_calls.c[g] for g in _GEO)).where(ON_LEDGER)
        with engine.connect() as conn:
            departments = _departments(conn.execute(streamed(ordered.where(ON_LEDGER))).mappings())
            totals = _counted(conn.execute(streamed(calls)).mappings(), departments)
            rewrite = rewrite_of(conn, rm_ledger_tallies, dict(totals), _ledger_row, afresh=True)
        yield rewrite


def _ledger_row(key: LedgerKey, stored: Row | None, change: int) -> Row | None:
    calls = (stored["calls"] if stored else 0) + change
    if not calls:
        return None
    scope, status, *flags = key
    return {"scope": scope, "status": status, **dict(zip(FLAGS, flags, strict=True)), "calls": calls}
