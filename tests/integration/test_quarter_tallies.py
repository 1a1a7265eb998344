"""The SLA tallies' quarters (issue 12): the projector keeps a row per quarter beside each day, week
and month, and the migration that brought them (0018q) fills a store's quarters from its months
exactly as the projector counts them — counts, spreads and the percentiles read from them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from backends import Backend
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.migrate import alembic_config, upgrade
from huying.projections.tables import SLA_COUNTS, rm_sla_tallies
from huying.synthetic.seed import Plan, seed_synthetic

UNTIL = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


@pytest.fixture
def district(backend: Backend, tmp_path: Path) -> Iterator[Services]:
    """120 synthetic calls over 200 days — parts of three quarters; no duties."""
    no_duties = dict.fromkeys(("run_projector", "run_chain", "run_watchdog", "run_webhooks"), False)
    settings = backend.settings(tmp_path, fake_clock=True, **no_duties)
    upgrade(settings)
    clock = FakeClock(start=UNTIL - timedelta(days=201))
    services = build_services(settings, clock)
    try:
        seed_synthetic(services, clock, Plan(calls=120, seed=11, until=UNTIL, days=200))
        yield services
    finally:
        services.close()


def tally_rows(services: Services, block: str) -> list[tuple[Any, ...]]:
    t = rm_sla_tallies
    with services.engine.connect() as conn:
        query = select(t).where(t.c.block == block).order_by(*t.primary_key.columns)
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in conn.execute(query)]


def test_the_migration_fills_the_quarters_as_the_projector_counts_them(district: Services) -> None:
    counted = tally_rows(district, "quarter")
    assert {r[3].month for r in counted} >= {4, 7, 10}, "the history reaches into three quarters"
    assert any(r[-1] is not None for r in counted), "some quarters have a spread of times"
    config = alembic_config(district.settings)
    command.downgrade(config, "0017t")
    assert tally_rows(district, "quarter") == []
    command.upgrade(config, "head")
    assert tally_rows(district, "quarter") == counted


def test_a_quarters_counts_are_its_three_months(district: Services) -> None:
    t = rm_sla_tallies
    with district.engine.connect() as conn:
        rows = conn.execute(select(t.c.level, t.c.scope, t.c.block, t.c.start, *(t.c[n] for n in SLA_COUNTS)))
        by_block = [(block, (level, scope, start), counts) for level, scope, block, start, *counts in rows]
    summed: dict[tuple[Any, ...], list[int]] = {}
    for block, (level, scope, start), counts in by_block:
        if block == "month":
            key = (level, scope, start.replace(month=3 * ((start.month - 1) // 3) + 1))
            summed[key] = [a + b for a, b in zip(summed.get(key, [0] * len(counts)), counts, strict=True)]
    quarters = {key: list(counts) for block, key, counts in by_block if block == "quarter"}
    assert quarters == summed and len(quarters) > 10
