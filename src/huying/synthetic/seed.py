"""``huying seed --synthetic N``: write a synthetic district history into a store, then bring
the read models and the hash chain up to it in bulk (on PostgreSQL, then ``VACUUM (ANALYZE)``, as after
any bulk load: ``postgres.tidy_after_bulk_load``).

The followers (projector, chain keeper) stay off in this process while it writes the history:
the history is the events alone, and nothing the commands ask reads a read model. Following
close behind, as they would behind a server, cost more than the writing itself (a batch's work
over again every few thousand events); following in large batches (``PROJECTOR_BATCH`` for the
read models, ``BATCH`` for the chain) gives the same rows (the rebuild is the same projection) at
several times the speed. With ``apart``, a second
process (``huying.synthetic.follower``, on the other core) does that while the history is
written, and at the end projects the rest while this one chains it; without, this process
projects and chains after the writing.

A store is synthetic up to the log position recorded under ``synthetic-history`` in
``projection_tracking``; the seeder refuses a store holding events beyond that (real use) unless
forced, and never writes a history that would begin before the last event stored: business
time only moves forward.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.projections import tracking
from huying.synthetic.follower import BATCH, PROJECTOR_BATCH
from huying.synthetic.history import History, Stats

MARK = "synthetic-history"


class StoreNotSynthetic(Exception):
    """The store already holds data the seeder must not write beside (without being told)."""


@dataclass(frozen=True)
class Plan:
    calls: int
    seed: int
    until: datetime
    days: int

    @property
    def first(self) -> datetime:
        return self.until - timedelta(days=self.days)


@dataclass(frozen=True)
class Progress:
    stats: Stats
    seconds: float  # since the seeder began
    projected: int
    chained: int
    writing: float | None = None  # seconds the history's writing took, once it is written

    @property
    def following(self) -> float:
        """Seconds spent bringing the read models and the chain up, after the writing."""
        return self.seconds - self.writing if self.writing is not None else 0.0


def check_store(services: Services, plan: Plan, force: bool) -> None:
    """Refuse real data (unless ``force``), and any history that would go back in time."""
    app = services.app
    head = app.recorder.max_notification_id() or 0
    if head == 0:
        return
    with services.engine.connect() as conn:
        synthetic = tracking.tracked(conn, MARK)
    if head > synthetic and not force:
        raise StoreNotSynthetic(
            f"the store holds {head - synthetic:,} events not written by `huying seed --synthetic`; "
            "seed an empty store, or pass --force to add a synthetic history beside them"
        )
    [last] = app.recorder.select_notifications(start=head, limit=1)
    latest = getattr(app.mapper.to_domain_event(last), "at", None)
    if latest is not None and latest >= plan.first:
        raise StoreNotSynthetic(
            f"the store's last event is at {latest.isoformat()}; a history from {plan.first.isoformat()} "
            "would go back in business time: choose a later --until or fewer --days"
        )


def seed_synthetic(
    services: Services,
    clock: FakeClock,
    plan: Plan,
    *,
    force: bool = False,
    apart: Callable[[], AbstractContextManager[Callable[[], None]]] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    tidy: bool = True,
) -> Progress:
    """Writes the history and brings the read models and the hash chain up to it. ``apart``:
    a context in which another process follows the log (``huying.synthetic.follower``); what
    it yields, called once the history is written, returns when that process has stopped
    chaining; the context ends when it has stopped projecting. What it left, this process does.
    ``tidy``: on PostgreSQL, end with ``VACUUM (ANALYZE)`` (``postgres.tidy_after_bulk_load``)."""
    check_store(services, plan, force)
    started = time.perf_counter()
    with services.engine.begin() as conn:
        # The tallies are counted once, from the rows, at the end: changed batch by batch they
        # would cost the projector more than all its other rows.
        services.projector.tallies.fall_behind(conn)

    def progress(stats: Stats, writing: float | None = None) -> Progress:
        projected, chained = services.projector.tracked_position(), services.chain.tracked_position()
        return Progress(stats, time.perf_counter() - started, projected, chained, writing)

    def written(stats: Stats) -> None:
        if on_progress is not None:
            on_progress(progress(stats))

    history = History(services, clock, calls=plan.calls, seed=plan.seed, first=plan.first, until=plan.until)
    clock.set(plan.first)
    with apart() if apart is not None else nullcontext(lambda: None) as written_all:
        stats = history.run(on_progress=written)
        writing = time.perf_counter() - started

        def report() -> None:
            if on_progress is not None:
                on_progress(progress(stats, writing))

        written_all()  # the other process no longer chains: the rest of the chain is ours
        services.chain.batch_size = BATCH
        services.chain.catch_up(on_batch=lambda _: report())
    _follow(services, report)
    if tidy and services.settings.on_postgres:
        from huying.postgres import tidy_after_bulk_load

        tidy_after_bulk_load(services.settings)
    clock.set(plan.until)
    _mark_synthetic(services)
    return progress(stats, writing)


def _follow(services: Services, report: Callable[[], None]) -> None:
    """The read models brought up to the log's end in batches of ``PROJECTOR_BATCH`` (all of
    them, or what the other process left), then the chain (what is left of it) in batches of
    ``BATCH``."""
    services.projector.batch_size, services.chain.batch_size = PROJECTOR_BATCH, BATCH
    services.projector.catch_up(on_batch=lambda _: report())
    services.chain.catch_up(on_batch=lambda _: report())


def _mark_synthetic(services: Services) -> None:
    head = services.app.recorder.max_notification_id() or 0
    with services.engine.begin() as conn:
        tracking.move(conn, MARK, tracking.tracked(conn, MARK), head)
