"""Where the benchmarks run: a backend (SQLite; PostgreSQL — the one ``HUYING_DATABASE_URL`` names,
or else the benchmarks' own cluster, kept in the cache and started for the run) and the stores on
it — an empty one, and a synthetic district of N calls made once by ``huying seed --synthetic``
and kept in a cache keyed by N and seed, so later runs reuse it.

Each run works on a copy of the cached district: P5 and P7 write thousands of calls into it, and
the next run must find the district it names. On SQLite a store is a data directory, copied. On
the benchmarks' own PostgreSQL cluster a cached district is a database of its own, and a run's
copy a database made from it as a template (a file copy), dropped at the run's end. On a
PostgreSQL given by ``HUYING_DATABASE_URL`` a store is a schema of that database, used in place
(a run there may not make databases): each run finds the calls the previous ones added, and the
report says how many calls the district held (``calls_at_start``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.servers import ROOT, clean_env

# The synthetic history ends here (a fixed instant, so a cached store is the same store); the
# servers' fake clock stands at this instant, so the district is "now" at the end of its history.
UNTIL = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
DAYS = 365


@dataclass(frozen=True)
class Backend:
    name: str
    url: str | None  # PostgreSQL's URL; None for SQLite
    copies: bool = False  # PostgreSQL: the benchmarks' own cluster, where a run copies its district

    def in_database(self, database: str) -> Backend:
        """The same PostgreSQL server, another of its databases."""
        from sqlalchemy.engine import make_url

        assert self.url is not None
        url = make_url(self.url).set(database=database).render_as_string(hide_password=False)
        return Backend(self.name, url, self.copies)

    @property
    def workers(self) -> int:
        """SQLite means one server process; PostgreSQL is measured with four (targets.md)."""
        return 1 if self.url is None else 4

    def env(self, data_dir: Path, schema: str) -> dict[str, str]:
        """A store's settings for ``huying`` processes."""
        env = {"HUYING_DATA_DIR": str(data_dir), "HUYING_DEMO": "1", "HUYING_FAKE_CLOCK": "1"}
        if self.url is not None:
            env |= {"HUYING_DATABASE_URL": self.url, "HUYING_DATABASE_SCHEMA": schema}
        return env

    def baseline_url(self, directory: Path) -> str:
        return self.url or f"sqlite:///{directory / 'baseline.db'}"


BACKENDS = ("sqlite", "postgresql")
CLUSTER_DIR = "postgresql-cluster"  # the benchmarks' own PostgreSQL, under the cache


@contextmanager
def backend_named(name: str, cache: Path, given_url: str | None) -> Iterator[Backend]:
    """SQLite; or PostgreSQL at ``given_url`` when there is one, else on the benchmarks' own
    durable cluster in ``cache``, started for the ``with`` block and shut down after it."""
    if name == "sqlite":
        yield Backend("sqlite", None)
        return
    if name != "postgresql":
        raise SystemExit(f"--backends: {name!r} is not one of {', '.join(BACKENDS)}")
    if given_url:
        yield backend_from(given_url)
        return
    from bench.postgres_cluster import Cluster

    cluster = Cluster.kept(cache / CLUSTER_DIR)
    try:
        yield Backend("postgresql", cluster.url(), copies=True)
    finally:
        cluster.stop()


def backend_from(url: str | None) -> Backend:
    if not url:
        return Backend("sqlite", None)
    if url.startswith("postgresql"):
        return Backend("postgresql", url)
    raise SystemExit(
        f"HUYING_DATABASE_URL: SQLite is the default; give a postgresql:// URL or nothing, not {url!r}"
    )


