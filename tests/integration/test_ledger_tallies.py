"""The 台账 ledger's summary read from the ledger tallies (issue 12): what the ledger lists,
counted — for every kind of asker and the units it may and may not read — and what the
migration that made the tallies filled them with is what the projector counts. A department's
calls on the ledger, read from its own ledger (``rm_department_ledger``), are those the rule
over every order it had finds, and the migration that made it fills it as the projector does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, and_, func, select

from backends import Backend
from deployment_templates import no_ambient_settings
from districts import quiet_settings, seeded
from huying.bootstrap import Services
from huying.demo import demo_principals
from huying.domain.org import UnitKind
from huying.domain.principal import Principal
from huying.migrate import alembic_config
from huying.projections.tables import (
    LEDGER_STATUSES,
    ON_LEDGER,
    rm_calls,
    rm_department_ledger,
    rm_ledger_tallies,
)
from huying.projections.tallies import in_step
from huying.queries.scope import concerns_unit, visible_calls
from huying.queries.search import ATTENTION, CallFilter, Page, ledger, search_calls
from stored_rows import Rows, rows_of


@pytest.fixture
def own_district(backend: Backend, tmp_path: Path) -> Iterator[Services]:
    """150 synthetic calls over 60 days, the last of them still on the ledger; no duties. On the
    test's own deployment, for a test that writes to it."""
    with seeded(quiet_settings(backend, tmp_path), 150) as services:
        yield services


@pytest.fixture(scope="module")
def district(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The same district, seeded once per backend: the tests that share it only read it (no
    write, no clock moved), so none can change what another sees. Made before any test's
    autouse fixture hides HUYING_* from the environment, so it hides them itself."""
    with no_ambient_settings():
        settings = quiet_settings(backend, tmp_path_factory.mktemp("district"))
    with seeded(settings, 150) as services:
        yield services


def every_page(read: Callable[..., Page]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = read(after=after)
        rows, after = rows + page.rows, page.next
    return rows


def listed(conn: Connection, who: Principal, services: Services, unit: str) -> dict[str, Any]:
    """The summary of what the ledger's pages list, counted."""
    org, now = services.app.org, services.clock.now()
    rows = every_page(lambda after: ledger(conn, who, org, unit, CallFilter(), now, after, 500)[1])
    return {
        "unit": unit,
        "open": len(rows),
        "overdue": sum(bool(r["overdue"]) for r in rows),
        "by_status": dict(Counter(r["status"] for r in rows)),
        **{flag: sum(bool(r[flag]) for r in rows) for flag in ATTENTION},
    }


def test_the_summary_counts_what_the_ledger_lists(district: Services) -> None:
    org = district.app.org
    streets, departments = org.of_kind(UnitKind.STREET), org.of_kind(UnitKind.DEPARTMENT)
    some = [org.district.code, streets[0].code, org.children(streets[0].code)[0].code, departments[0].code]
    with district.engine.connect() as conn:
        assert in_step(conn) and conn.execute(select(rm_ledger_tallies)).first() is not None
        summaries = []
        for who in demo_principals(org):
            for unit in dict.fromkeys([who.unit, *some]):
                summary, _ = ledger(conn, who, org, unit, CallFilter(), district.clock.now(), 0, 1)
                assert summary == listed(conn, who, district, unit), (who, unit)
                summaries.append(summary)
    busiest = max(summaries, key=lambda s: s["open"])
    assert busiest["open"] > 10 and busiest["overdue"] > 0  # the comparison means something


def test_the_migration_fills_the_tallies_as_the_projector_counts_them(own_district: Services) -> None:
    def tallies() -> Rows:
        return rows_of(own_district.engine, [rm_ledger_tallies])

    counted = tallies()
    assert counted[rm_ledger_tallies.name]
    config = alembic_config(own_district.settings)
    command.downgrade(config, "0013d")
    command.upgrade(config, "head")
    assert tallies() == counted


def test_a_departments_calls_on_the_ledger_are_those_of_the_rule_over_its_orders(district: Services) -> None:
    """For every kind of asker, its ledger of each department, of the district and of its own
    unit, and its search among their open calls, page by page: the calls on the ledger it sees
    (over every order, ``visible_calls``) that concern the unit (``concerns_unit``)."""
    org, now = district.app.org, district.clock.now()
    departments = [d.code for d in org.of_kind(UnitKind.DEPARTMENT)]
    found = 0
    with district.engine.connect() as conn:
        for who in demo_principals(org):
            for unit in dict.fromkeys([who.unit, org.district.code, *departments]):
                rule = and_(visible_calls(who, org), concerns_unit(unit, org), ON_LEDGER)
                expected = list(conn.scalars(select(rm_calls.c.seq).where(rule).order_by(rm_calls.c.seq)))
                on_ledger = partial(ledger, conn, who, org, unit, CallFilter(), now)
                listed = every_page(lambda after, read=on_ledger: read(after, 3)[1])
                assert [r["seq"] for r in listed] == expected, (who, unit)
                asked = CallFilter(unit=unit, statuses=LEDGER_STATUSES)
                assert asked.on_ledger_only
                searched = every_page(partial(search_calls, conn, who, org, asked, now, limit=3))
                assert searched == listed, (who, unit)
                found += len(expected) if unit in departments else 0
    assert found > 10  # the comparison means something


def test_the_migration_fills_the_departments_ledgers_as_the_projector_does(own_district: Services) -> None:
    def rows() -> Rows:
        return rows_of(own_district.engine, [rm_department_ledger])

    kept = rows()
    assert kept[rm_department_ledger.name]
    config = alembic_config(own_district.settings)
    command.downgrade(config, "0015v")
    command.upgrade(config, "head")
    assert rows() == kept


def test_a_search_for_flagged_calls_finds_what_the_rule_over_every_call_finds(district: Services) -> None:
    """A flag of ATTENTION asked set (a street's "ready to resolve", "extension requests",
    "returned orders") is searched among the calls on the ledger: for every kind of asker and the
    units it may and may not read, page by page, the calls over every call that have the flag
    set, are seen and concern the unit — and no call off the ledger has a flag set."""
    org, now = district.app.org, district.clock.now()
    streets = org.of_kind(UnitKind.STREET)
    units = [org.district.code, streets[0].code, org.children(streets[0].code)[0].code]
    units += [d.code for d in org.of_kind(UnitKind.DEPARTMENT)[:3]]
    found = 0
    with district.engine.connect() as conn:
        for flag in ATTENTION:
            assert conn.scalar(select(func.count()).where(rm_calls.c[flag], ~ON_LEDGER)) == 0, flag
        for who in demo_principals(org):
            for unit in dict.fromkeys([who.unit, *units]):
                for flag in ATTENTION:
                    rule = and_(visible_calls(who, org), concerns_unit(unit, org), rm_calls.c[flag])
                    expected = list(conn.scalars(select(rm_calls.c.seq).where(rule).order_by(rm_calls.c.seq)))
                    asked = CallFilter(unit=unit, attention=((flag, True),))
                    assert asked.on_ledger_only
                    searched = every_page(partial(search_calls, conn, who, org, asked, now, limit=3))
                    assert [r["seq"] for r in searched] == expected, (who, unit, flag)
                    found += len(expected)
    assert found > 10  # the comparison means something
