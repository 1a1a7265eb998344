"""A process of a deployment creates none of the event store's objects as it starts: `huying
migrate` made them, under its lock. Made again at every start, two workers starting at once
raced on PostgreSQL (CI: "tuple concurrently updated" from the library's CREATE OR REPLACE
FUNCTION in both, and one worker died)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.postgres import schema_of

pytestmark = pytest.mark.postgres_only(reason="the library's CREATE OR REPLACE FUNCTION is PostgreSQL's")

FUNCTION = "es_insert_events_uuid"  # one of the objects the library makes with its tables


def functions(services: Services) -> set[str]:
    with services.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = :s"
            ),
            {"s": schema_of(services.settings)},
        )
        return set(rows.scalars())


def test_a_starting_process_makes_no_event_store_object(services: Services, clock: FakeClock) -> None:
    assert FUNCTION in functions(services), "migrate made it"
    with services.engine.begin() as conn:
        conn.execute(text(f'DROP FUNCTION "{schema_of(services.settings)}".{FUNCTION}'))

    started = build_services(services.settings, clock)  # as a worker starts
    try:
        assert FUNCTION not in functions(started)
    finally:
        started.close()