@dataclass(frozen=True)
class Store:
    name: str
    data_dir: Path
    schema: str
    backend: Backend
    calls: int  # synthetic calls it holds (0: empty)

    @property
    def env(self) -> dict[str, str]:
        return clean_env(**self.backend.env(self.data_dir, self.schema))

    def settings(self, **overrides: Any) -> Any:
        """huying's settings for this store. Where it lives is named here, never taken from this
        process's ``HUYING_DATABASE_URL`` and the like: a SQLite pass run with it set would
        otherwise make its tokens on that PostgreSQL."""
        from huying.settings import Settings

        places: dict[str, Any]
        if self.backend.url is None:
            files = {"database_url": "huying", "events_url": "huying.events", "keys_url": "huying.keys"}
            places = {key: f"sqlite:///{self.data_dir / name}.db" for key, name in files.items()}
            places["database_schema"] = ""
        else:
            places = dict.fromkeys(("database_url", "events_url", "keys_url"), self.backend.url)
            places["database_schema"] = self.schema
        values = {"data_dir": self.data_dir, "demo": True, "fake_clock": True} | places
        return Settings(**(values | overrides))

    def cli(self, *args: str, timeout: float = 7 * 86400) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "huying.cli", *args], env=self.env, cwd=ROOT, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"huying {' '.join(args)} failed with {done.returncode}")


def empty_store(backend: Backend, work: Path, label: str = "empty") -> Store:
    """A migrated store with nothing in it (``label``: P1's, or another, such as P7's own)."""
    store = Store(label, work / label, f"bench_{label}_{int(time.time())}", backend, 0)
    store.cli("migrate")
    return store


def _copied_to_disk(source: Path, target: Path) -> None:
    """The cached store copied, and on disk before it is measured. Left dirty in the page cache
    (gigabytes at a million calls), the copy is written back while the load runs, and the
    server's first commits wait behind it: a stall of about a second, at the start of the load,
    that no deployment has."""
    shutil.copytree(source, target)
    for path in target.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def synthetic_store(
    backend: Backend, cache: Path, work: Path, calls: int, seed: int
) -> tuple[Store, dict[str, Any]]:
    """The cached store of ``calls`` synthetic calls (made first if missing), and how it was made;
    a copy of it for this run (in place on a PostgreSQL given by its URL)."""
    key = f"{backend.name}-n{calls}-seed{seed}"
    name = f"bench_n{calls}_seed{seed}"  # its schema; on the own cluster its database too
    home = backend.in_database(name) if backend.copies else backend
    cached = Store(key, cache / key, name, home, calls)
    made = cached.data_dir / "store.json"
    if not made.exists() or not _cached_store_in_place(backend, name):
        shutil.rmtree(cached.data_dir, ignore_errors=True)
        _drop_cached(backend, name)
        if backend.copies:
            _autocommit(backend, f'CREATE DATABASE "{name}"')
        started = time.perf_counter()
        cached.cli(
            "seed",
            "--synthetic",
            str(calls),
            "--seed",
            str(seed),
            "--until",
            UNTIL.isoformat(),
            "--days",
            str(DAYS),
        )
        made.parent.mkdir(parents=True, exist_ok=True)
        made.write_text(
            json.dumps(
                {
                    "calls": calls,
                    "seed": seed,
                    "until": UNTIL.isoformat(),
                    "days": DAYS,
                    "seed_seconds": round(time.perf_counter() - started, 1),
                }
            )
        )
    info: dict[str, Any] = json.loads(made.read_text()) | {"cache": str(cached.data_dir)}
    upgraded = _brought_up_to_date(cached)
    if upgraded is not None:
        info["upgraded_seconds"] = upgraded
    copy_dir = work / key
    if backend.url is not None and not backend.copies:
        return cached, info | {"reused_in_place": True, "calls_at_start": _calls_in(cached)}
    started = time.perf_counter()
    _copied_to_disk(cached.data_dir, copy_dir)
    if backend.url is None:
        copy_seconds = round(time.perf_counter() - started, 1)
        return Store(key, copy_dir, cached.schema, backend, calls), info | {"copy_seconds": copy_seconds}
    copy = f"bench_run_{time.time_ns()}_n{calls}"
    _autocommit(backend, f'CREATE DATABASE "{copy}" TEMPLATE "{name}" STRATEGY FILE_COPY')
    copied = Store(key, copy_dir, name, backend.in_database(copy), calls)
    return copied, info | {"copied_to": copy, "copy_seconds": round(time.perf_counter() - started, 1)}


