"""PostgreSQL: the one place that knows how huying connects to it.

Both users of the database — SQLAlchemy for the read models and service tables, the
eventsourcing library's own ``eventsourcing.postgres`` recorder for the events — get the same
schema, the same pool sizes and the same server-side timeouts from ``Settings``, so that no
statement, lock or idle transaction can hold anything forever.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from huying.settings import Settings

# Our own key in the library's environment: libpq's ``options`` for every connection it opens.
SESSION_OPTIONS = "HUYING_POSTGRES_OPTIONS"


def session_options(settings: Settings) -> str:
    """Server settings every connection starts with (libpq ``options``)."""
    options = [
        f"-c statement_timeout={settings.database_statement_timeout * 1000}",
        f"-c lock_timeout={settings.database_lock_timeout * 1000}",
        f"-c idle_in_transaction_session_timeout={settings.database_idle_in_transaction_timeout * 1000}",
    ]
    if settings.database_schema:
        # Unqualified names (SQLAlchemy's tables, Alembic's version table) live in the schema.
        options.append(f"-c search_path={settings.database_schema}")
    return " ".join(options)


def schema_of(settings: Settings) -> str:
    return settings.database_schema or "public"


def make_postgres_engine(settings: Settings) -> Engine:
    """A pooled engine: at most pool_size + max_overflow connections, each waited for at most
    database_connect_timeout seconds, checked before use (a restarted server is survived)."""
    return create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_connect_timeout,
        pool_pre_ping=True,
        connect_args={
            "options": session_options(settings),
            "connect_timeout": settings.database_connect_timeout,
        },
    )


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The library's settings for the event store (never POSTGRES_ENABLE_DB_FUNCTIONS)."""
    parsed: Any = make_url(settings.events_url)
    return {
        "PERSISTENCE_MODULE": f"{__name__}:{TimedPostgresFactory.__name__}",
        "POSTGRES_DBNAME": parsed.database or "",
        "POSTGRES_HOST": parsed.host or parsed.query.get("host") or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": parsed.username or "",
        "POSTGRES_PASSWORD": parsed.password or "",
        "POSTGRES_SCHEMA": schema_of(settings),
        "POSTGRES_POOL_SIZE": str(settings.database_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.database_max_overflow),
        "POSTGRES_CONNECT_TIMEOUT": str(settings.database_connect_timeout),
        "POSTGRES_LOCK_TIMEOUT": str(settings.database_lock_timeout),
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(settings.database_idle_in_transaction_timeout),
        "POSTGRES_PRE_PING": "y",
        SESSION_OPTIONS: session_options(settings),
    }


class TimedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory and recorders, unchanged but for the server settings
    each pooled connection starts with: the library itself sets a lock timeout only around its
    table lock, and no statement timeout at all."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        options = self.env.get(SESSION_OPTIONS)
        if options:
            kwargs = self.datastore.pool.kwargs
            assert isinstance(kwargs, dict)
            kwargs["options"] = options
