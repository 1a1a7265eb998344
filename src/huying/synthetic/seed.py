"""``huying seed --synthetic N``: write a synthetic district history into a store, then bring
the read models and the hash chain up to it in bulk.

The followers (projector, chain keeper) stay off while the history is written: the history is
the events alone, and nothing the commands ask reads a read model. Following close behind, as
they would behind a server, cost more than the writing itself (a batch's work over again every
few thousand events, and each process waiting for the other's transactions); catching up once,
in batches of ``BATCH``, over the finished log gives the same rows (the rebuild is the same
projection) at several times the speed. The projector runs here; the chain keeper here after it,
or — ``apart`` — at the same time in another process (``huying chain --once``), on the other core.

A store is synthetic up to the log position recorded under ``synthetic-history`` in
``projection_tracking``; the seeder refuses a store holding events beyond that (real use) unless
forced, and never writes a history that would begin before the last event stored: business
time only moves forward.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from huying.bootstrap import Services
from huying.clock import FakeClock
from huying.projections import tracking
from huying.synthetic.history import History, Stats

MARK = "synthetic-history"
BATCH = 20_000  # notifications per projector and chain transaction while seeding


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
    chain_apart: Callable[[], AbstractContextManager[object]] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Writes the history, then brings the read models and the hash chain up to it.
    ``chain_apart``: a context in which another process chains the log (the chain keeper here
    then chains only what it left)."""
    check_store(services, plan, force)
    started = time.perf_counter()

    def progress(stats: Stats, writing: float | None = None) -> Progress:
        projected, chained = services.projector.tracked_position(), services.chain.tracked_position()
        return Progress(stats, time.perf_counter() - started, projected, chained, writing)

    def written(stats: Stats) -> None:
        if on_progress is not None:
            on_progress(Progress(stats, time.perf_counter() - started, 0, 0))

    history = History(services, clock, calls=plan.calls, seed=plan.seed, first=plan.first, until=plan.until)
    clock.set(plan.first)
    stats = history.run(on_progress=written)
    writing = time.perf_counter() - started
    followed = _follow(
        services, chain_apart, lambda: on_progress(progress(stats, writing)) if on_progress else None
    )
    clock.set(plan.until)
    _mark_synthetic(services)
    return replace(progress(stats, writing), seconds=writing + followed)


def _follow(
    services: Services,
    chain_apart: Callable[[], AbstractContextManager[object]] | None,
    report: Callable[[], None],
) -> float:
    """The read models and the chain brought up to the log's end in batches of ``BATCH``:
    seconds it took."""
    started = time.perf_counter()
    projector, chain = services.projector, services.chain
    projector.batch_size = chain.batch_size = BATCH
    with services.engine.begin() as conn:
        # The tallies are counted once, from the rows, at the end: changed batch by batch they
        # would cost the projector more than all its other rows.
        projector.tallies.fall_behind(conn)
    with chain_apart() if chain_apart is not None else nullcontext():
        projector.catch_up(on_batch=lambda _: report())
    chain.catch_up(on_batch=lambda _: report())  # all of it, or what the other process left
    return time.perf_counter() - started


def _mark_synthetic(services: Services) -> None:
    head = services.app.recorder.max_notification_id() or 0
    with services.engine.begin() as conn:
        tracking.move(conn, MARK, tracking.tracked(conn, MARK), head)