def _brought_up_to_date(store: Store) -> float | None:
    """A district cached by an older huying, migrated and its read models brought up to date
    once, in the cache (the seconds it took; None when it was up to date): else every run's copy
    would be, and measure an upgrade — its projector making again the rows the migration
    listed — where it means to measure the district."""
    from huying.migrate import SchemaNotReady, require_schema

    try:
        require_schema(store.settings())
        return None
    except SchemaNotReady as behind:
        print(f"[bench] the cached district is behind: {behind}; upgrading it", file=sys.stderr)
    started = time.perf_counter()
    store.cli("migrate")
    store.cli("project", "--once", "--no-chain")
    return round(time.perf_counter() - started, 1)


def _calls_in(store: Store) -> int:
    from sqlalchemy import text

    assert store.backend.url is not None
    with _postgres(store.backend) as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "{store.schema}".rm_calls')).scalar_one())


def _autocommit(backend: Backend, statement: str) -> None:
    """One statement outside a transaction (CREATE and DROP DATABASE), on the main database."""
    assert backend.url is not None
    from sqlalchemy import create_engine, text

    engine = create_engine(backend.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _drop_cached(backend: Backend, name: str) -> None:
    if backend.copies:
        _autocommit(backend, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        drop_schema(backend, name)


@contextmanager
def _postgres(backend: Backend) -> Iterator[Any]:
    """A connection to the backend's PostgreSQL database, in a transaction committed at the end."""
    assert backend.url is not None
    from sqlalchemy import create_engine

    engine = create_engine(backend.url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def _schemas(conn: Any) -> list[str]:
    from sqlalchemy import text

    return [n for (n,) in conn.execute(text("SELECT nspname FROM pg_namespace"))]


def _cached_store_in_place(backend: Backend, name: str) -> bool:
    """Whether the cached district's store is still there: on PostgreSQL, its database (the own
    cluster) or schema (a cluster made anew has none; one a seed left half-made is dropped); on
    SQLite the data directory is the store."""
    if backend.url is None:
        return True
    with _postgres(backend) as conn:
        return name in (_databases(conn) if backend.copies else _schemas(conn))


def _databases(conn: Any) -> list[str]:
    from sqlalchemy import text

    return [n for (n,) in conn.execute(text("SELECT datname FROM pg_database"))]


def drop_schema(backend: Backend, schema: str) -> None:
    """Drop one schema and everything in it (on SQLite, nothing to do: a store is its directory)."""
    if backend.url is not None:
        from sqlalchemy import text

        with _postgres(backend) as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


# Schemas a run makes and needs no more once it is done: P1's empty store, P2's runs, P3's two
# logs — each named with the time it was made. The synthetic district's (``bench_n…_seed…``) is
# the cache: kept.
RUN_SCHEMAS = re.compile(r"bench_(?:empty(?:_p7)?|p[23]_\w+?)_(\d+)")


def made_by_run(schema: str, since: float) -> bool:
    """Whether a schema is one a run started at ``since`` (epoch seconds) made and may drop."""
    made = RUN_SCHEMAS.fullmatch(schema)
    return made is not None and int(made[1]) >= int(since)


RUN_DATABASES = re.compile(r"bench_run_(\d+)_n\d+")  # a run's copies of the district (nanoseconds)


def drop_run_schemas(backend: Backend, since: float) -> list[str]:
    """Drop the schemas and the district's copies this run made (named at or after ``since``,
    epoch seconds); their names."""
    if backend.url is None:
        return []
    from sqlalchemy import text

    with _postgres(backend) as conn:
        made = [n for n in _schemas(conn) if made_by_run(n, since)]
        for name in made:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        copies = [
            n for n in _databases(conn) if (m := RUN_DATABASES.fullmatch(n)) and int(m[1]) >= since * 1e9
        ]
    for name in copies:
        _autocommit(backend, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return made + copies


@contextmanager
def tokens(store: Store) -> Iterator[dict[str, str]]:
    """Bearer tokens of several roles on the store: "role unit" → token."""
    from huying.bootstrap import build_services
    from huying.demo import demo_principals

    services = build_services(store.settings())
    try:
        made = {}
        for principal in demo_principals(services.app.org):
            _, made[f"{principal.role} {principal.unit}"] = services.tokens.create(principal, "bench")
        yield made
    finally:
        services.close()
