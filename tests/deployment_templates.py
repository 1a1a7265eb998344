"""A deployment migrated once per session and copied for each test that wants a fresh one.

``huying.migrate.upgrade`` costs a test about 0.4 s on SQLite and 0.7 s on PostgreSQL (Alembic
loads and runs every migration, then the key store and the event store's tables are made), and
nearly every integration and e2e test starts from a freshly migrated, empty deployment. Each test
worker therefore migrates one template per backend, the first time a test asks for it, and gives
each test a copy of it:

- SQLite: the template's database files, each checkpointed (its WAL folded in) with every
  connection closed, copied into the test's data directory;
- PostgreSQL: the template schema's definition (``pg_dump --schema-only``, taken once) replayed
  under the test's own schema name in the same database, so deployments still share a database
  as districts do in production, each with its own tables and sequences.

Secrets are not part of a template: the demo secret key file is made when services are built,
so every copy still gets its own. A deployment of another shape (its databases elsewhere than
the backend's defaults) is migrated for real. Tests of the migrations call ``upgrade`` or
``huying migrate`` themselves; tests/integration/test_deployment_templates.py proves a copy is
the same as a freshly migrated deployment, so the shortcut cannot drift from the migrations.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bench.postgres_cluster import bin_dir
from sqlalchemy.engine import make_url

from backends import Backend
from huying.bootstrap import Services, build_services
from huying.clock import Clock
from huying.migrate import sqlite_file, upgrade
from huying.settings import Settings

TEMPLATE_SCHEMA = "huying_template"


def database_files(settings: Settings) -> list[Path]:
    """The SQLite files of a deployment: read models, events, record keys, contacts."""
    urls = dict.fromkeys(
        (settings.database_url, settings.events_url, settings.keys_url, settings.contacts_url)
    )
    return [p for p in map(sqlite_file, urls) if p is not None]


def libpq_url(settings: Settings) -> str:
    return make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def no_ambient_settings() -> Iterator[None]:
    """Settings read every field not given from HUYING_*; a test may have pointed those at its
    own deployment (``use_in_env``) before asking for a copy, and a template made then would be
    made in that test's databases — every later copy a copy of its data."""
    with pytest.MonkeyPatch.context() as env:
        for name in [n for n in os.environ if n.startswith("HUYING_")]:
            env.delenv(name)
        yield


@dataclass
class Templates:
    """The session's templates, one per backend, each migrated when first asked for. Kept for
    the session, not for as long as pytest keeps one backend parameter (a module's worth)."""

    root: Path
    _made: dict[str, Template] = field(default_factory=dict)

    def of(self, backend: Backend) -> Template:
        if backend.name not in self._made:
            self._made[backend.name] = Template(backend, self.root / backend.name)
        return self._made[backend.name]


@dataclass
class Template:
    """One backend's migrated template; ``deploy`` makes a test's deployment from it."""

    backend: Backend
    root: Path
    _made: Settings | None = field(default=None, init=False)
    _schema_sql: str = field(default="", init=False, repr=False)

    def deploy(self, settings: Settings) -> None:
        """The deployment of ``settings`` as ``upgrade(settings)`` leaves it: a copy of the
        template when it is new and of the template's shape, else migrated for real (one that
        exists already, a test's stored databases say, is upgraded as ``huying migrate`` would)."""
        with no_ambient_settings():
            fits = self._fits(settings)
        if not (fits and self._copied(settings)):
            upgrade(settings)

    def _fits(self, settings: Settings) -> bool:
        """Whether the template is of this deployment's shape: its databases where the backend
        puts them by default (PostgreSQL: in a schema of its own)."""
        url = self.backend.cluster.url() if self.backend.cluster is not None else ""
        default = Settings(
            data_dir=settings.data_dir, database_url=url, events_url="", keys_url="", contacts_url=""
        )
        urls = (settings.database_url, settings.events_url, settings.keys_url, settings.contacts_url)
        return urls == (
            default.database_url,
            default.events_url,
            default.keys_url,
            default.contacts_url,
        ) and (bool(settings.database_schema) or not settings.on_postgres)

    def _copied(self, settings: Settings) -> bool:
        """Made from the template; False (nothing done) when the deployment exists already."""
        template = self._template()
        if settings.on_postgres:
            return self._replay_schema(settings)
        targets = database_files(settings)
        if any(t.exists() for t in targets):
            return False
        for source, target in zip(database_files(template), targets, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        return True

    def _template(self) -> Settings:
        if self._made is None:
            with no_ambient_settings():
                self._made = self._migrate()
        return self._made

    def _migrate(self) -> Settings:
        made = self.backend.settings(self.root / "var")
        if made.on_postgres:
            made = made.model_copy(update={"database_schema": TEMPLATE_SCHEMA})
        upgrade(made)
        if made.on_postgres:
            self._schema_sql = _schema_definition(made)
        else:
            for path in database_files(made):
                _checkpoint(path)
        return made

    def _replay_schema(self, settings: Settings) -> bool:
        """The template's tables, indexes and sequences made anew in the test's schema, unless
        that schema exists already."""
        schema = settings.database_schema
        with psycopg.connect(libpq_url(settings)) as conn:
            if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
                return False
            conn.execute(re.sub(rf"\b{TEMPLATE_SCHEMA}\b", schema, self._schema_sql).encode())
        return True


@contextmanager
def module_services(
    backend: Backend, templates: Templates, data_dir: Path, clock: Clock, **overrides: Any
) -> Iterator[Services]:
    """A deployment of a test module's own, made as the ``services`` fixture makes a test's (a
    copy of the template, services built on it, ``overrides`` over the backend's settings),
    closed after: for a module-scoped fixture whose tests only read what it holds, so that its
    scenario is played once per backend instead of once per test. Such a fixture is set up
    before a test's autouse fixture hides HUYING_* from the environment: this hides them."""
    with no_ambient_settings():
        settings = backend.settings(data_dir, **overrides)
        templates.of(backend).deploy(settings)
        services = build_services(settings, clock)
    try:
        yield services
    finally:
        services.close()


def _checkpoint(path: Path) -> None:
    """Folds the WAL into the database file, so that the file alone is the whole database."""
    conn = sqlite3.connect(path)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    assert not busy, f"{path}: a connection of the template's migration is still open"
    wal = path.with_name(f"{path.name}-wal")
    assert not wal.exists() or wal.stat().st_size == 0, f"{wal} still holds pages"


def _schema_definition(settings: Settings) -> str:
    """``pg_dump`` of the template schema (its rows too: Alembic's revision), as one script.
    psql's own commands (``\\restrict``) are left out: the script is run by the server."""
    dump = subprocess.run(
        [
            str(bin_dir() / "pg_dump"),
            "--schema",
            TEMPLATE_SCHEMA,
            "--no-owner",
            "--no-privileges",
            "--inserts",
            libpq_url(settings),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return "\n".join(line for line in dump.splitlines() if not line.startswith("\\"))
