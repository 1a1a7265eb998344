"""``huying seed --synthetic N``: write a synthetic district history into a store, then bring
the read models and the hash chain up to it, as a server would have while the history happened.

A store is synthetic up to the log position recorded under ``synthetic-history`` in
``projection_tracking``; the seeder refuses a store holding events beyond that (real use) unless
forced, and never writes a history that would begin before the last event stored: business
time only moves forward.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
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
    seconds: float
    projected: int
    chained: int


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
    followed_apart: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Writes the history. The read models and the hash chain follow close behind the writes, as
    they would behind a server: here after every transaction, or — ``followed_apart`` — in
    another process (``huying project``) that the seeder waits for at the end."""
    check_store(services, plan, force)
    started = time.perf_counter()
    with services.engine.begin() as conn:
        # The tallies are counted once, from the rows, when the history is written: changed
        # batch by batch they would cost the projector more than the history's writing.
        services.projector.tallies.fall_behind(conn)
    services.projector.batch_size = BATCH
    services.chain.batch_size = BATCH

    def progress(stats: Stats) -> Progress:
        projected, chained = services.projector.tracked_position(), services.chain.tracked_position()
        return Progress(stats, time.perf_counter() - started, projected, chained)

    def follow(stats: Stats) -> None:
        if not followed_apart:
            services.projector.catch_up()
            services.chain.catch_up()
        if on_progress is not None:
            on_progress(progress(stats))

    history = History(services, clock, calls=plan.calls, seed=plan.seed, first=plan.first, until=plan.until)
    clock.set(plan.first)
    stats = history.run(on_progress=follow)
    if followed_apart:
        _wait_for_followers(services, lambda: on_progress(progress(stats)) if on_progress else None)
    services.projector.catch_up()  # whatever is left (all of it, if the other process died)
    services.chain.catch_up()
    clock.set(plan.until)
    _mark_synthetic(services)
    return progress(stats)


def _wait_for_followers(services: Services, report: Callable[[], None], patience: float = 600.0) -> None:
    """Until the other process has projected and chained the whole log, or seems to have stopped
    (no progress for ``patience`` seconds): then this process finishes the work itself."""
    head = services.app.recorder.max_notification_id() or 0
    seen, last_move = (-1, -1), time.monotonic()
    while min(now := (services.projector.tracked_position(), services.chain.tracked_position())) < head:
        if now != seen:
            seen, last_move = now, time.monotonic()
            report()
        elif time.monotonic() - last_move > patience:
            return
        time.sleep(0.5)


def _mark_synthetic(services: Services) -> None:
    head = services.app.recorder.max_notification_id() or 0
    with services.engine.begin() as conn:
        tracking.move(conn, MARK, tracking.tracked(conn, MARK), head)
