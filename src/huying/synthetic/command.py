"""The command line of ``huying seed --synthetic N``: settings, clocks, the process that follows
the log while this one writes it (``huying.synthetic.follower``, on the other core), progress,
the summary."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

import typer

from huying.settings import Settings
from huying.synthetic.follower import another_process
from huying.synthetic.seed import Plan, Progress, StoreNotSynthetic, seed_synthetic

LOCK_WAIT = 600  # seconds (SQLite's busy timeout) for the seeder and its follower
# Calls the projector keeps cached: more than a district of a million calls has in play at once
# (~15,000), or each of their events reloads them from the log.
IN_PLAY = 50_000


def run(calls: int, seed: int, until: datetime | None, days: int, force: bool, apart: bool) -> None:
    from huying.bootstrap import build_services, make_clock
    from huying.clock import FakeClock
    from huying.migrate import upgrade

    # The seeder and the process following beside it share the database: each may wait for the
    # other's large transactions rather than give up after the default few seconds.
    settings = Settings().model_copy(
        update={"database_lock_timeout": LOCK_WAIT, "projector_cache_size": IN_PLAY}
    )
    upgrade(settings)
    served = make_clock(settings)
    end = (until or served.now()).astimezone(UTC).replace(second=0, microsecond=0)
    plan = Plan(calls=calls, seed=seed, until=end, days=days)
    clock = FakeClock(start=plan.first)  # the history's own business time
    services = build_services(settings, clock)
    typer.echo(
        f"seeding {calls:,} synthetic calls (seed {seed}) from {plan.first.isoformat()} "
        f"to {plan.until.isoformat()}",
        err=True,
    )
    try:
        done = seed_synthetic(
            services, clock, plan, force=force, apart=_follower if apart else None, on_progress=_report
        )
    except StoreNotSynthetic as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    if isinstance(served, FakeClock):
        served.set(plan.until)  # a demo server's business time goes on from the history's end
    typer.echo(_summary(done), err=True)


def _follower() -> AbstractContextManager[Callable[[], None]]:
    """The read models and the hash chain kept in another process while this one writes."""
    settings = {"HUYING_DATABASE_LOCK_TIMEOUT": str(LOCK_WAIT), "HUYING_PROJECTOR_CACHE_SIZE": str(IN_PLAY)}
    return another_process(os.environ | settings)


def _report(p: Progress) -> None:
    s = p.stats
    if p.writing is None:
        rate = s.events / p.seconds if p.seconds else 0.0
        when = s.business_time.date().isoformat() if s.business_time else "-"
        doing = (
            f"{s.calls:,} calls, {s.events:,} events (up to {when}) — {p.seconds:,.0f} s, {rate:,.0f}/s; "
            f"read models at {p.projected:,}"
        )
    else:
        doing = (
            f"read models at {p.projected:,}, chain at {p.chained:,} of {s.events:,} — {p.following:,.0f} s"
        )
    print(f"\r  {doing}   ", end="", file=sys.stderr, flush=True)


def _summary(p: Progress) -> str:
    s = p.stats
    refused = sum(s.refused.values())
    writing = p.writing or 0.0
    return (
        f"\nwrote {s.calls:,} calls, {s.events:,} events in {writing:,.1f} s "
        f"({s.events / max(writing, 1e-9):,.0f} events/s); read models and hash chain brought up to them "
        f"in {p.following:,.1f} s ({s.events / max(p.following, 1e-9):,.0f} events/s); "
        f"{p.seconds:,.1f} s in all; {s.open_at_end:,} still open at the end; "
        f"watchdog moves {dict(s.watchdog)}; refused steps {refused:,}"
    )
