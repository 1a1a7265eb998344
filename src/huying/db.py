"""Service tables and read-model tables (SQLAlchemy Core). Alembic in ``migrations/`` owns
their schema; the event store's own tables belong to the eventsourcing library."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
)

metadata = MetaData()

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("unit", String(64), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

reporter_contacts = Table(
    "reporter_contacts",
    metadata,
    Column("ref", String(36), primary_key=True),
    Column("name_enc", LargeBinary, nullable=True),
    Column("phone_enc", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
)


def make_engine(url: str) -> Engine:
    """One engine per process; SQLite gets WAL and a busy timeout so readers never block."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 10}, pool_pre_ping=False
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)
