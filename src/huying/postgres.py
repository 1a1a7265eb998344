"""PostgreSQL: the one place that knows how huying connects to it.

Every user of the database — SQLAlchemy for the read models and service tables, the
eventsourcing library's own ``eventsourcing.postgres`` recorder for the events, and the plain
connections that hold duty locks and listen for notifications — gets the same schema and the
same server-side timeouts from ``Settings``, so that no statement, lock or idle transaction can
hold anything forever, and a database that went away is noticed (TCP keepalives) and answered
for within a bounded time.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import select
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, Notification, OperationalError
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.utils import Environment, EnvType, retry
from psycopg import pq
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool
from sqlalchemy import Connection, Engine, Select, create_engine, event, exc
from sqlalchemy.engine import make_url

from huying.settings import Settings

# Our own key in the library's environment: the libpq parameters of every connection it opens
# (``connection_params``, as JSON).
CONNECTION_PARAMS = "HUYING_POSTGRES_CONNECTION"
# PostgreSQL's limit on identifiers, NOTIFY channel names among them (NAMEDATALEN - 1).
_MAX_IDENTIFIER = 63


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


def connection_params(settings: Settings) -> dict[str, Any]:
    """libpq parameters of every connection: its server settings, how long connecting may take,
    and TCP keepalives, so a server that vanished without closing the socket is noticed within
    about a minute instead of the operating system's two hours."""
    return {
        "options": session_options(settings),
        "connect_timeout": settings.database_connect_timeout,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }


def schema_of(settings: Settings) -> str:
    return settings.database_schema or "public"


def channel(schema: str, topic: str) -> str:
    """The NOTIFY channel of one deployment (its schema) for one kind of news. Channels are
    database-wide, so the schema is in the name; one too long for an identifier is shortened
    to a digest of the schema."""
    name = f"huying.{schema}.{topic}"
    if len(name.encode()) > _MAX_IDENTIFIER:
        name = f"huying.{hashlib.sha256(schema.encode()).hexdigest()[:16]}.{topic}"
    return name


def connect(settings: Settings) -> psycopg.Connection[Any]:
    """A connection of its own, outside every pool (autocommit): for what must live exactly as
    long as one session — an advisory lock, a LISTEN."""
    url = make_url(settings.database_url).set(drivername="postgresql")
    return psycopg.connect(
        url.render_as_string(hide_password=False), autocommit=True, **connection_params(settings)
    )


# The execution option asking for a statement's rows in PostgreSQL's binary format (``binary_rows``).
BINARY_ROWS = "huying_binary_rows"


def binary_rows(conn: Connection, query: Select[Any]) -> Sequence[Sequence[Any]]:
    """The rows of ``query`` sent in PostgreSQL's binary format rather than as text: a bytea
    column then comes as its bytes, not as hexadecimal twice their size to be parsed again. The
    SLA dashboard's spreads for a year by month are ~7 MB: 25 ms as text, 8.5 ms this way.

    Executed by SQLAlchemy as any statement, so its compiled cache serves it: compiled afresh at
    each request, as it was, the year by month's two statements of the tallies cost ~3 ms of its
    ~29 ms in process at 10,000 calls. The engine's ``_binary_when_asked`` sets the format on the
    statement's own cursor (psycopg's ``Cursor.format``)."""
    return conn.execute(query, execution_options={BINARY_ROWS: True}).all()


def tidy_after_bulk_load(settings: Settings) -> None:
    """``VACUUM (ANALYZE)`` of every table of the deployment's schema, as PostgreSQL's manual
    advises after a bulk load (a synthetic district): the planner's statistics are then the
    rows', and the visibility map is set, so an index-only scan reads its index alone. Left to
    autovacuum, a million calls' rows just written were not yet: a street's page among its
    resolved calls fetched 8,277 of them from the table (43 ms), and P4's searches' p95 was
    twice what it was after (free text 66.5 → 34.7 ms, several filters 41.7 → 18.1 ms)."""
    with connect(settings) as conn:
        conn.execute("SET statement_timeout = 0")
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", (schema_of(settings),)
        ).fetchall()
        for (table,) in tables:
            conn.execute(f'VACUUM (ANALYZE) "{schema_of(settings)}"."{table}"')


def server_has_spoken(connection: psycopg.Connection[Any]) -> bool:
    """Whether the server sent something to a connection that sat idle in a pool, or closed it.

    On an idle connection the server says nothing unless it is done with it: a shutdown or
    restart, ``pg_terminate_backend``, an idle timeout — it sends its reason and closes the socket,
    and the socket turns readable. So instead of a round trip to ask (a pool's pre-ping, which
    doubled every query's round trips), a pool looks, without waiting, whether there is anything
    to read. A server that vanished without a word (a cut cable) is not seen this way, but a ping
    would only have hung on it too; TCP keepalives (``connection_params``) notice that one."""
    if connection.closed:
        return True
    return readable(connection.pgconn.socket, 0)


