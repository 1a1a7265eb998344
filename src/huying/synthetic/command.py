"""The command line of ``huying seed --synthetic N``: settings, clocks, the process that follows
the writes (``huying project``, on the other core), progress, the summary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime

import typer

from huying.settings import Settings
from huying.synthetic.seed import BATCH, Plan, Progress, StoreNotSynthetic, seed_synthetic

LOCK_WAIT = 600  # seconds (SQLite's busy timeout) for the seeder and its follower
# Calls the follower's projector keeps cached: more than a district of a million calls has in
# play at once (~15,000), or each of their events reloads them from the log.
IN_PLAY = 50_000


def run(calls: int, seed: int, until: datetime | None, days: int, force: bool, apart: bool) -> None:
    from huying.bootstrap import build_services, make_clock
    from huying.clock import FakeClock
    from huying.migrate import upgrade

    # The seeder and the process following it share the database: each may wait for the other's
    # large transactions rather than give up after the default few seconds.
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
        with _follower() if apart else nullcontext():
            done = seed_synthetic(
                services, clock, plan, force=force, followed_apart=apart, on_progress=_report
            )
    except StoreNotSynthetic as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    if isinstance(served, FakeClock):
        served.set(plan.until)  # a demo server's business time goes on from the history's end
    typer.echo(_summary(done), err=True)


@contextmanager
def _follower() -> Iterator[None]:
    """``huying project`` on the same store: the read models and the hash chain follow the writes
    in another process, as beside a server, in large batches."""
    env = os.environ | {
        "HUYING_PROJECTOR_BATCH_SIZE": str(BATCH),
        "HUYING_AUDIT_BATCH_SIZE": str(BATCH),
        "HUYING_DATABASE_LOCK_TIMEOUT": str(LOCK_WAIT),
        "HUYING_PROJECTOR_CACHE_SIZE": str(IN_PLAY),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "huying.cli", "project"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _report(p: Progress) -> None:
    s = p.stats
    rate = s.events / p.seconds if p.seconds else 0.0
    when = s.business_time.date().isoformat() if s.business_time else "-"
    print(
        f"\r  {s.calls:,} calls, {s.events:,} events (up to {when}); projected to {p.projected:,}, "
        f"chained to {p.chained:,} — {p.seconds:,.0f} s, {rate:,.0f} events/s   ",
        end="",
        file=sys.stderr,
        flush=True,
    )


def _summary(p: Progress) -> str:
    s = p.stats
    refused = sum(s.refused.values())
    return (
        f"\nwrote {s.calls:,} calls, {s.events:,} events in {p.seconds:,.1f} s "
        f"({s.events / max(p.seconds, 1e-9):,.0f} events/s); {s.open_at_end:,} still open at the end; "
        f"watchdog moves {dict(s.watchdog)}; refused steps {refused:,}"
    )
