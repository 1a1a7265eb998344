"""A deployment copied from the session's template (tests/deployment_templates.py) is the same as
one freshly migrated by ``huying.migrate.upgrade``: the same tables, columns, indexes, constraints,
sequences and triggers, the library's event store among them, the same Alembic revision and rows
— so the shortcut nearly every test takes cannot drift from the migrations. And each copy is a
deployment of its own: its own positions, its own secret key; one that exists is never replaced."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from backends import Backend, raw_events, stored_rows, use_in_env
from deployment_templates import Template, database_files, libpq_url
from huying.bootstrap import Services, build_services
from huying.clock import FakeClock
from huying.demo import principal_for_token
from huying.migrate import require_schema, upgrade
from huying.service_layer.calls import CallDraft
from huying.service_layer.command_path import Submission
from huying.settings import Settings

# What PostgreSQL's catalogue says of one schema, the schema's own name replaced by "<schema>".
POSTGRES_CATALOGUE = {
    "relations": "SELECT relname, relkind, relpersistence FROM pg_class WHERE relnamespace = %(oid)s",
    "columns": """SELECT table_name, column_name, ordinal_position, data_type, column_default,
        is_nullable, is_identity, identity_generation, character_maximum_length
        FROM information_schema.columns WHERE table_schema = %(schema)s""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(schema)s",
    "constraints": """SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = %(oid)s""",
    "sequences": """SELECT sequencename, data_type, start_value, increment_by, last_value
        FROM pg_sequences WHERE schemaname = %(schema)s""",
    "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = %(oid)s)""",
    "functions": "SELECT proname, pg_get_function_arguments(oid) FROM pg_proc WHERE pronamespace = %(oid)s",
}


def described(settings: Settings) -> dict[str, Any]:
    """Everything a deployment's databases hold besides its rows, as comparable values."""
    if settings.on_postgres:
        return _postgres_catalogue(settings)
    found: dict[str, Any] = {}
    for path in database_files(settings):
        with sqlite3.connect(path) as conn:
            found[path.name] = {
                "objects": sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")),
                "pragmas": [
                    conn.execute(f"PRAGMA {p}").fetchone()
                    for p in ("journal_mode", "user_version", "application_id", "page_size", "auto_vacuum")
                ],
            }
        conn.close()
    # The lock files of `upgrade` (and of the duties) are made when first taken; nothing else.
    found["files"] = sorted(p.name for p in settings.data_dir.iterdir() if p.suffix != ".lock")
    return found


def _postgres_catalogue(settings: Settings) -> dict[str, Any]:
    schema = settings.database_schema
    with psycopg.connect(libpq_url(settings)) as conn:
        row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        assert row is not None, f"no schema {schema}"
        args = {"schema": schema, "oid": row[0]}
        found = {
            name: [tuple(map(str, r)) for r in conn.execute(sql, args)]
            for name, sql in POSTGRES_CATALOGUE.items()
        }
        found["indexes"] = [
            (table, name, _read_back(conn, schema, name, d)) for table, name, d in found["indexes"]
        ]
    return {
        name: sorted(tuple(v.replace(f"{schema}.", "<schema>.") for v in r) for r in rows)
        for name, rows in found.items()
    }


def _read_back(conn: psycopg.Connection[Any], schema: str, name: str, definition: str) -> str:
    """An index's definition as PostgreSQL prints it after reading it back (as a pg_dump and
    restore does, and the template's copies): an ``IN (…)`` over a varchar column, as in the
    ledger's partial indexes, is printed with the cast on the array and read back with a cast on
    each value — the same condition (the planner folds both to one constant array), written
    differently. Every other definition reads back as printed."""
    scratch = "huying_read_back"
    with conn.transaction(force_rollback=True):
        conn.execute(definition.replace(f" INDEX {name} ON ", f" INDEX {scratch} ON ", 1).encode())
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND indexname = %s", (schema, scratch)
        ).fetchone()
    assert row is not None, definition
    return str(row[0]).replace(f" INDEX {scratch} ON ", f" INDEX {name} ON ", 1)