def readable(fd: int, timeout: float) -> bool:
    """Whether there is something to read on ``fd`` (or it closed), waiting up to ``timeout``
    seconds. ``poll``, not ``select``: a process with many files open has descriptors past
    ``select``'s 1,024, and there it raises."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def check_if_spoken(connection: psycopg.Connection[Any]) -> None:
    """The event store's pool's check before use: a real ping only when the server has spoken
    (which reads what it said, and raises if it has closed: the pool then replaces the
    connection)."""
    if server_has_spoken(connection):
        ConnectionPool.check_connection(connection)


def make_postgres_engine(settings: Settings) -> Engine:
    """A pooled engine: at most pool_size + max_overflow connections, each waited for at most
    database_connect_timeout seconds, checked before use without a round trip
    (``server_has_spoken``: a restarted server is survived)."""
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_connect_timeout,
        connect_args=connection_params(settings),
    )

    @event.listens_for(engine, "checkout")
    def _check_before_use(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # SQLAlchemy's connections are never LISTENing: a server that has spoken is done with
        # the connection. DisconnectionError makes the pool drop it and take another.
        if server_has_spoken(dbapi_connection):
            raise exc.DisconnectionError("the server closed this connection")

    @event.listens_for(engine, "before_cursor_execute")
    def _binary_when_asked(
        _conn: Any, cursor: Any, _statement: str, _params: Any, context: Any, _executemany: bool
    ) -> None:
        # Each statement has a cursor of its own: the format asked for is this statement's alone.
        if context is not None and context.execution_options.get(BINARY_ROWS):
            cursor.format = pq.Format.BINARY

    return engine


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
        "POSTGRES_PRE_PING": "n",  # the pool checks with check_if_spoken instead
        CONNECTION_PARAMS: json.dumps(connection_params(settings)),
    }


# The library retries each call ten times after a connection error, each time waiting up to the
# pool's timeout for a connection: with the server down a request hung for 100 s. One retry (a
# connection that broke between the pool's check and its use) is all that helps; after that the
# caller answers 503 and the client retries with its Idempotency-Key.
_ONE_RETRY = retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)


class BoundedPostgresRecorder(PostgresApplicationRecorder):
    """The library's recorder, unchanged but for two things: a failed connection is retried
    once, not ten times; and it announces commits on its deployment's own channel (the
    library's default channel is named after the table, the same in every schema)."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.channel_name = channel(datastore.schema, "events")

    insert_events = _ONE_RETRY(inspect.unwrap(PostgresApplicationRecorder.insert_events))
    select_events = _ONE_RETRY(inspect.unwrap(PostgresApplicationRecorder.select_events))
    select_notifications = _ONE_RETRY(inspect.unwrap(PostgresApplicationRecorder.select_notifications))
    max_notification_id = _ONE_RETRY(inspect.unwrap(PostgresApplicationRecorder.max_notification_id))

    @_ONE_RETRY
    def select_notifications_of_part(
        self, start: int, limit: int, stop: int, index: int, of: int
    ) -> Sequence[Notification]:
        """The notifications after ``start`` up to ``stop`` of the aggregates whose id's last
        hexadecimal digit leaves ``index`` divided by ``of`` (a rebuild's part, ``Part``): the
        others' are not read."""
        statement = SQL(
            "SELECT * FROM {schema}.{table} WHERE notification_id > %s AND notification_id <= %s"
            " AND (get_byte(uuid_send(originator_id), 15) & 15) %% %s = %s ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (start, stop, of, index, limit), prepare=True)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
                for row in curs.fetchall()
            ]


class TimedPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory and recorders, unchanged but for the libpq parameters
    each pooled connection starts with (the library itself sets a lock timeout only around its
    table lock, and no statement or connect timeout at all), bounded retries, and a pool that
    reconnects as soon as it is asked once the server is back (psycopg_pool otherwise backs off
    for up to five minutes between attempts), and a check before use that asks the server only
    when it has spoken (``check_if_spoken``)."""

    application_recorder_class = BoundedPostgresRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        pool = self.datastore.pool
        assert isinstance(pool.kwargs, dict)
        pool.kwargs.update(json.loads(self.env.get(CONNECTION_PARAMS) or "{}"))
        pool.reconnect_timeout = float(self.env.get("POSTGRES_CONNECT_TIMEOUT") or 5)
        # psycopg_pool takes its check only as an argument, which the library's datastore
        # fills itself (a ping with POSTGRES_PRE_PING, else nothing); ours replaces it.
        assert hasattr(pool, "_check"), "psycopg_pool no longer keeps its check in _check"
        pool._check = check_if_spoken
