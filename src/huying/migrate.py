"""Schemas: `huying migrate` (and serve) create or upgrade them; other commands only check them.

Alembic owns the service and read-model tables; the event store's tables belong to the
eventsourcing library, which creates them on request.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from sqlalchemy import inspect, text

from huying.application import HuyingApplication
from huying.db import make_engine
from huying.locks import exclusively
from huying.services.contact_store import prepare_contact_store
from huying.services.record_keys import prepare_key_store
from huying.settings import Settings

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
# The eventsourcing setting (of its SQLite and PostgreSQL factories) that creates missing tables.
CREATE_TABLE = "CREATE_TABLE"


# The newest revision in migrations/versions: a database stored at it needs no migration, and is
# recognised without Alembic, whose import is a third of a second of every `huying` process's
# start (serve, each duty's child, each command). test_migrations checks it is Alembic's head.
HEAD = "0020d"


class SchemaNotReady(RuntimeError):
    """A database has no huying schema yet, or not the revision this huying needs."""


def alembic_config(settings: Settings) -> Config:
    from alembic.config import Config

    if not MIGRATIONS.is_dir():
        raise FileNotFoundError(f"migrations not found at {MIGRATIONS} (install with pip -e)")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for other databases)."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def upgrade(settings: Settings) -> None:
    """Create or upgrade every schema, the event store's too; idempotent. One process at a time:
    the processes of a deployment start together (API workers, projector, watchdog), and two
    CREATE TABLEs of one table at once fail even with IF NOT EXISTS."""
    path = sqlite_file(settings.database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    with exclusively(settings, "migrate"):
        if _stored_revision(settings) != HEAD:
            from alembic import command

            command.upgrade(alembic_config(settings), "head")
        prepare_key_store(settings)
        prepare_contact_store(settings)
        _create_event_store(settings)


def _create_event_store(settings: Settings) -> None:
    """The library creates its tables when missing as an application starts; here, under the
    lock, so that the first start of several workers at once does not race to create them."""
    env = {**settings.eventsourcing_env(), CREATE_TABLE: "y"}
    # The application's name: on PostgreSQL it names the event store's tables.
    factory = InfrastructureFactory.construct(Environment(HuyingApplication.name, env))
    try:
        factory.application_recorder()  # creates its tables when missing
    finally:
        factory.close()


def require_schema(settings: Settings) -> None:
    """Refuses (``SchemaNotReady``) unless the databases exist and the service tables are at
    this huying's revision. Creates nothing, writes nothing. (The event store's own tables are
    checked when it is first read.)"""
    for url in dict.fromkeys(
        (settings.database_url, settings.events_url, settings.keys_url, settings.contacts_url)
    ):
        path = sqlite_file(url)
        if path is not None and not path.is_file():
            raise SchemaNotReady(f"no huying database at {path}: run `huying migrate` first")
    current = _stored_revision(settings)
    if current == HEAD:
        return
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(settings))
    head = scripts.get_current_head()
    where = sqlite_file(settings.database_url) or "HUYING_DATABASE_URL"
    if current is None:
        raise SchemaNotReady(f"the database {where} has no huying schema: run `huying migrate` first")
    if current != head:
        if current not in {s.revision for s in scripts.walk_revisions()}:
            raise SchemaNotReady(
                f"the database {where} is at schema revision {current}, which this huying does not "
                f"know (it needs {head}): a newer huying has migrated it"
            )
        raise SchemaNotReady(
            f"the database {where} is at schema revision {current}; this huying needs {head}: "
            "run `huying migrate`"
        )


def _stored_revision(settings: Settings) -> str | None:
    """The revision the database's service tables are at, as Alembic's version table records it
    (None: no huying schema there yet)."""
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    return None if found is None else str(found)
