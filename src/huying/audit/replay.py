"""重放核验 — replay to verify: every dashboard figure follows from the events.

A fresh projector rebuilds every read model from the log into a scratch SQLite file (built by
the same migrations), up to exactly the position the live read models have reached; then each
read-model table is compared with the live one, row by row in primary-key order, both sides
streamed. The live side is read in one snapshot, so a projector running meanwhile does not
show up as a difference.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, String, Table, select

from huying.application import HuyingApplication
from huying.audit.vouch import Flaw
from huying.db import make_engine
from huying.migrate import upgrade
from huying.projections.runner import TRACKING_NAME, Projector
from huying.projections.tables import READ_MODEL_TABLES, projection_tracking
from huying.settings import Settings

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Difference:
    """One row that is not the same in the live and the replayed read models."""

    table: str
    key: dict[str, Any]
    live: dict[str, Any] | None  # None: the row is missing from the live read models
    replayed: dict[str, Any] | None  # None: the replay has no such row

    @property
    def columns(self) -> dict[str, tuple[Any, Any]]:
        """Column → (live, replayed) for the columns that differ."""
        if self.live is None or self.replayed is None:
            return {}
        return {k: (v, self.replayed[k]) for k, v in self.live.items() if v != self.replayed[k]}


@dataclass
class Comparison:
    position: int  # the log position both sides stand at
    rows: dict[str, int] = field(default_factory=dict)  # rows compared per table
    differing: dict[str, int] = field(default_factory=dict)  # differences per table
    shown: list[Difference] = field(default_factory=list)  # the first few of each table
    halted: Flaw | None = None  # the replay stopped at an event it cannot vouch for

    @property
    def same(self) -> bool:
        return self.halted is None and not any(self.differing.values())


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one moment of the database."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # pysqlite would not begin for reads; WAL keeps the snapshot
        else:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            yield conn
        finally:
            conn.rollback()


def _ordered(table: Table, conn: Connection) -> Iterator[dict[str, Any]]:
    keys = list(table.primary_key.columns)
    order: list[Any] = keys
    if conn.dialect.name == "postgresql":  # code-point order, as Python and SQLite compare
        order = [c.collate("C") if isinstance(c.type, String) else c for c in keys]
    result = conn.execution_options(yield_per=2000).execute(select(table).order_by(*order))
    for row in result:
        yield dict(row._mapping)


def compare_table(table: Table, live: Connection, replayed: Connection, into: Comparison, show: int) -> None:
    keys = [c.name for c in table.primary_key.columns]
    a, b = _ordered(table, live), _ordered(table, replayed)
    ra, rb = next(a, None), next(b, None)
    rows = differing = 0

    def note(key: Key, left: dict[str, Any] | None, right: dict[str, Any] | None) -> None:
        nonlocal differing
        differing += 1
        if differing <= show:
            into.shown.append(Difference(table.name, dict(zip(keys, key, strict=True)), left, right))

    while ra is not None or rb is not None:
        rows += 1
        ka = tuple(ra[k] for k in keys) if ra is not None else None
        kb = tuple(rb[k] for k in keys) if rb is not None else None
        if ka is not None and (kb is None or ka < kb):
            note(ka, ra, None)
            ra = next(a, None)
        elif kb is not None and (ka is None or kb < ka):
            note(kb, None, rb)
            rb = next(b, None)
        else:
            assert ka is not None
            if ra != rb:
                note(ka, ra, rb)
            ra, rb = next(a, None), next(b, None)
    into.rows[table.name] = rows
    into.differing[table.name] = differing


def _tracked(conn: Connection) -> int:
    stored = conn.execute(
        select(projection_tracking.c.position).where(projection_tracking.c.name == TRACKING_NAME)
    ).scalar()
    return int(stored or 0)


def replay_into(projector: Projector, upto: int, on_batch: Callable[[int], None] | None = None) -> int:
    """Project exactly the events up to position ``upto`` (never beyond)."""
    done = 0
    recorder = projector.app.recorder
    while (at := projector.tracked_position()) < upto:
        pending = recorder.select_notifications(
            start=at, limit=projector.batch_size, stop=upto, inclusive_of_start=False
        )
        if not pending:
            break
        n = projector.run_once(limit=len(pending))
        if n == 0:  # halted at an event it cannot vouch for (``projector.halted``)
            break
        done += n
        if on_batch is not None:
            on_batch(n)
    return done


def replay_and_compare(
    app: HuyingApplication,
    live: Engine,
    settings: Settings,
    *,
    batch_size: int = 5000,
    show: int = 20,
    scratch_dir: Path | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> Comparison:
    """Rebuild every read model into a scratch database and compare it with the live one."""
    with tempfile.TemporaryDirectory(prefix="huying-replay-", dir=scratch_dir) as d:
        scratch = settings.model_copy(
            update={"database_url": f"sqlite:///{Path(d) / 'replay.db'}", "database_schema": ""}
        )
        upgrade(scratch)
        engine = make_engine(scratch)
        try:
            projector = Projector(app, engine, batch_size=batch_size)
            # The bulk of the replay before the snapshot: a transaction left idle that long
            # would be ended by the server (idle_in_transaction_session_timeout).
            with live.connect() as conn:
                replay_into(projector, _tracked(conn), on_batch)
            with snapshot(live) as seen:
                position = _tracked(seen)
                replay_into(projector, position, on_batch)  # what the live side did meanwhile
                comparison = Comparison(position, halted=projector.halted)
                with engine.connect() as rebuilt:
                    for table in READ_MODEL_TABLES:
                        compare_table(table, seen, rebuilt, comparison, show)
        finally:
            engine.dispose()
    return comparison
