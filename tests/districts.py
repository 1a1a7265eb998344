"""Synthetic districts for the tests that read a realistic history (``huying seed --synthetic``'s,
written through the real commands), served with no duties running: the seeder catches the read
models up itself, and nothing else issues statements or moves the clock meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backends import Backend
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.migrate import upgrade
from huying.settings import Settings
from huying.synthetic.seed import Plan, seed_synthetic

UNTIL = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # Asia/Shanghai midnight, as the bench's district
NO_DUTIES = dict.fromkeys(("run_projector", "run_chain", "run_watchdog", "run_webhooks"), False)


def quiet_settings(backend: Backend, data_dir: Path) -> Settings:
    """A migrated store's settings, the settable clock, and no duties."""
    settings = backend.settings(data_dir, fake_clock=True, **NO_DUTIES)
    upgrade(settings)
    return settings


@contextmanager
def seeded(
    settings: Settings, calls: int, *, seed: int = 7, days: int = 60, tidy: bool = True
) -> Iterator[Services]:
    """``calls`` synthetic calls over the ``days`` days before ``UNTIL``; ``tidy``: PostgreSQL's
    statistics gathered at the end, as after any bulk load."""
    clock = FakeClock(start=UNTIL - timedelta(days=days + 1))
    services = build_services(settings, clock)
    try:
        seed_synthetic(services, clock, Plan(calls=calls, seed=seed, until=UNTIL, days=days), tidy=tidy)
        yield services
    finally:
        services.close()