def raise_one(services: Services) -> None:
    grid = principal_for_token(services.app.org, "grid_worker", "LW-LN-01-G01")
    draft = CallDraft("C01-01", "LW-LN-01-G01", "井盖缺失", "人行道井盖丢了", "grid_worker")
    services.calls.raise_call(grid, draft, Submission())


def positions(settings: Settings) -> list[int]:
    with raw_events(settings) as raw:
        return [int(p) for (p,) in raw.execute("SELECT {position} FROM {events} ORDER BY {position}")]


def test_a_copy_of_the_template_is_a_freshly_migrated_deployment(
    backend: Backend, template: Template, tmp_path: Path
) -> None:
    fresh = backend.settings(tmp_path / "fresh")
    upgrade(fresh)
    copy = backend.settings(tmp_path / "copy")
    template.deploy(copy)

    require_schema(copy)  # at this huying's Alembic head
    assert described(copy) == described(fresh)
    assert stored_rows(copy) == stored_rows(fresh)
    assert described(fresh)  # something was compared
    assert stored_rows(fresh)  # Alembic's revision, at least


def test_each_copy_is_a_deployment_of_its_own(backend: Backend, template: Template, tmp_path: Path) -> None:
    first, second = backend.settings(tmp_path / "first"), backend.settings(tmp_path / "second")
    template.deploy(first)
    template.deploy(second)
    one, other = build_services(first, FakeClock()), build_services(second, FakeClock())
    try:
        raise_one(one)
        raise_one(one)
        raise_one(other)
        # The event store's positions (SQLite rowids, PostgreSQL's identity) start again in each.
        assert positions(second) == positions(first)[: len(positions(second))]
        assert len(positions(first)) > len(positions(second)) > 0
        assert first.master_secrets() != second.master_secrets()
    finally:
        one.close()
        other.close()


def test_a_deployment_that_exists_is_upgraded_not_replaced(
    backend: Backend, template: Template, tmp_path: Path
) -> None:
    settings = backend.settings(tmp_path / "var")
    upgrade(settings)
    services = build_services(settings, FakeClock())
    try:
        raise_one(services)
    finally:
        services.close()
    before = stored_rows(settings)

    template.deploy(settings)

    assert stored_rows(settings) == before
    assert positions(settings)  # the call's events are still there


def test_a_deployment_of_another_shape_is_migrated_for_real(
    backend: Backend, template: Template, tmp_path: Path
) -> None:
    """Databases where the template is not (a keys file of its own, say) are made by ``upgrade``."""
    default = backend.settings(tmp_path / "var")
    elsewhere = default.model_copy(update={"keys_url": f"sqlite:///{tmp_path / 'keys' / 'k.db'}"})
    (tmp_path / "keys").mkdir()
    template.deploy(elsewhere)
    require_schema(elsewhere)
    with sqlite3.connect(tmp_path / "keys" / "k.db") as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    conn.close()


def test_a_template_is_made_in_its_own_place_whatever_the_test_has_set(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test that points ``huying …`` at its deployment (HUYING_* set, use_in_env) before its
    first copy is made must not have the template made in that deployment's databases — every
    later copy would be a copy of that test's data."""
    busy, fresh, first, later = (backend.settings(tmp_path / n) for n in ("busy", "fresh", "first", "later"))
    upgrade(busy)
    upgrade(fresh)
    use_in_env(monkeypatch, busy)
    template = Template(backend, tmp_path / "template")
    template.deploy(first)

    services = build_services(busy, FakeClock())
    try:
        raise_one(services)
    finally:
        services.close()
    template.deploy(later)

    assert positions(busy)
    assert not positions(later)
    assert stored_rows(later) == stored_rows(fresh)
