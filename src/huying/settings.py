"""One typed Settings object: everything configurable comes from ``HUYING_*``."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class UnsafeSettings(ValueError):
    """A production setting that would put people's data at risk."""


# What each weights setting weighs, in order.
_WEIGHED = {
    "score_weights": "响应率, 解决率, 满意率",
    "assessment_weights": "满意率, callers' ratings, 响应率, 解决率, 令行禁止",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUYING_", extra="ignore")

    data_dir: Path = Path("./var")
    # Read models and service tables (SQLAlchemy): ``sqlite:///…`` (default, under data_dir) or
    # ``postgresql+psycopg://user:password@host:port/dbname``. The event store defaults to the
    # same PostgreSQL database (the library's own ``eventsourcing.postgres`` recorder).
    database_url: str = ""
    events_url: str = ""
    # PostgreSQL: the schema every table lives in, the event store's too (one per district or
    # deployment); created when missing. Empty: ``public``.
    database_schema: str = Field(default="", pattern=r"^([a-z_][a-z0-9_]{0,62})?$")
    # PostgreSQL: connections per process, for the read models and for the event store each.
    database_pool_size: int = Field(default=5, ge=1, le=1000)
    database_max_overflow: int = Field(default=5, ge=0, le=1000)
    # Nothing waits forever: for a connection (pool or server), for a lock (SQLite: for the
    # file's write lock), for one statement, nor holds a transaction open while doing nothing
    # (seconds). A request that runs into one of them is answered 503.
    database_connect_timeout: int = Field(default=10, ge=1, le=3600)
    database_lock_timeout: int = Field(default=10, ge=1, le=3600)
    database_statement_timeout: int = Field(default=60, ge=1, le=86_400)
    database_idle_in_transaction_timeout: int = Field(default=60, ge=1, le=86_400)
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False
    secret_key: str = ""
    # Earlier master keys, comma-separated: they still unwrap reporter record keys wrapped under
    # them, until `huying keys rotate` re-wraps those under HUYING_SECRET_KEY (then retire them).
    old_secret_keys: str = ""
    # Where reporter record keys live (crypto-shredding). SQLite: a sibling file of their own,
    # default `<name>.keys.db`; PostgreSQL: the same database unless set.
    keys_url: str = ""
    # Where reporters' contacts and the record of who was shown them live. SQLite: a sibling file
    # of their own, default `<name>.contacts.db`, so that their commits never wait for the read
    # models' writers; PostgreSQL: the main database, whatever this says (row locks: no wait).
    contacts_url: str = ""
    calendar_file: Path | None = None
    # 工作时间: the working periods of a working day, Asia/Shanghai.
    working_hours: str = "08:30-12:00,14:00-17:30"
    fake_clock: bool = False
    reopen_window_days: int = Field(default=7, ge=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    min_position_wait_seconds: float = Field(default=5.0, ge=0, le=5.0)
    # The duties `huying serve` offers besides answering (docs/operations.md): the projector, the
    # audit chain keeper and the SLA watchdog. Each is done by one process of the deployment at a
    # time (the one holding its lock); 0 here when `huying project`, `huying chain` or
    # `huying watch` do it apart. A standby tries to take a duty over this often (seconds).
    run_projector: bool = True
    run_chain: bool = True
    run_watchdog: bool = True
    duty_retry_seconds: float = Field(default=1.0, gt=0, le=60)
    # `huying serve` runs the projector, the chain keeper and the webhook deliveries in a child
    # process (`huying project`), off the interpreters answering requests; 0: all in one.
    duties_apart: bool = True
    # How often the projector and the chain keeper look at the log when nothing woke them: a
    # commit wakes them at once (from another process too, on PostgreSQL), so this is a fallback.
    poll_seconds: float = Field(default=1.0, gt=0, le=3600)
    watchdog_seconds: float = Field(default=30.0, gt=0)
    projector_batch_size: int = Field(default=500, ge=1, le=100_000)
    # Calls the projector keeps as of their last event, so that their next event does not reload
    # them from the log: enough for the calls in play at once (a busy district's follower, a
    # rebuild of one, wants tens of thousands; each costs a few kilobytes).
    projector_cache_size: int = Field(default=2_000, ge=1, le=1_000_000)
    # Processes `huying rebuild` projects the log with (projections/rebuild.py); 0: one per core.
    rebuild_workers: int = Field(default=0, ge=0, le=64)
    max_long_poll_seconds: float = Field(default=60.0, ge=0)
    # A `huying serve` process reads the district's and the streets' default dashboards before it
    # answers (queries/warming.py), for at most this long; 0: it does not.
    warm_dashboards_seconds: float = Field(default=10.0, ge=0, le=600)
    # 三项考评: weights of 响应率, 解决率, 满意率 in the composite score (docs/metrics.md).
    score_weights: tuple[float, float, float] = (0.30, 0.35, 0.35)
    # Fewer evaluated calls in the period: listed, not ranked (one lucky call must not top the list).
    min_evaluated_for_rank: int = Field(default=5, ge=1)
    # A period's scores are settled this many working days after it ends (docs/metrics.md §12):
    # from then on they are judged as of that cutoff, and may be published.
    settle_working_days: int = Field(default=5, ge=0, le=60)
    # 部门年度考核 / 街道综合考核 (docs/metrics.md §11): weights of residents' 满意率, the callers'
    # ratings, 响应率, 解决率 and 令行禁止; and what each charged 督办 takes off the composite.
    assessment_weights: tuple[float, float, float, float, float] = (0.30, 0.25, 0.15, 0.15, 0.15)
    supervision_deduction: float = Field(default=0.01, ge=0, le=1)
    # 防篡改: the hash chain over the log takes a checkpoint every N log positions, or once this
    # much (wall-clock) time has passed since the previous one; the chain keeper's batch size;
    # how often the keeper re-verifies the whole log for /readyz and /metrics (0: never).
    audit_checkpoint_every: int = Field(default=1000, ge=1)
    audit_checkpoint_seconds: float = Field(default=3600.0, gt=0)
    audit_batch_size: int = Field(default=1000, ge=1, le=100_000)
    audit_verify_seconds: float = Field(default=3600.0, ge=0)
    # 随手拍: photos are stored content-addressed (default ``<data_dir>/attachments``), each at most
    # this many bytes as uploaded.
    attachments_dir: Path | None = None
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    # ... and unpacks into at most this many pixels (a JPEG above it is decoded at 1/2, 1/4 or 1/8,
    # anything else refused); at most N photos are decoded at once, an upload waiting at most this
    # long for a decoder (then 503). A decode holds about two copies of its pixels, 4 bytes each.
    max_photo_pixels: int = Field(default=16_777_216, ge=10_000, le=200_000_000)
    photo_decoders: int = Field(default=2, ge=1, le=64)
    photo_decode_wait_seconds: float = Field(default=10.0, ge=0, le=300)
    # 离线采集: a device's capture time (occurred_at) may be at most this old when the call arrives.
    max_capture_age_days: int = Field(default=7, ge=0, le=3650)
    # 重复提示: open calls of the same item within this distance (or in the same grid), raised in
    # the last N days, are hinted as possible duplicates of a new call.
    duplicate_radius_m: float = Field(default=200.0, ge=0, le=100_000)
    duplicate_days: int = Field(default=7, ge=0, le=3650)
    # 不被拖垮 (api/limits.py, per server process): what one principal may have going at once —
    # requests running at once whatever the others do (more wait their turn for a shared slot,
    # up to the queue; beyond it 429), expensive reads
    # and waits for the read models (beyond them 429 at once); failed authentications per
    # client address per minute (beyond them 429 + Retry-After instead of 401).
    principal_concurrency: int = Field(default=4, ge=1, le=1000)
    # ... and beyond its own share a principal borrows from this many running slots shared by
    # all (a freed one goes to the waiting principal running the fewest): a lone hotline token
    # runs up to 4 + 28 at once; uvicorn's 40 worker threads leave room for others' own shares.
    shared_concurrency: int = Field(default=28, ge=0, le=10_000)
    principal_queue: int = Field(default=64, ge=0, le=100_000)
    principal_expensive_reads: int = Field(default=2, ge=1, le=1000)
    principal_waiters: int = Field(default=8, ge=1, le=10_000)
    auth_failures_per_minute: int = Field(default=30, ge=1, le=1_000_000)
    # Token lookups of one client address at once (more wait their turn, up to the queue).
    client_token_checks: int = Field(default=2, ge=1, le=1000)
    # Connections of `huying serve` (api/connection.py): idle before a request, a request head
    # complete, a request body complete (this long plus one second per N bytes) — else closed.
    keepalive_seconds: float = Field(default=5.0, gt=0, le=3600)
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=3600)
    body_timeout_seconds: float = Field(default=20.0, gt=0, le=3600)
    body_min_bytes_per_second: int = Field(default=10_000, ge=1, le=10**9)
    # `huying serve --workers N`: uvicorn's supervisor kills a worker that has not answered its
    # health check within this many seconds, and starts another. A worker answers only once its
    # new interpreter has imported huying: on a loaded machine that took longer than uvicorn's 5 s,
    # and starting workers were killed over and over (docs/operations.md).
    worker_healthcheck_seconds: int = Field(default=30, ge=1, le=3600)

    # Open311: a report located by lat/long goes to the nearest grid within this distance.
    open311_grid_radius_m: float = Field(default=1500.0, gt=0, le=100_000)
    # Webhooks: deliveries are a duty `huying serve` (and `huying project`) offer unless turned off here;
    # one process of the deployment delivers at a time (docs/operations.md).
    run_webhooks: bool = True
    # SSRF: subscriptions to loopback, link-local and private addresses are refused unless allowed.
    webhooks_allow_private_urls: bool = False
    # One delivery attempt may take this long in all (connect, send, answer).
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    # Retries back off exponentially: the first after this many seconds, each next 3× later, at most
    # webhook_retry_max_seconds apart; after this many failed attempts in a row a subscription pauses.
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0, le=86_400)
    webhook_retry_max_seconds: float = Field(default=6 * 3600.0, gt=0, le=7 * 86_400)
    webhook_pause_after_failures: int = Field(default=12, ge=1, le=1000)
    # Revocation takes effect immediately (design/targets.md). A live token is remembered while no
    # process of this data directory has revoked a token since (services/revocations.py), and this
    # many seconds at most: the bound on a revocation made where the data directory is not shared
    # (another host on the same PostgreSQL). 0: every request looks its token up.
    token_cache_seconds: float = Field(default=60.0, ge=0.0, le=60.0)

    @field_validator("score_weights", "assessment_weights")
    @classmethod
    def _weights_sum_to_one(cls, v: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        if any(w < 0 for w in v) or abs(sum(v) - 1) > 1e-9:
            name = info.field_name or ""
            raise ValueError(f"{name} ({_WEIGHED.get(name)}) must be non-negative and sum to 1")
        return v

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'huying.db'}"
        if not self.events_url:
            self.events_url = _sibling_url(self.database_url, "events")
        if not self.keys_url:
            self.keys_url = _sibling_url(self.database_url, "keys")
        if not self.contacts_url or self.on_postgres:  # PostgreSQL: always the main database
            self.contacts_url = _sibling_url(self.database_url, "contacts")
        return self

    @model_validator(mode="after")
    def _schema_is_for_postgres(self) -> Settings:
        if self.database_schema and not self.database_url.startswith("postgresql"):
            raise ValueError(
                "database_schema is for PostgreSQL; SQLite keeps each deployment in its data_dir"
            )
        return self

    @property
    def on_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @model_validator(mode="after")
    def _fill_attachments_dir(self) -> Settings:
        if self.attachments_dir is None:
            self.attachments_dir = self.data_dir / "attachments"
        return self

    @property
    def max_upload_bytes(self) -> int:
        """The whole multipart request of one upload: the file plus room for its envelope."""
        return self.max_attachment_bytes + 64 * 1024

    def ensure_safe(self) -> None:
        """Refuses settings that would be unsafe in production (demo mode allows them)."""
        if self.fake_clock and not self.demo:
            raise UnsafeSettings("HUYING_FAKE_CLOCK is for demos and tests: it needs HUYING_DEMO=1")
        self.resolved_secret_key()

    def resolved_secret_key(self) -> str:
        """The key that encrypts reporter contacts; demo mode keeps one in the data directory."""
        if self.secret_key:
            return self.secret_key
        if not self.demo:
            raise UnsafeSettings(
                "HUYING_SECRET_KEY is required outside demo mode (HUYING_DEMO=1): "
                "it encrypts reporters' contact details"
            )
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(32))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    def master_secrets(self) -> list[str]:
        """The key ring's secrets, newest first: HUYING_SECRET_KEY, then HUYING_OLD_SECRET_KEYS."""
        return [
            self.resolved_secret_key(),
            *(k.strip() for k in self.old_secret_keys.split(",") if k.strip()),
        ]

    def existing_secrets(self) -> list[str]:
        """The master secrets if they exist already: a read-only command creates no key file."""
        if self.secret_key or (self.demo and (self.data_dir / "secret.key").exists()):
            return self.master_secrets()
        return []

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's settings, built here and passed explicitly."""
        url = self.events_url
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(path),
                "SQLITE_LOCK_TIMEOUT": str(self.database_lock_timeout),
            }
        if url.startswith("postgresql"):
            from huying.postgres import eventsourcing_env

            return eventsourcing_env(self)
        raise UnsafeSettings(f"HUYING_EVENTS_URL: unsupported URL {url!r}")


def _sibling_url(database_url: str, kind: str) -> str:
    """SQLite: ``<name>.<kind>.db`` beside the database file; otherwise the same database."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.with_name(f'{path.stem}.{kind}.db')}"
    return database_url
