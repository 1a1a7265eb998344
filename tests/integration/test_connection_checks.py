"""The pools' check before use on PostgreSQL (``huying.postgres.server_has_spoken``).

A connection the server has closed while it sat in a pool (a restart, ``pg_terminate_backend``)
is replaced before anyone uses it; a connection the server has said nothing to is handed out
without a round trip to ask — a ping before every query doubled every query's round trips.
Both pools: SQLAlchemy's (read models, service tables) and the event store's (psycopg_pool).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from psycopg_pool import ConnectionPool
from sqlalchemy import text

from huying.bootstrap import Services
from huying.postgres import connect, readable

pytestmark = pytest.mark.postgres_only(reason="the pools of a PostgreSQL server's connections")

WAIT = 10.0  # seconds for the server to close a terminated connection
MAX_GROWTH = 5  # times a pool may grow while its connections are taken


@pytest.fixture
def alone(services: Services) -> Services:
    """The services with their own threads stopped: the test alone uses the pools, and sees
    every connection they hold (a projector's batch holding one through the test's uses, on a
    busy machine, left one unseen)."""
    for duty in (services.webhooks, services.watchdog, services.projector, services.chain):
        duty.stop()
    # psycopg_pool opens its connections in the background and counts one as soon as it starts
    # opening it: on a busy machine the test saw a pool of two hand out one (seen once).
    datastore_of(services).pool.wait(timeout=WAIT)
    return services


def datastore_of(services: Services) -> PostgresDatastore:
    datastore = services.app.factory.datastore  # type: ignore[attr-defined]
    assert isinstance(datastore, PostgresDatastore)
    return datastore


@dataclass(frozen=True)
class Pool:
    """One of a deployment's two pools, as a user of it sees it."""

    hold: Callable[[Services], AbstractContextManager[tuple[int, Any]]]  # the backend's pid, socket
    size: Callable[[Services], int]  # how many connections it holds

    def use(self, services: Services) -> tuple[int, Any]:
        with self.hold(services) as connection:
            return connection

    def held(self, services: Services) -> dict[int, Any]:
        """Every connection the pool holds, by backend pid: as many taken at once as it holds,
        each waited for if it is in use elsewhere for a moment. (Taken one after another, eight
        times in turn, a fresh clone's run on a busy machine saw one connection of two: the
        other was never the one in the pool when asked for.) A pool that grew meanwhile — psycopg_pool
        opens another connection when one is asked for and none is free (seen once in a fresh
        clone's run: 2 taken, 3 held after) — is taken again, all of it."""
        for _ in range(MAX_GROWTH):
            wanted = self.size(services)
            with ExitStack() as taking:
                held = dict(taking.enter_context(self.hold(services)) for _ in range(wanted))
            if self.size(services) == wanted:
                assert len(held) == wanted
                return held
        raise AssertionError(f"the pool kept growing while its connections were taken ({wanted})")


@contextmanager
def _orm_hold(services: Services) -> Iterator[tuple[int, Any]]:
    with services.engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        dbapi = connection.connection.dbapi_connection
        assert isinstance(dbapi, psycopg.Connection)
        yield pid, dbapi.pgconn.socket


@contextmanager
def _store_hold(services: Services) -> Iterator[tuple[int, Any]]:
    with datastore_of(services).get_connection() as connection:
        row = connection.execute("SELECT pg_backend_pid() AS pid").fetchone()
        assert row is not None
        yield row["pid"], connection.pgconn.socket


SQLALCHEMY = Pool(_orm_hold, lambda services: services.engine.pool.checkedin())  # type: ignore[attr-defined]
EVENT_STORE = Pool(_store_hold, lambda services: datastore_of(services).pool.get_stats()["pool_size"])


def store_pings() -> Any:
    """Counts the event store pool's pings (its real ping, still made)."""
    return mock.patch.object(ConnectionPool, "check_connection", wraps=ConnectionPool.check_connection)


def heard(socket: int) -> bool:
    return readable(socket, WAIT)


@pytest.mark.parametrize("pool", [SQLALCHEMY, EVENT_STORE], ids=["sqlalchemy", "event-store"])
def test_connections_the_server_closed_are_replaced_before_use(alone: Services, pool: Pool) -> None:
    services = alone
    held = pool.held(services)
    admin = connect(services.settings)
    try:
        for pid, socket in held.items():  # as a restart of the server would
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
            assert heard(socket), "the server did not close the terminated connection"
    finally:
        admin.close()

    replaced, _ = pool.use(services)  # no error: no closed connection was handed out

    assert replaced not in held


@pytest.mark.parametrize("pool", [SQLALCHEMY, EVENT_STORE], ids=["sqlalchemy", "event-store"])
def test_connections_the_server_said_nothing_to_are_handed_out_without_a_ping(
    alone: Services, pool: Pool
) -> None:
    services = alone
    held = pool.held(services)
    dialect = services.engine.dialect
    with (
        store_pings() as ping,
        mock.patch.object(dialect, "do_ping", wraps=dialect.do_ping) as sqlalchemy_ping,
    ):
        assert pool.held(services) == held  # the same connections, each used again
    assert ping.call_count == sqlalchemy_ping.call_count == 0


def test_what_the_server_says_to_an_idle_connection_is_read_and_the_connection_kept(
    alone: Services,
) -> None:
    """A notification on a pooled event-store connection (the library LISTENs on them) is not a
    closed connection: the check reads it with a real ping and keeps the connection."""
    services = alone
    datastore = datastore_of(services)
    with datastore.get_connection() as connection:
        connection.execute("LISTEN huying_test_check")
        socket = connection.pgconn.socket
    sender = connect(services.settings)
    try:
        held = EVENT_STORE.held(services)
        sender.execute("NOTIFY huying_test_check")
        assert heard(socket)
        with store_pings() as ping:
            assert EVENT_STORE.held(services) == held
        assert ping.call_count == 1
    finally:
        sender.close()
        with ExitStack() as taking:
            for connection in [taking.enter_context(datastore.get_connection()) for _ in held]:
                connection.execute("UNLISTEN *")
