"""Service tables and read-model tables (SQLAlchemy Core). Alembic in ``migrations/`` owns
their schema; the event store's own tables belong to the eventsourcing library."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    create_engine,
    event,
)

if TYPE_CHECKING:
    from huying.settings import Settings

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Instants stored in UTC and always read back timezone-aware (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give an offset")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_datetime(value: datetime) -> str:
    """What ``UtcDateTime`` stores on SQLite, without SQLAlchemy's per-value bind processing
    (for bulk writers): the UTC instant as ``YYYY-MM-DD HH:MM:SS.ffffff``, the text SQLite's
    ``DATETIME`` compares and sorts by."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give an offset")
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(32), nullable=False),
    Column("unit", String(64), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

reporter_contacts = Table(
    "reporter_contacts",
    metadata,
    Column("ref", String(36), primary_key=True),
    Column("name_enc", LargeBinary, nullable=True),
    Column("phone_enc", LargeBinary, nullable=True),
    # What civic apps (Open311) may also give: an email address, their device's and account's ids.
    Column("email_enc", LargeBinary, nullable=True),
    Column("device_id_enc", LargeBinary, nullable=True),
    Column("account_id_enc", LargeBinary, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("erased_at", UtcDateTime(), nullable=True),
    # 个人信息删除: who erased it ("role:unit"), kept for accountability; the contact itself is gone.
    Column("erased_by", String(100), nullable=True),
    # How name_enc and phone_enc were sealed: "record" — under the record's own key in
    # reporter_keys (crypto-shredding); "master" — a Fernet token under the master key itself, as
    # before record keys existed (`huying keys rotate` re-seals those).
    Column("sealing", String(16), nullable=False, server_default="master"),
)

# Each contact's own data key, wrapped by a master key (services/record_keys.py). On SQLite they
# live in a file of their own (HUYING_KEYS_URL) and this table in the main database stays empty.
reporter_keys = Table(
    "reporter_keys",
    metadata,
    Column("ref", String(36), primary_key=True),
    Column("master_key_id", String(16), nullable=False),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Who was shown a reporter's contact in full, when, on which call, and which details: an
# auditor reads it (GET /api/v1/audit/contact-access). Never the details themselves.
contact_access = Table(
    "contact_access",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("role", String(32), nullable=False),
    Column("unit", String(64), nullable=False),
    Column("call_id", String(36), nullable=False),
    Column("shown", String(32), nullable=False),  # "name,phone"
)

# 随手拍: photos, stored content-addressed on disk with their EXIF/GPS stripped; one row each.
attachments = Table(
    "attachments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),  # of the stored (stripped) bytes
    Column("content_type", String(32), nullable=False),
    Column("size", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Who uploaded an attachment (the same bytes from two principals are stored once, uploaded twice).
attachment_uploads = Table(
    "attachment_uploads",
    metadata,
    Column("attachment_id", String(36), primary_key=True),
    Column("role", String(32), primary_key=True),
    Column("unit", String(64), primary_key=True),
    Column("uploaded_at", UtcDateTime(), nullable=False),
)

# Which calls name an attachment: an index written before the naming event is stored, so it may
# name a call whose event never landed; readers confirm against the call itself.
attachment_refs = Table(
    "attachment_refs",
    metadata,
    Column("attachment_id", String(36), primary_key=True),
    Column("call_id", String(36), primary_key=True),
)


# No longer written: duties are held by locks (huying.locks), which free themselves when their
# process dies, where a lease had to run out first. Dropping the table takes a migration.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)


# The event store's tables belong to the eventsourcing library, never to Alembic: SQLite's
# recorder names them ``stored_events``…, PostgreSQL's after the application (``huying_events``…).
LIBRARY_TABLES = frozenset(
    {"stored_events", "snapshots", "tracking", "notification_tracking"}
    | {f"huying_{purpose}" for purpose in ("events", "snapshots", "tracking")}
)


def make_engine(settings: Settings) -> Engine:
    """One engine per process for ``settings.database_url``: SQLite gets WAL and a busy timeout
    so readers never block; PostgreSQL a sized pool and server-side timeouts (``huying.postgres``)."""
    if settings.on_postgres:
        from huying.postgres import make_postgres_engine

        return make_postgres_engine(settings)
    return sqlite_engine(settings.database_url, settings.database_lock_timeout)


# Every commit to a SQLite file of huying's is synced to disk before it returns, as the event
# store's are (the library leaves SQLite's default, FULL): a raise answered 201 has its
# reporter's contact, its record key and the record of who was shown it stored as durably as its
# event; so are tokens, subscriptions and erasures. With WAL, NORMAL syncs only at checkpoints,
# and a power cut could take back commits already answered.
DURABLE = "PRAGMA synchronous=FULL"


def sqlite_engine(url: str, lock_timeout: float = 10, *, secure_delete: bool = False) -> Engine:
    """WAL, durable commits, foreign keys; ``secure_delete``: deleted bytes overwritten with
    zeros (the files that hold what erasure must destroy: record keys, contacts)."""
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": lock_timeout}, pool_pre_ping=False
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(DURABLE)
        cur.execute("PRAGMA foreign_keys=ON")
        if secure_delete:
            cur.execute("PRAGMA secure_delete=ON")
        cur.close()

    return engine
